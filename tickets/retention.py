"""The cancellation flow's outcomes (S2, U8, U9, K1): one `RetentionOutcome` row per run of the portal's flow, written
here and nowhere else, so the insights (tickets.selectors.retention_summary) count what the customer did whichever
page they did it on.

A run starts "abandoned" and stays so unless the customer reaches an outcome: they keep the account, ask for a
meeting, take the downgrade offered, or cancel. The portal (tickets.portal.views) keeps the run's place in the session
and shows the pages; it asks this module to start, read and finish a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from .models import Kind, RetentionOutcome, Ticket
from .notifications import send_meeting_request
from .services import Request, submit_ticket

if TYPE_CHECKING:
    from accounts.models import Account, User
    from billing.models import Plan

Outcome = RetentionOutcome.Outcome


def start_run(*, account: Account, user: User) -> RetentionOutcome:
    """A new run of the flow for this person on this account, "abandoned" until it reaches an outcome."""
    return RetentionOutcome.objects.create(account=account, plan=account.plan, user=user)


def open_run(*, account: Account, user: User, pk: int | None) -> RetentionOutcome | None:
    """The person's run on this account that has not reached an outcome yet, or None (finished, or never theirs)."""
    if pk is None:
        return None
    return RetentionOutcome.objects.filter(pk=pk, account=account, user=user, outcome=Outcome.ABANDONED).first()


def record_reason(run: RetentionOutcome, reason: str) -> None:
    """The exit survey's answer (U8): the insights group the runs by it."""
    RetentionOutcome.objects.filter(pk=run.pk).update(reason=reason)
    run.reason = reason


def record_offers_shown(run: RetentionOutcome, offers: list[str]) -> None:
    """Which offers the customer was shown (S2, U9), so a run that ends elsewhere still says what it was offered."""
    if run.offers_shown != offers:
        RetentionOutcome.objects.filter(pk=run.pk).update(offers_shown=offers)
        run.offers_shown = offers


def _finish(run: RetentionOutcome, outcome: str, ticket: Ticket | None = None) -> None:
    RetentionOutcome.objects.filter(pk=run.pk).update(outcome=outcome, ticket=ticket)
    run.outcome, run.ticket = outcome, ticket


def keep(run: RetentionOutcome) -> None:
    """The customer stays: nothing changes on the account."""
    _finish(run, Outcome.KEPT)


def ask_for_meeting(run: RetentionOutcome) -> None:
    """The customer asks customer success for a meeting: the account stays as it is, the request is emailed once
    the outcome is stored."""
    _finish(run, Outcome.MEETING)
    transaction.on_commit(lambda: send_meeting_request.delay(run.pk))


def downgrade(run: RetentionOutcome, *, account: Account, user: User, plan: Plan) -> Ticket:
    """K1: the customer takes the lower plan offered instead of leaving: a downgrade request in their name. A
    Refusal from the submission leaves the run open (the customer may still choose another way)."""
    ticket = submit_ticket(
        account=account,
        kind=Kind.DOWNGRADE,
        requester=user,
        request=Request(
            full_name=user.full_name,
            company=f"{account.name} ({account.account_id})",
            contact=user.email,
            plan=plan,
        ),
    )
    _finish(run, Outcome.DOWNGRADED, ticket)
    return ticket


def cancel(
    run: RetentionOutcome,
    *,
    account: Account,
    user: User,
    request: Request,
    reason: str = "",
    comment: str = "",
    acknowledgements: list[str] | None = None,
) -> Ticket:
    """The customer cancels: the verified request with the flow's survey answer and acknowledgements. A Refusal
    (verification, the policy's rules) leaves the run open."""
    request.reason = reason
    request.comment = comment
    request.acknowledgements = list(acknowledgements or [])
    ticket = submit_ticket(account=account, kind=Kind.ACCOUNT_CANCELLATION, requester=user, request=request)
    _finish(run, Outcome.CANCELLED, ticket)
    return ticket
