"""The periodic ticket jobs in-process: the port-out deadline (business hours) and SLA warnings, and email retries."""

import datetime as dt
import smtplib
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from accounts import services as provisioning
from tests.factories import PIN, TicketFactory
from tickets import jobs
from tickets.models import Kind, LogChannel, Ticket
from tickets.services import Request, submit_ticket, transition_ticket

pytestmark = pytest.mark.django_db

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
# Monday 2 March 2026, 09:00 Pacific: inside Kixie's intake hours (Monday–Friday 06:00–17:00 Pacific, K6).
MONDAY_9AM = dt.datetime(2026, 3, 2, 9, 0, tzinfo=PACIFIC)


class FlakySMTPBackend(EmailBackend):
    """An SMTP server that drops the connection `failures` times, then accepts (a locmem outbox)."""

    failures = 0

    def send_messages(self, messages):
        if FlakySMTPBackend.failures > 0:
            FlakySMTPBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


def verified_port_out(desk, at: dt.datetime) -> Ticket:
    """A port-out the owner submits and an agent verifies at `at`."""
    line = provisioning.add_number(account=desk.account, number="+12025550188")
    with time_machine.travel(at, tick=False):
        ticket = submit_ticket(
            account=desk.account,
            kind=Kind.PORT_OUT,
            requester=desk.owner,
            request=Request(numbers=[line], gaining_carrier="Telnyx", authorized_name=desk.owner.full_name, pin=PIN),
        )
        transition_ticket(ticket=ticket, name="verify", actor=desk.agent)
    return ticket


def test_port_out_unanswered_past_the_deadline_is_approved_by_the_system(cast):
    # SPEC §4: carriers auto-authorize; the deadline counts business hours of the intake calendar (K6, K11)
    desk = cast("kixie")
    hours = desk.policy.port_out_deadline_hours
    assert hours == 16
    ticket = verified_port_out(desk, MONDAY_9AM)
    # 16 business hours from Monday 09:00: Monday 09–17 is 8, Tuesday 06–14 is 8 → Tuesday 14:00 Pacific.
    deadline = dt.datetime(2026, 3, 3, 14, 0, tzinfo=PACIFIC)
    with time_machine.travel(deadline - dt.timedelta(minutes=1), tick=False):
        assert jobs.approve_overdue_port_outs() == []
    ticket.refresh_from_db()
    assert ticket.state == "verified"
    with time_machine.travel(deadline + dt.timedelta(minutes=1), tick=False):
        assert jobs.approve_overdue_port_outs() == [ticket.pk]
        assert jobs.approve_overdue_port_outs() == []  # the next run finds nothing to do
    ticket.refresh_from_db()
    assert ticket.state == "approved" and ticket.approved_by is None
    assert ticket.foc_date == dt.date(2026, 3, 4)  # the next business day
    row = ticket.log.get(transition="approve")
    assert (row.actor, row.actor_label, row.channel) == (None, "system", LogChannel.SYSTEM)
    assert "no answer within 16 business hours" in row.note


def submitted_port_out(desk, at: dt.datetime, *, pin: str = PIN) -> Ticket:
    """A port-out the owner submits at `at`, which no member of staff then touches."""
    line = provisioning.add_number(account=desk.account, number="+12025550189")
    with time_machine.travel(at, tick=False):
        return submit_ticket(
            account=desk.account,
            kind=Kind.PORT_OUT,
            requester=desk.owner,
            request=Request(numbers=[line], gaining_carrier="Telnyx", authorized_name=desk.owner.full_name, pin=pin),
        )


def test_an_untouched_port_out_that_matched_the_account_is_verified_and_approved_by_the_system(cast):
    # SPEC §4: staff never answered; the PIN and name matched at submission, so the system may verify it
    desk = cast("kixie")
    ticket = submitted_port_out(desk, MONDAY_9AM)
    deadline = dt.datetime(2026, 3, 3, 14, 0, tzinfo=PACIFIC)  # 16 business hours after submission
    with time_machine.travel(deadline - dt.timedelta(minutes=1), tick=False):
        assert jobs.approve_overdue_port_outs() == []
    with time_machine.travel(deadline + dt.timedelta(minutes=1), tick=False):
        assert jobs.approve_overdue_port_outs() == [ticket.pk]
    ticket.refresh_from_db()
    assert ticket.state == "approved" and ticket.foc_date == dt.date(2026, 3, 4)
    steps = list(ticket.log.values_list("transition", "actor_label", "channel"))
    assert steps == [
        ("submit", desk.owner.email, "web"),
        ("verify", "system", LogChannel.SYSTEM),
        ("approve", "system", LogChannel.SYSTEM),
    ]


