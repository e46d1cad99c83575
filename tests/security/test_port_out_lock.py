"""The port-out lock (SPEC §4, fraud protection): the owner's own choice, switched in the portal with their password."""

import pytest
from django.core import mail

from accounts import services as provisioning
from accounts.models import AccountEvent
from tests.factories import PASSWORD, PIN
from tickets.models import Ticket, VerificationAttempt

pytestmark = pytest.mark.django_db


def _lock_url(account) -> str:
    return f"/a/{account.account_id}/port-out-lock/"


def _port_out(people, number) -> dict:
    return {
        "kind": "port_out",
        "account": people.account.pk,
        "numbers": [number.pk],
        "gaining_carrier": "Telnyx",
        "authorized_name": people.owner.full_name,
        "pin": PIN,
    }


def test_with_the_lock_on_every_port_out_request_is_refused(cast, client, client_for):
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+14155550191")
    client.force_login(people.owner)
    assert "Port-out lock: off" in client.get(f"/a/{people.account.account_id}/").content.decode()
    switched = client.post(_lock_url(people.account), {"password": PASSWORD, "locked": "on"})
    assert switched.status_code == 302
    people.account.refresh_from_db()
    assert people.account.port_out_locked is True
    assert AccountEvent.objects.get(account=people.account).kind == "port_out_lock_on"
    # Customer, portal and staff alike: refused at submission with the lock's own code, not a K10 denial.
    assert (
        client_for(people.owner).post("/api/v1/tickets/", _port_out(people, number), format="json").json()["code"]
        == "port_out_locked"
    )
    staff = client_for(people.agent).post(
        "/api/v1/tickets/",
        {**_port_out(people, number), "requester": people.owner.pk, "channel": "phone"},
        format="json",
    )
    assert staff.status_code == 400 and staff.json()["code"] == "port_out_locked"
    form = {"numbers": [number.pk], "gaining_carrier": "T", "authorized_name": "Owner", "pin": PIN}
    form.update(full_name="Owner", company="Acme", contact="owner@example.test")
    page = client.post(f"/a/{people.account.account_id}/request/port_out/", form)
    assert "port-out lock" in page.content.decode() and not Ticket.objects.exists()
    number.refresh_from_db()
    assert number.status == "active"


def test_switching_the_lock_off_needs_the_password_and_is_logged_and_emailed(
    cast, client, client_for, tasks_in_process, django_capture_on_commit_callbacks
):
    people = cast("kixie")
    people.account.port_out_locked = True
    people.account.save(update_fields=["port_out_locked"])
    client.force_login(people.owner)
    wrong = client.post(_lock_url(people.account), {"password": "not-my-password", "locked": "off"})
    assert wrong.status_code == 400 and "not your password" in wrong.content.decode()
    people.account.refresh_from_db()
    assert people.account.port_out_locked is True
    # A wrong password counts toward the lockout like a wrong PIN.
    assert VerificationAttempt.objects.filter(account=people.account, method="password").count() == 1
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(_lock_url(people.account), {"password": PASSWORD, "locked": "off"}).status_code == 302
    people.account.refresh_from_db()
    assert people.account.port_out_locked is False
    event = AccountEvent.objects.get(account=people.account)
    assert (event.kind, event.actor) == ("port_out_lock_off", people.owner)
    [message] = [m for m in mail.outbox if "port-out lock" in m.subject]
    assert message.to == [people.owner.email, people.billing_admin.email]
    assert people.account.account_id in message.subject
    number = provisioning.add_number(account=people.account, number="+14155550192")
    assert (
        client_for(people.owner).post("/api/v1/tickets/", _port_out(people, number), format="json").status_code == 201
    )


def test_only_the_owner_switches_the_lock(cast, client):
    people = cast("kixie")
    for user in (people.super_admin, people.billing_admin):
        client.force_login(user)
        assert client.post(_lock_url(people.account), {"password": PASSWORD, "locked": "on"}).status_code == 403
    client.force_login(people.outsider)
    assert client.get(_lock_url(people.account)).status_code == 404
    people.account.refresh_from_db()
    assert people.account.port_out_locked is False


def test_the_policy_says_whether_the_lock_is_offered(cast, client):
    people = cast("kixie")
    people.policy.port_out_lock_offered = False
    people.policy.save(update_fields=["port_out_lock_offered"])
    client.force_login(people.owner)
    assert "Port-out lock" not in client.get(f"/a/{people.account.account_id}/").content.decode()
    assert "does not offer a port-out lock" in client.get(_lock_url(people.account)).content.decode()
    refused = client.post(_lock_url(people.account), {"password": PASSWORD, "locked": "on"})
    assert refused.status_code == 400 and "does not offer" in refused.content.decode()
    people.account.refresh_from_db()
    assert people.account.port_out_locked is False


def test_under_a_verification_lockout_the_owner_switches_the_lock_on_at_once(
    cast, client, client_for, tasks_in_process, django_capture_on_commit_callbacks
):
    # issue 15: the lockout email warns the owner that someone may be after their numbers; switching the lock on
    # then must not be refused as `verification_locked` (nor ask a password whose check the lockout no longer limits).
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+14155550193")
    guesser = client_for(people.billing_admin)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for pin in ("0000", "0001", "0002", "0003", "0004"):
            made = guesser.post("/api/v1/tickets/", {**_port_out(people, number), "pin": pin}, format="json")
            assert made.status_code == 201
            guesser.post(f"/api/v1/tickets/{made.json()['id']}/transitions/", {"name": "withdraw"}, format="json")
    [warning] = [m for m in mail.outbox if "Verification locked" in m.subject]
    lock_url = _lock_url(people.account)
    assert warning.to == [people.owner.email] and lock_url in warning.body
    client.force_login(people.owner)
    page = client.get(lock_url).content.decode()
    assert "no password is asked" in page and 'name="password"' not in page
    assert client.post(lock_url, {"locked": "on"}).status_code == 302
    people.account.refresh_from_db()
    assert people.account.port_out_locked is True
    assert AccountEvent.objects.filter(account=people.account, kind="port_out_lock_on", actor=people.owner).exists()
    # Switching it off still needs the password, and is still refused while verification is locked.
    page = client.get(lock_url).content.decode()
    assert 'name="password"' in page
    refused = client.post(lock_url, {"password": PASSWORD, "locked": "off"})
    assert refused.status_code == 400 and "Verification is locked" in refused.content.decode()
    people.account.refresh_from_db()
    assert people.account.port_out_locked is True
