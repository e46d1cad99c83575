"""Port-out fraud protection (SPEC §4, issue 15): authorization, the verification lockout, what customers learn."""

import datetime as dt

import pytest
import time_machine
from django.core import mail

from accounts import services as provisioning
from tests.factories import PIN
from tickets import jobs
from tickets.models import Kind, Ticket, VerificationAttempt
from tickets.services import Request, submit_ticket, transition_ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def _port_out_body(people, number, **authorization) -> dict:
    return {
        "kind": "port_out",
        "account": people.account.pk,
        "numbers": [number.pk],
        "gaining_carrier": "Evil Mobile",
        "authorized_name": people.owner.full_name,
        **authorization,
    }


def test_guessing_the_pin_stops_at_the_fifth_failure_and_never_says_which_check_failed(
    cast, client_for, tasks_in_process, django_capture_on_commit_callbacks
):
    # SPEC §4 fraud protection: the run, a billing admin trying PINs 0000, 0001, ... through the API
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+14155550160")
    attacker = client_for(people.billing_admin)
    mail.outbox.clear()
    bodies = []
    with django_capture_on_commit_callbacks(execute=True):
        for guess in range(5):
            created = attacker.post(TICKETS, _port_out_body(people, number, pin=f"{guess:04d}"), format="json")
            assert created.status_code == 201, created.json()
            bodies.append(created.json())
            # The attacker withdraws each try to free the number for the next one.
            withdrawn = attacker.post(
                f"{TICKETS}{created.json()['id']}/transitions/", {"name": "withdraw"}, format="json"
            )
            assert withdrawn.status_code == 200
        # The sixth try, even with the right PIN, is refused: port-outs are locked for the account.
        locked = attacker.post(TICKETS, _port_out_body(people, number, pin=PIN), format="json")
    assert locked.status_code == 400 and locked.json()["code"] == "verification_locked"
    assert VerificationAttempt.objects.filter(account=people.account, succeeded=False).count() == 5
    # No response told a right guess from a wrong one: no check results, nothing naming the PIN or the name.
    for body in bodies:
        assert body["checks"] is None and body["state"] == "submitted"
        assert "pin" not in str(body).lower().replace("pinned", "")
    assert "pin" not in locked.json()["detail"].lower()
    # The owner (only) is told of the lock, once.
    lock_mails = [m for m in mail.outbox if "Verification locked" in m.subject]
    assert [m.to for m in lock_mails] == [[people.owner.email]]
    # Staff still see which check failed.
    staff_view = client_for(people.agent).get(f"{TICKETS}{bodies[0]['id']}/").json()
    assert staff_view["checks"] == {"pin": False, "name": True, "numbers_on_account": True}


def test_a_wrong_name_counts_toward_the_lock_too(cast):
    people = cast("kixie")
    for n in range(5):
        number = provisioning.add_number(account=people.account, number=f"+1415555017{n}")
        submit_ticket(
            account=people.account,
            kind=Kind.PORT_OUT,
            requester=people.owner,
            request=Request(numbers=[number], gaining_carrier="Telnyx", authorized_name="Mallory", pin=PIN),
        )
    methods = set(VerificationAttempt.objects.filter(account=people.account).values_list("method", flat=True))
    assert methods == {"port_out:name"}
    spare = provisioning.add_number(account=people.account, number="+14155550179")
    with pytest.raises(Exception) as refused:
        submit_ticket(
            account=people.account,
            kind=Kind.PORT_OUT,
            requester=people.owner,
            request=Request(numbers=[spare], gaining_carrier="T", authorized_name=people.owner.full_name, pin=PIN),
        )
    assert getattr(refused.value, "code", None) == "verification_locked"


def test_an_account_without_a_pin_ports_out_with_its_account_number(cast, client_for):
    # SPEC §4: an account without a PIN is authorized by its account number and name, never stuck (K10)
    people = cast("kixie")
    people.account.set_port_out_pin(None)
    people.account.save(update_fields=["port_out_pin"])
    number = provisioning.add_number(account=people.account, number="+14155550161")
    owner = client_for(people.owner)
    created = owner.post(
        TICKETS, _port_out_body(people, number, account_number=people.account.account_id.lower()), format="json"
    )
    assert created.status_code == 201, created.json()
    url = f"{TICKETS}{created.json()['id']}/transitions/"
    assert client_for(people.agent).post(url, {"name": "verify"}, format="json").status_code == 200
    assert client_for(people.manager).post(url, {"name": "approve"}, format="json").status_code == 200
    completed = client_for(people.agent).post(url, {"name": "complete"}, format="json")
    assert completed.status_code == 200 and completed.json()["state"] == "completed"
    number.refresh_from_db()
    assert number.status == "ported_out"
    # A wrong account number is a failed check, counted like a wrong PIN.
    other = provisioning.add_number(account=people.account, number="+14155550162")
    wrong = owner.post(TICKETS, _port_out_body(people, other, account_number="AC-00000000"), format="json")
    staff_view = client_for(people.agent).get(f"{TICKETS}{wrong.json()['id']}/").json()
    assert staff_view["checks"]["account_number"] is False
    assert VerificationAttempt.objects.filter(account=people.account, method="port_out:account_number").count() == 1


