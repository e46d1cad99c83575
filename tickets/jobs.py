"""Periodic jobs on tickets (beat runs them every 15 minutes): the port-out deadline and SLA warnings.

Both are safe to run twice at once: the port-out approval goes through `transition_ticket(replay_ok=True)`
(an already approved ticket is a no-op), and an SLA warning is claimed with a conditional update of
`sla_warned_at` before its email is queued.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.exceptions import Refusal

from . import sla
from .models import OPEN_STATES, Kind, LogChannel, State, Ticket
from .notifications import send_sla_warning
from .rules.table import movable
from .rules.verification import locked_accounts, port_out_authorized
from .services import transition_ticket

log = logging.getLogger(__name__)


def overdue_port_outs(now: dt.datetime | None = None) -> list[int]:
    """Port-outs unanswered for the policy's `port_out_deadline_hours` business hours: verified ones counted from
    their verification, and submitted ones nobody touched counted from submission; in both cases only where every
    check stored at submission passed (PIN or account number, authorized name: the verification the system may
    run, SPEC §4) and the account's verification is not locked (someone is guessing)."""
    now = now or timezone.now()
    overdue: list[int] = []
    locked = locked_accounts(now)
    for scope in sla.policy_scopes():
        policy = scope.policy
        cutoff = sla.subtract_business_hours(policy, now, policy.port_out_deadline_hours)
        port_outs = movable(  # a cancelled account's port-out is never approved (SPEC §4, "Account lifecycle")
            Ticket.objects.filter(
                kind=Kind.PORT_OUT,
                needs_manager_review=False,  # K10: those wait for a manager, never the clock
                account__plan_id__in=scope.plan_ids,
            )
        )
        verified = (
            port_outs.filter(state=State.VERIFIED)
            .annotate(verified_at=Max("log__at", filter=Q(log__transition="verify")))
            .filter(verified_at__lte=cutoff)
        )
        untouched = port_outs.filter(state=State.SUBMITTED, created_at__lte=cutoff)
        for pk, checks, account_id in [
            *verified.values_list("pk", "checks", "account_id"),
            *untouched.values_list("pk", "checks", "account_id"),
        ]:
            if port_out_authorized(checks) and account_id not in locked:
                overdue.append(pk)
    return sorted(overdue)


def approve_overdue_port_outs(now: dt.datetime | None = None) -> list[int]:
    """Approve, as the system, every port-out staff left unanswered past the deadline (carriers auto-authorize);
    one still submitted is verified by the system first, in the same transaction."""
    approved = []
    for pk in overdue_port_outs(now):
        ticket = Ticket.objects.select_related("account__plan__policy").get(pk=pk)
        hours = ticket.account.plan.policy.port_out_deadline_hours
        approve_note = (
            f"Approved by the system: no answer within {hours} business hours "
            "(carriers authorize unanswered port-outs)."
        )
        steps = [("approve", approve_note)]
        if ticket.state == State.SUBMITTED:
            steps.insert(
                0, ("verify", "Verified by the system: the PIN or account number and the authorized name matched.")
            )
        try:
            with transaction.atomic():
                for name, note in steps:
                    transition_ticket(
                        ticket=pk, name=name, actor=None, channel=LogChannel.SYSTEM, replay_ok=True, note=note
                    )
        except Refusal as refusal:  # answered meanwhile (rejected, withdrawn), or no longer matching: nothing to do
            log.info("Port-out #%s not auto-approved: %s", pk, refusal.code)
            continue
        approved.append(pk)
    return approved


def sla_warning_candidates(now: dt.datetime | None = None) -> list[int]:
    """Open, assigned, running tickets that used AT_RISK_SHARE of their SLA target and were never warned."""
    now = now or timezone.now()
    scopes = sla.policy_scopes()
    return list(
        movable(  # nobody is urged to work a case its closed account no longer lets move
            Ticket.objects.filter(
                sla.used_share_q(scopes, sla.AT_RISK_SHARE, now),
                state__in=OPEN_STATES,
                waiting_on_customer_since__isnull=True,
                assignee__isnull=False,
                assignee__is_active=True,
                sla_warned_at__isnull=True,
            )
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def warn_sla_at_risk(now: dt.datetime | None = None) -> list[int]:
    """Email each at-risk ticket's assignee once: the conditional update is the claim, the email goes on commit."""
    now = now or timezone.now()
    warned = []
    for pk in sla_warning_candidates(now):
        with transaction.atomic():
            if Ticket.objects.filter(pk=pk, sla_warned_at__isnull=True).update(sla_warned_at=now):
                transaction.on_commit(lambda pk=pk: send_sla_warning.delay(pk, f"ticket:{pk}:sla_warning"))
                warned.append(pk)
    return warned
