"""SPEC §4, "Account lifecycle": the account governs its tickets (issue 23, "Open cases outlive their account").

A ticket of an account that is not active takes no transition, whoever runs it; completing an account cancellation
closes every other open case as the system, logged, and the confirmation lists them; nobody deactivated hears about
them after that."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.exceptions import Refusal
from accounts.models import Account
from billing.models import Plan
from numbers.models import PhoneNumber
from tests.factories import PIN, TicketFactory, move_account
from tickets.jobs import approve_overdue_port_outs, warn_sla_at_risk
from tickets.models import Kind, LogChannel, State
from tickets.services import transition_ticket

from .test_completion_effects import cancel_kixie, cancel_kustomer, kixie_desk

pytestmark = pytest.mark.django_db

INFO = {"full_name": "Bea Billing", "company": "Acme", "contact": "bea@acme.test"}


def port_out(desk, submit, line):
    return submit(
        desk, Kind.PORT_OUT, numbers=[line], gaining_carrier="Telnyx", authorized_name=desk.owner.full_name, pin=PIN
    )


def kixie_with_open_cases(cast, submit, number):
    """The demo's Kixie situation: a port-out waiting for staff and a downgrade approved, then the cancellation."""
    desk = kixie_desk(cast)
    desk.line = number(desk.account)
    desk.port_out = port_out(desk, submit, desk.line)
    lower = Plan.objects.get(policy__preset="kixie", rank=1)
    downgrade = submit(desk, Kind.DOWNGRADE, plan=lower)
    for name, actor in (("verify", desk.agent), ("approve", desk.manager)):
        if downgrade.state != State.APPROVED:
            downgrade = transition_ticket(ticket=downgrade, name=name, actor=actor)
    desk.downgrade = downgrade
    return desk


def refused(name, ticket, actor, **evidence) -> Refusal:
    with pytest.raises(Refusal) as caught:
        transition_ticket(ticket=ticket, name=name, actor=actor, **evidence)
    return caught.value


def test_a_kixie_cancellation_closes_the_open_port_out_and_downgrade_for_good(cast, submit, number, in_business_hours):
    # rule K8: on cancellation every number is released and the account is gone; its open cases close with it
    desk = kixie_with_open_cases(cast, submit, number)
    cancel_kixie(desk, submit)
    for ticket in (desk.port_out, desk.downgrade):
        ticket.refresh_from_db()
        assert ticket.state == State.REJECTED
        closing = ticket.log.latest("pk")
        assert closing.transition == "reject" and closing.actor is None and closing.channel == LogChannel.SYSTEM
        assert closing.note == "Closed: the account was cancelled on 23 November 2026."
    # What the issue saw done after the cancellation: the port-out verified, approved, completed; the downgrade done.
    for name, actor in (("verify", desk.agent), ("approve", desk.manager), ("complete", desk.agent)):
        assert refused(name, desk.port_out, actor).code in {"invalid_state", "account_not_active"}
    assert refused("complete", desk.downgrade, desk.agent).code in {"invalid_state", "account_not_active"}
    desk.line.refresh_from_db()
    assert desk.line.status == PhoneNumber.Status.RELEASED
    desk.account.refresh_from_db()
    assert desk.account.plan.rank == 2  # still Power Dialer: a cancelled account's plan does not change


def test_the_port_out_deadline_job_approves_nothing_on_a_cancelled_account(cast, submit, number, in_business_hours):
    # rule K8 (and SPEC §4's deadline): carriers' automatic approval does not revive a cancelled account's port-out
    desk = kixie_with_open_cases(cast, submit, number)
    cancel_kixie(desk, submit)
    assert approve_overdue_port_outs(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)) == []
    desk.port_out.refresh_from_db()
    assert desk.port_out.state == State.REJECTED and desk.port_out.foc_date is None


def test_an_open_case_of_an_account_cancelled_before_the_settling_takes_no_transition(
    cast, submit, number, in_business_hours
):
    # rule K8, U5: an account cancelled without its cases closed (as before this rule) moves none of them, staff or
    # job; the refusal names the day of the cancellation
    desk = kixie_with_open_cases(cast, submit, number)
    move_account(desk.account, "cancel")
    refusal = refused("verify", desk.port_out, desk.agent)
    assert refusal.code == "account_not_active" and refusal.http_status == 409
    assert "cancelled on 23 November 2026" in refusal.detail
    assert refused("complete", desk.downgrade, desk.agent).code == "account_not_active"
    assert refused("withdraw", desk.port_out, desk.owner).code in {"account_not_active", "role_not_allowed"}
    assert approve_overdue_port_outs(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)) == []
    desk.port_out.refresh_from_db()
    desk.downgrade.refresh_from_db()
    assert (desk.port_out.state, desk.downgrade.state) == (State.SUBMITTED, State.APPROVED)
    assert Account.objects.get(pk=desk.account.pk).plan.rank == 2


