"""What a transition does to the rest of the world, run inside the transition's transaction.

Only emails (and the purge at retention 0) leave the transaction, queued with `transaction.on_commit` so a
rolled-back transition sends nothing.
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.exceptions import Code, Refusal
from accounts.invitations import invite
from accounts.lifecycle import move_account
from accounts.models import Account, User
from billing.models import AddOn, CreditEntry, License, Policy, Subscription
from billing.services import lower_seats, restore_billing
from numbers.models import PhoneNumber
from tickets.purge import deletable_users
from tickets.purge_tasks import purge_account

from . import events
from .models import Kind, Ticket
from .notifications import render_ticket_email_ahead, send_port_out_alert, send_ticket_email


def notify(ticket: Ticket, event: str, log_id: int | None = None) -> None:
    key = f"ticket:{ticket.pk}:{event}" + (f":{log_id}" if log_id else "")
    ticket_id = ticket.pk
    transaction.on_commit(lambda: send_ticket_email.delay(ticket_id, event, key))


def alert_port_out(ticket: Ticket) -> None:
    """Email the owner and billing admins of a new port-out at once, each with a link to withdraw it."""
    ticket_id = ticket.pk
    transaction.on_commit(lambda: send_port_out_alert.delay(ticket_id))


def next_business_day(policy: Policy, today: dt.date | None = None) -> dt.date:
    day = (today or timezone.now().astimezone(policy.tz).date()) + dt.timedelta(days=1)
    while day.weekday() not in (policy.intake_weekdays or [0, 1, 2, 3, 4]):
        day += dt.timedelta(days=1)
    return day


def after_transition(ticket: Ticket, name: str, source: str, *, log_id: int, quiet: bool = False) -> None:
    """Side effects of a transition; `quiet` skips the email (the steps a self-service request runs at once)."""
    if name == "complete":
        COMPLETERS[ticket.kind](ticket)
        if ticket.kind not in CONFIRMS_ITSELF:
            notify(ticket, "completed")
        return
    if name in {"reject", "withdraw"} and ticket.kind == Kind.PORT_OUT:
        # The request is closed: its numbers are no longer in flight.
        ticket.numbers.filter(status=PhoneNumber.Status.PORTING_OUT).update(status=PhoneNumber.Status.ACTIVE)
    if not quiet:
        notify(ticket, ticket.state, log_id=log_id)


def _engine_not_loaded(account: Account, *, cancellation: Ticket) -> list[Ticket]:
    raise RuntimeError("TicketsConfig.ready hands in tickets.services.settle_account (uses_settle_account)")


# Closing an account's other open cases runs the transition engine again (tickets.services.settle_account). The
# engine sits above this module and calls into it, so start-up hands that one step in (TicketsConfig.ready): no
# import points up.
settle_account = _engine_not_loaded


def uses_settle_account(step) -> None:
    """TicketsConfig.ready: completing an account cancellation settles the account's other cases with this step."""
    global settle_account
    settle_account = step