def test_an_untouched_port_out_with_a_wrong_pin_waits_for_staff(cast):
    desk = cast("kixie")
    ticket = submitted_port_out(desk, MONDAY_9AM, pin="0000")
    with time_machine.travel(MONDAY_9AM + dt.timedelta(days=14), tick=False):
        assert jobs.approve_overdue_port_outs() == []
    ticket.refresh_from_db()
    assert ticket.state == "submitted"


def test_port_out_deadline_does_not_count_nights_and_weekends(cast):
    desk = cast("kixie")
    # Verified Friday 16:00 Pacific: 1 hour on Friday, then Monday 06:00 + 15 h spans into Tuesday 10:00.
    ticket = verified_port_out(desk, dt.datetime(2026, 3, 6, 16, 0, tzinfo=PACIFIC))
    with time_machine.travel(dt.datetime(2026, 3, 9, 16, 59, tzinfo=PACIFIC), tick=False):
        assert jobs.approve_overdue_port_outs() == []
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, 1, tzinfo=PACIFIC), tick=False):
        assert jobs.approve_overdue_port_outs() == [ticket.pk]


def test_port_out_awaiting_manager_review_is_never_approved_by_the_clock(cast):
    # rule K10: with payments outstanding under the deny rule, a manager decides
    desk = cast("kixie")
    provisioning.add_invoice(account=desk.account, amount="40", due_date=dt.date(2026, 1, 1))
    ticket = verified_port_out(desk, MONDAY_9AM)
    assert ticket.needs_manager_review is True
    with time_machine.travel(MONDAY_9AM + dt.timedelta(days=7), tick=False):
        assert jobs.approve_overdue_port_outs() == []
        with pytest.raises(Exception) as refused:
            transition_ticket(ticket=ticket, name="approve", actor=None, channel=LogChannel.SYSTEM)
        assert getattr(refused.value, "code", None) == "outstanding_balance"
    ticket.refresh_from_db()
    assert ticket.state == "verified"


def test_a_port_out_answered_before_the_deadline_is_left_alone(cast):
    desk = cast("kixie")
    ticket = verified_port_out(desk, MONDAY_9AM)
    with time_machine.travel(MONDAY_9AM + dt.timedelta(hours=1), tick=False):
        transition_ticket(ticket=ticket, name="reject", actor=desk.agent, reason="PIN mismatch", code="invalid_pin")
    with time_machine.travel(MONDAY_9AM + dt.timedelta(days=7), tick=False):
        assert jobs.approve_overdue_port_outs() == []
    ticket.refresh_from_db()
    assert ticket.state == "rejected"


def test_sla_warning_goes_to_the_assignee_once(cast, eager_tasks, django_capture_on_commit_callbacks):
    desk = cast("kixie")
    # Port-outs: first response within 2 business hours; a warning once 75 % (1.5 h) is used.
    ticket = TicketFactory(
        account=desk.account, kind=Kind.PORT_OUT, requester=desk.owner, assignee=desk.agent, created_at=MONDAY_9AM
    )
    unassigned = TicketFactory(account=desk.account, kind=Kind.PORT_OUT, requester=desk.owner, created_at=MONDAY_9AM)
    with time_machine.travel(MONDAY_9AM + dt.timedelta(minutes=80), tick=False):
        assert jobs.warn_sla_at_risk() == []
    with time_machine.travel(MONDAY_9AM + dt.timedelta(minutes=95), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert jobs.warn_sla_at_risk() == [ticket.pk]
            assert jobs.warn_sla_at_risk() == []
    assert [m.to for m in mail.outbox] == [[desk.agent.email]]
    assert mail.outbox[0].subject == f"[Exitdesk #{ticket.pk}] SLA at risk: port-out for {desk.account.account_id}"
    assert "first-response target" in mail.outbox[0].body
    ticket.refresh_from_db()
    unassigned.refresh_from_db()
    assert ticket.sla_warned_at is not None and unassigned.sla_warned_at is None