MONDAY_9AM = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8)))


def _untouched_port_out(people, number: str, **request):
    with time_machine.travel(MONDAY_9AM, tick=False):
        line = provisioning.add_number(account=people.account, number=number)
        return submit_ticket(
            account=people.account,
            kind=Kind.PORT_OUT,
            requester=people.owner,
            request=Request(numbers=[line], gaining_carrier="Telnyx", **request),
        )


def test_the_deadline_job_approves_only_port_outs_whose_checks_all_passed(cast):
    people = cast("kixie")
    good = _untouched_port_out(people, "+14155550163", authorized_name=people.owner.full_name, pin=PIN)
    bad_name = _untouched_port_out(people, "+14155550164", authorized_name="Mallory", pin=PIN)
    with time_machine.travel(MONDAY_9AM + dt.timedelta(days=7), tick=False):
        assert jobs.approve_overdue_port_outs() == [good.pk]
    bad_name.refresh_from_db()
    assert bad_name.state == "submitted"


def test_the_deadline_job_approves_nothing_on_a_locked_account(cast):
    people = cast("kixie")
    good = _untouched_port_out(people, "+14155550165", authorized_name=people.owner.full_name, pin=PIN)
    later = MONDAY_9AM + dt.timedelta(days=7)
    with time_machine.travel(later - dt.timedelta(minutes=10), tick=False):
        for _ in range(5):
            VerificationAttempt.objects.create(account=people.account, method="port_out:pin", succeeded=False)
    with time_machine.travel(later, tick=False):
        assert jobs.approve_overdue_port_outs() == []
        with pytest.raises(Exception) as refused:
            transition_ticket(ticket=good, name="verify", actor=None)
        assert getattr(refused.value, "code", None) == "verification_locked"
    # An hour later the lock has passed and the clock approves it.
    with time_machine.travel(later + dt.timedelta(hours=2), tick=False):
        assert jobs.approve_overdue_port_outs() == [good.pk]


def test_the_portal_asks_a_pin_less_account_for_its_account_number(cast, client):
    people = cast("kixie")
    people.account.set_port_out_pin(None)
    people.account.save(update_fields=["port_out_pin"])
    number = provisioning.add_number(account=people.account, number="+14155550166")
    client.force_login(people.owner)
    url = f"/a/{people.account.account_id}/request/port_out/"
    assert "Account number" in client.get(url).content.decode()
    form = {"numbers": [number.pk], "gaining_carrier": "Telnyx", "authorized_name": people.owner.full_name}
    form.update(pin=people.account.account_id, full_name="Owner", company="Acme", contact="owner@example.test")
    assert client.post(url, form).status_code == 302
    ticket = Ticket.objects.get(numbers=number)
    assert ticket.checks == {"account_number": True, "name": True, "numbers_on_account": True}
    assert not VerificationAttempt.objects.filter(account=people.account).exists()


def test_a_self_service_port_out_with_a_wrong_pin_waits_for_staff_and_counts(cast):
    people = cast("kixie")
    people.policy.kind_routes = {**people.policy.kind_routes, "port_out": "self_service"}
    people.policy.save(update_fields=["kind_routes"])
    wrong, right = (provisioning.add_number(account=people.account, number=n) for n in ("+14155550167", "+14155550168"))
    request = {"gaining_carrier": "Telnyx", "authorized_name": people.owner.full_name}
    failed = submit_ticket(
        account=people.account,
        kind=Kind.PORT_OUT,
        requester=people.owner,
        request=Request(numbers=[wrong], pin="0000", **request),
    )
    assert failed.state == "submitted"
    assert VerificationAttempt.objects.filter(account=people.account, method="port_out:pin").count() == 1
    passed = submit_ticket(
        account=people.account,
        kind=Kind.PORT_OUT,
        requester=people.owner,
        request=Request(numbers=[right], pin=PIN, **request),
    )
    assert passed.state == "completed"