def cancel_account(ticket: Ticket) -> None:
    """K8, U5, S6–S8, K4, U6, U10: everything an account cancellation does, in the caller's transaction."""
    now = timezone.now()
    # Already locked by transition_ticket (the account comes first in the lock order, config/locking.py).
    account = (
        Account.objects.select_for_update(of=("self",), no_key=True)
        .select_related("plan__policy")
        .get(pk=ticket.account_id)
    )
    policy = account.plan.policy
    completed = ticket.log.filter(transition="complete").latest("pk")
    move_account(
        account=account,
        name="cancel",
        actor=completed.actor,
        channel=completed.channel,
        note=f"Account cancellation #{ticket.pk} completed.",
        at=now,
        # U6; 0 = at completion (S6); no purge at all where the account and its history stay (K9).
        purge_after=now + dt.timedelta(days=policy.retention_days) if policy.purge_scheduled else None,
    )
    # SPEC §4, "Account lifecycle": the other open cases close now, before the numbers they name are released and
    # before the confirmation that lists them is rendered (start-up hands the step in: uses_settle_account).
    settle_account(account, cancellation=ticket)
    _remove_access(account)  # K8, U5
    released = list(account.numbers.on_account().values_list("pk", flat=True))
    account.numbers.on_account().update(status=PhoneNumber.Status.RELEASED, released_at=now)  # K8, S8
    events.numbers_left(account, events.read_numbers(released), ticket)
    REFUNDS[policy.refunds](account, ticket)  # K4, S7
    if Subscription.objects.filter(account=account).update(status=Subscription.Status.ENDED, ended_at=now):
        events.subscription_changed(account, Subscription.objects.get(account=account), events.ENDED, ticket)
    ending = list(account.addons.filter(status=AddOn.Status.ACTIVE).values_list("pk", flat=True))
    AddOn.objects.filter(pk__in=ending).update(status=AddOn.Status.CANCELLED, cancelled_at=now)
    events.addons_changed(account, events.read_addons(ending), ticket)
    CREDIT_AT_CANCELLATION[policy.credit_at_cancellation](account, ticket)  # S7 or U7
    # U10: the confirmation is rendered and queued before anything it names is erased (SPEC §4), so it goes
    # out even when the users go at once (K8) or the purge follows at once (S6).
    confirm_completion(ticket)
    if policy.erase_users_at_completion:
        erase_users_and_settings(account, ticket)  # K8
    if policy.purge_scheduled and policy.retention_days == 0:
        _queue_purge(account.pk)


def _queue_purge(account_id: int) -> None:
    transaction.on_commit(lambda: purge_account.delay(account_id))


def confirm_completion(ticket: Ticket) -> None:
    render_ticket_email_ahead(ticket.pk, "completed", f"ticket:{ticket.pk}:completed")
    notify(ticket, "completed")


# K4, S7: what ending the subscription gives back, per `Policy.refunds` (one function per value).
def _no_refund(account: Account, ticket: Ticket) -> None:
    """Charges already made stay charged and nothing is paid out: no ledger entry, invoices as they are."""


REFUNDS = {Policy.Refunds.NONE: _no_refund}


# S7, U7: the credit balance at completion, per `Policy.credit_at_cancellation`.
def _forfeit_credit(account: Account, ticket: Ticket) -> None:
    """S7: remaining credit is forfeited, never refunded (a negative entry brings the balance to zero)."""
    balance = CreditEntry.balance_of(account)
    if balance > Decimal("0"):
        CreditEntry.objects.create(
            account=account, amount=-balance, reason=CreditEntry.Reason.FORFEITURE, note=f"Ticket #{ticket.pk}"
        )


def _keep_credit(account: Account, ticket: Ticket) -> None:
    """U7: the ledger is left as it is: the purge deletes it, a reactivation finds the balance where it was."""


CREDIT_AT_CANCELLATION = {
    Policy.CreditAtCancellation.FORFEIT: _forfeit_credit,
    Policy.CreditAtCancellation.KEEP: _keep_credit,
}


def erase_users_and_settings(account: Account, ticket: Ticket) -> None:
    """K8: every user and setting of the account is erased at completion; the account and its history (tickets,
    invoices, the credit ledger, released numbers) stay. The owner's membership stays, without a password and
    deactivated unless they work on another active account, so a reactivation can invite them anew (K9)."""
    members = account.memberships.exclude(role="owner")
    doomed = list(deletable_users(account.pk).filter(memberships__in=members).values_list("pk", flat=True))
    members.delete()
    User.objects.filter(pk__in=doomed).delete()
    if ticket.requester_id in doomed:
        ticket.requester_id = None  # the row is set to NULL by the delete; keep the instance in step
    owner = User.objects.filter(memberships__account=account, memberships__role="owner", is_active=False).first()
    if owner is not None:  # active only when another active account is theirs: that login stays
        owner.set_unusable_password()
        owner.save(update_fields=["password"])
    Account.objects.filter(pk=account.pk).update(port_out_pin="", port_out_locked=False)


def _remove_access(account: Account) -> None:
    """Deactivate members who belong to no other active account, and revoke their API tokens."""
    member_ids = list(account.memberships.values_list("user_id", flat=True))
    still_elsewhere = set(
        account.memberships.model.objects.filter(user_id__in=member_ids, account__status=Account.Status.ACTIVE)
        .exclude(account=account)
        .values_list("user_id", flat=True)
    )
    leaving = [pk for pk in member_ids if pk not in still_elsewhere]
    User.objects.filter(pk__in=leaving, is_staff=False).update(is_active=False)
    Token.objects.filter(user_id__in=leaving).delete()


