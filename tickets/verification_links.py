"""K7's fallback: an owner's confirmation by an emailed link, for an account whose card cannot verify it.

Kixie verifies an account cancellation by the last four digits of the card on file (K7); an account with no card
on file could never be verified. Where the policy names the fallback (`verification_fallback =
"confirmation_link"`), the agent emails the account's owner a signed, expiring, single-use link instead
(tickets.signed_links, with a salt of its own); when the owner follows it and confirms, the ticket is verified with
the owner as actor, and the log row names the evidence used. The link is single-use because using it verifies the
ticket: a second use finds it verified.

The agent's side is `send_confirmation_link` (the admin's verify form and the API's verify transition call it);
the owner's side is `confirm_with_link` (the page at /verify/confirm/<token>/, tickets/portal/owner_confirmation.py).
"""

from django.db import transaction

from accounts.exceptions import Code, Refusal
from accounts.models import Account, User
from billing.models import CardOnFile, Policy

from . import access
from .models import Kind, LogChannel, State, Ticket, TransitionLog
from .notifications import send_owner_confirmation_link
from .services import actor_label, run_authorized
from .signed_links import OWNER_CONFIRMATION as LINK
from .signed_links import OWNER_CONFIRMATION_HOURS as LINK_HOURS

LINK_TRANSITION = "confirmation_link"  # the log row of a link sent (staff read it; customers do not)
CHECK = "owner_link"  # the check the guard of `verify` reads (tickets.services._guard_verify)
EVIDENCE_NOTE = "Verified: owner confirmed by emailed link (K7 fallback, no card on file)."


def fallback_needed(ticket: Ticket) -> bool:
    """Whether the policy's fallback is the way to verify this ticket now: an account cancellation, waiting for
    verification by a card the account does not have, on a policy that names the confirmation link."""
    policy: Policy = ticket.account.plan.policy
    return (
        ticket.kind == Kind.ACCOUNT_CANCELLATION
        and ticket.state == State.SUBMITTED
        and policy.verification_method == Policy.Verification.CARD_LAST4
        and policy.verification_fallback == Policy.VerificationFallback.CONFIRMATION_LINK
        and not CardOnFile.objects.filter(account_id=ticket.account_id).exists()
    )


def send_confirmation_link(*, ticket: Ticket | int, actor: User, channel: str = LogChannel.ADMIN) -> TransitionLog:
    """Email the account's owner a link to confirm the cancellation (K7's fallback).

    1. Lock the account and the ticket, as transitions do; only staff who may verify send it.
    2. Refuse `verification_fallback_unavailable` unless the fallback is the way to verify now (fallback_needed)
       and the account has an active owner to email.
    3. Log the sending (`confirmation_link`, state unchanged) and queue the email once the row is committed.
    """
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    with transaction.atomic():
        # The account first, then the ticket: the lock order of tickets.services.
        account_id = Ticket.objects.filter(pk=pk).values_list("account_id", flat=True).first()
        Account.objects.select_for_update(of=("self",), no_key=True).filter(pk=account_id).first()
        locked = Ticket.objects.select_for_update(of=("self",)).select_related("account__plan__policy").get(pk=pk)
        if not access.may_ask(actor, "verify", locked):
            raise Refusal(Code.ROLE_NOT_ALLOWED, access.why_not(actor, "verify"))
        if not fallback_needed(locked):
            raise Refusal(
                Code.VERIFICATION_FALLBACK_UNAVAILABLE,
                "A confirmation link is for an account cancellation awaiting verification, on a policy that names "
                "it as the fallback, for an account with no card on file.",
            )
        owner = locked.account.owner
        if owner is None or not owner.is_active or not owner.email:
            raise Refusal(Code.VERIFICATION_FALLBACK_UNAVAILABLE, "The account has no active owner to email.")
        row = TransitionLog.objects.create(
            ticket=locked,
            transition=LINK_TRANSITION,
            source=locked.state,
            target=locked.state,
            actor=actor,
            actor_label=actor_label(actor),
            channel=channel,
            note=f"Confirmation link emailed to the owner ({owner.email}), valid {LINK_HOURS} hours.",
        )
        transaction.on_commit(lambda: send_owner_confirmation_link.delay(locked.pk, owner.pk, row.pk))
    return row


def read_token(token: str) -> tuple[Ticket, User]:
    return LINK.read(token)


def check_unused(ticket: Ticket) -> None:
    """The link verifies a ticket still waiting for verification; once used (or moved on), it refuses."""
    if ticket.state != State.SUBMITTED:
        raise Refusal(Code.INVALID_STATE, "This link was already used, or the request has moved on without it.")


def confirm_with_link(*, token: str) -> Ticket:
    """The owner confirms with the link: the ticket is verified with them as actor and the evidence in the log.

    The fallback is asked again under the ticket's lock (a card added since, or a policy changed, ends it), then the
    check is stored and `verify` runs through the transition service, whose guard reads the check.
    """
    ticket, owner = LINK.read(token)
    with transaction.atomic():
        locked = (
            Ticket.objects.select_for_update(of=("self", "account"))
            .select_related("account__plan__policy")
            .get(pk=ticket.pk)
        )
        check_unused(locked)
        if not fallback_needed(locked):
            raise Refusal(Code.VERIFICATION_FALLBACK_UNAVAILABLE, "This link no longer verifies the request.")
        locked.checks = {**locked.checks, CHECK: True}
        locked.save(update_fields=["checks"])
        return run_authorized(ticket=locked.pk, name="verify", actor=owner, channel=LogChannel.WEB, note=EVIDENCE_NOTE)