def test_a_reactivation_still_moves_on_a_cancelled_account(cast, submit, in_business_hours):
    # rule U7: the one kind a cancelled account's tickets take transitions for
    desk = cast("kustomer")
    cancel_kustomer(desk, submit)
    back = submit(desk, Kind.REACTIVATION, channel="email", actor=desk.agent)
    for name, actor in (("verify", desk.agent), ("approve", desk.manager), ("complete", desk.agent)):
        back = transition_ticket(ticket=back, name=name, actor=actor)
    assert back.state == State.COMPLETED
    assert Account.objects.get(pk=desk.account.pk).status == Account.Status.ACTIVE


def test_a_kustomer_cancellation_closes_the_number_cancellation_and_the_confirmation_lists_it(
    cast, submit, number, in_business_hours, django_capture_on_commit_callbacks
):
    # rule U5: access is removed at once and messages stop; rule U10: the confirmation says what was closed
    desk = cast("kustomer")
    line = number(desk.account)
    asked = submit(desk, Kind.NUMBER_CANCELLATION, requester=desk.billing_admin, numbers=[line], **INFO)
    assert asked.state == State.SUBMITTED
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        cancel_kustomer(desk, submit)
    asked.refresh_from_db()
    assert asked.state == State.REJECTED
    assert asked.log.latest("pk").note.startswith("Closed: the account was cancelled on ")
    # Staff going on with it, as the issue saw, is refused and tells nobody.
    for name, actor in (("verify", desk.agent), ("approve", desk.manager), ("complete", desk.agent)):
        with django_capture_on_commit_callbacks(execute=True):
            try:
                transition_ticket(ticket=asked, name=name, actor=actor)
            except Refusal as refusal:
                assert refusal.code in {"invalid_state", "account_not_active"}
    asked.refresh_from_db()
    assert asked.state == State.REJECTED
    desk.billing_admin.refresh_from_db()
    assert not desk.billing_admin.is_active
    assert [m.subject for m in mail.outbox if desk.billing_admin.email in m.to] == []
    confirmations = [m for m in mail.outbox if "cancelled" in m.subject.lower() and desk.owner.email in m.to]
    assert len(confirmations) == 1
    body = confirmations[0].body
    assert f"#{asked.pk} Number cancellation: {line.number}" in body
    assert "other open requests were closed" in body


def test_a_cancellation_with_nothing_else_open_lists_nothing(
    cast, submit, in_business_hours, django_capture_on_commit_callbacks
):
    # rule U10: the confirmation names closed cases only when there were some
    desk = cast("kustomer")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        cancel_kustomer(desk, submit)
    confirmation = next(m for m in mail.outbox if "cancelled" in m.subject.lower())
    assert "were closed" not in confirmation.body


def test_the_settling_closes_a_port_out_without_an_allowed_code_and_emails_no_one_per_case(
    cast, submit, number, in_business_hours, django_capture_on_commit_callbacks
):
    # rule U5, K8: the open port-out and number cancellation close with one confirmation, no "rejected" email each
    desk = cast("kustomer")
    line = number(desk.account, "+12025550188")
    open_cases = [port_out(desk, submit, line)]
    open_cases.append(submit(desk, Kind.NUMBER_CANCELLATION, numbers=[number(desk.account, "+12025550189")], **INFO))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        cancel_kustomer(desk, submit)
    for ticket in open_cases:
        ticket.refresh_from_db()
        assert ticket.state == State.REJECTED and ticket.rejection_code == "account_cancelled"
    assert mail.outbox and not [m for m in mail.outbox if "rejected" in (m.subject + m.body).lower()]
    assert PhoneNumber.objects.get(pk=line.pk).status == PhoneNumber.Status.RELEASED


def test_the_admin_refuses_a_closed_accounts_case_with_the_cancellation_date(
    client, cast, submit, number, in_business_hours
):
    # rule K8: the agents' desk meets the same guard as every caller (account_not_active, the day it was cancelled)
    desk = kixie_with_open_cases(cast, submit, number)
    move_account(desk.account, "cancel")
    client.force_login(desk.agent)
    page = client.post(
        reverse("admin:tickets_ticket_transition", args=[desk.port_out.pk, "verify"]), {}, follow=True
    ).content.decode()
    assert "[account_not_active]" in page and "cancelled on 23 November 2026" in page
    desk.port_out.refresh_from_db()
    assert desk.port_out.state == State.SUBMITTED


def test_no_sla_warning_urges_staff_to_work_a_closed_accounts_case(cast):
    # rule K8: a case its cancelled account no longer lets move is not "at risk"; an active account's still is
    desk, active = cast("kixie"), cast("kixie")
    monday_9am = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)  # 09:00 Pacific, inside Kixie's hours (K6)
    left_open, running = (
        TicketFactory(account=d.account, kind=Kind.PORT_OUT, requester=d.owner, assignee=d.agent, created_at=monday_9am)
        for d in (desk, active)
    )
    move_account(desk.account, "cancel")
    with time_machine.travel(monday_9am + dt.timedelta(minutes=95), tick=False):
        assert warn_sla_at_risk() == [running.pk]
    left_open.refresh_from_db()
    assert left_open.sla_warned_at is None