def reactivate_account(ticket: Ticket) -> None:
    """K9, U7: the account comes back and its purge is cancelled; released numbers stay released."""
    now = timezone.now()
    # Held since the transition; the plan and policy are only read.
    account = (
        Account.objects.select_for_update(of=("self",), no_key=True)
        .select_related("plan__policy")
        .get(pk=ticket.account_id)
    )
    if account.status != Account.Status.CANCELLED:  # a purge that claimed the account first wins
        raise Refusal(Code.REACTIVATION_CLOSED, "The account's data is being deleted; it can no longer be reactivated.")
    completed = ticket.log.filter(transition="complete").latest("pk")
    move_account(
        account=account,
        name="reactivate",
        actor=completed.actor,
        channel=completed.channel,
        note=f"Reactivation #{ticket.pk} completed.",
        at=now,
    )
    member_ids = account.memberships.values_list("user_id", flat=True)
    User.objects.filter(pk__in=list(member_ids)).update(is_active=True)
    subscription, restored = restore_billing(account, now)  # K9: seats, licenses, add-ons and a billing date ahead
    if subscription is not None:
        events.subscription_changed(account, subscription, events.RESTORED, ticket)
    events.addons_changed(account, events.read_addons(restored), ticket)
    if account.plan.policy.credit_at_cancellation == Policy.CreditAtCancellation.KEEP:
        _restore_forfeited_credit(account, ticket)  # U7
    # K9: where the cancellation erased the users (K8), the owner is invited anew to set a password.
    for membership in account.memberships.select_related("user", "account").filter(role="owner"):
        if not membership.user.has_usable_password():
            invite(membership, reactivated=True)


def _restore_forfeited_credit(account: Account, ticket: Ticket) -> None:
    """U7: a policy that keeps credit has it back on reactivation, even where this cancellation forfeited it (one
    completed before the policy said otherwise): the forfeiture is reversed by an adjustment on the ledger."""
    forfeited = CreditEntry.objects.filter(
        account=account, reason=CreditEntry.Reason.FORFEITURE, created_at__gte=account.cancelled_at
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    if forfeited < 0:
        CreditEntry.objects.create(
            account=account,
            amount=-forfeited,
            reason=CreditEntry.Reason.ADJUSTMENT,
            note=f"Credit restored on reactivation, ticket #{ticket.pk}",
        )


def reduce_license(ticket: Ticket) -> None:
    """A2, A10; K5: the seats it takes off the plan's seat license are off the next bill too."""
    license_ = License.objects.select_for_update().select_related("account__plan").get(pk=ticket.license_id)
    previous = license_.quantity
    license_.quantity -= ticket.quantity or 0
    license_.save(update_fields=["quantity"])
    events.license_changed(ticket.account, license_, previous, ticket)
    subscription = lower_seats(license_, ticket.quantity or 0)
    if subscription is not None:
        events.subscription_changed(ticket.account, subscription, events.SEATS, ticket)


def release_numbers(ticket: Ticket) -> None:
    now = timezone.now()
    released = list(ticket.numbers.filter(status__in=["active", "porting_out"]).values_list("pk", flat=True))
    PhoneNumber.objects.filter(pk__in=released).update(
        status=PhoneNumber.Status.RELEASED, released_at=now, inbound_recording=False
    )
    events.numbers_left(ticket.account, events.read_numbers(released), ticket)
    _end_number_addons(ticket, now)


def _end_number_addons(ticket: Ticket, now) -> None:
    """A7: inbound recording is bought per number; a number that leaves takes its recording add-on with it."""
    ending = list(
        AddOn.objects.filter(
            product=AddOn.Product.INBOUND_RECORDING, number__in=ticket.numbers.all(), status=AddOn.Status.ACTIVE
        ).values_list("pk", flat=True)
    )
    AddOn.objects.filter(pk__in=ending).update(status=AddOn.Status.CANCELLED, cancelled_at=now)
    events.addons_changed(ticket.account, events.read_addons(ending), ticket)


def end_addon(ticket: Ticket) -> None:
    """A7: inbound recording ends on its number; outbound recording ends for the whole organisation."""
    addon = AddOn.objects.select_for_update().get(pk=ticket.addon_id)
    addon.status = AddOn.Status.CANCELLED
    addon.cancelled_at = timezone.now()
    addon.save(update_fields=["status", "cancelled_at"])
    if addon.product == AddOn.Product.INBOUND_RECORDING and addon.number_id:
        PhoneNumber.objects.filter(pk=addon.number_id).update(inbound_recording=False)
    events.addons_changed(ticket.account, events.read_addons([addon.pk]), ticket)


def port_out(ticket: Ticket) -> None:
    now = timezone.now()
    ticket.numbers.update(status=PhoneNumber.Status.PORTED_OUT, ported_out_at=now, inbound_recording=False)
    events.numbers_left(ticket.account, events.read_numbers(ticket.numbers.values_list("pk", flat=True)), ticket)
    _end_number_addons(ticket, now)


def downgrade(ticket: Ticket) -> None:
    """K2: the lower plan applies at once; what the rest of the cycle is worth is the policy's proration rule;
    the next bill uses the lower price. K1, K2: the subscription remembers the highest plan a downgrade left, which
    the account may move back up to (tickets.rules.objects.plans_back_up), and forgets it once back there."""
    policy, left, target = ticket.account.plan.policy, ticket.account.plan, ticket.target_plan
    PRORATION[policy.downgrade_proration](ticket)
    Account.objects.filter(pk=ticket.account_id).update(plan=target)
    ticket.account.plan = target
    subscription = Subscription.objects.filter(account_id=ticket.account_id).select_related("downgraded_from").first()
    events.subscription_changed(ticket.account, subscription, events.PLAN, ticket)
    if subscription is None:
        return
    remembered = subscription.downgraded_from
    if target.rank < left.rank:
        if remembered is None or remembered.product_line != left.product_line or remembered.rank < left.rank:
            remembered = left
    elif remembered is not None and target.rank >= remembered.rank:
        remembered = None
    if remembered != subscription.downgraded_from:
        Subscription.objects.filter(pk=subscription.pk).update(downgraded_from=remembered)


# K2: what a downgrade credits for the rest of the billing cycle, per `Policy.downgrade_proration`.
def _no_proration(ticket: Ticket) -> None:
    """No prorated credit: the customer paid the higher price for this cycle, the next bill shows the lower."""


PRORATION = {Policy.Proration.NONE: _no_proration}


def change_addon_tier(ticket: Ticket) -> None:
    """A8, A9, A11: the add-on moves to its new tier or package."""
    previous = AddOn.objects.filter(pk=ticket.addon_id).values_list("tier", flat=True).first()
    AddOn.objects.filter(pk=ticket.addon_id).update(tier=ticket.tier)
    events.addons_changed(ticket.account, events.read_addons([ticket.addon_id]), ticket, previous_tier=previous)


COMPLETERS = {
    Kind.ACCOUNT_CANCELLATION: cancel_account,
    Kind.LICENSE_CANCELLATION: reduce_license,
    Kind.NUMBER_CANCELLATION: release_numbers,
    Kind.ADDON_CANCELLATION: end_addon,
    Kind.PORT_OUT: port_out,
    Kind.DOWNGRADE: downgrade,
    Kind.REACTIVATION: reactivate_account,
    Kind.ADDON_CHANGE: change_addon_tier,
}

# Completers that queue their own confirmation email (rendered before their erasure, SPEC §4).
CONFIRMS_ITSELF = {Kind.ACCOUNT_CANCELLATION}

# A value added to a policy's choices without its effect here fails at import, not in a customer's request.
assert set(COMPLETERS) == set(Kind.values)  # noqa: S101
assert set(REFUNDS) == set(Policy.Refunds.values)  # noqa: S101
assert set(PRORATION) == set(Policy.Proration.values)  # noqa: S101
assert set(CREDIT_AT_CANCELLATION) == set(Policy.CreditAtCancellation.values)  # noqa: S101
