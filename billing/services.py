"""What an account is billed, as the requests change it (K5, K9, U7): the coming bill and whether a request is too late
for it, the seats a license cancellation takes off, and the billing a reactivation restores."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from billing.models import AddOn, License, Policy, Subscription
from numbers.models import PhoneNumber


def day_text(day: dt.date) -> str:
    """7 Jan 2027, as the portal's dates read."""
    return f"{day.day} {day:%b} {day.year}"


@dataclass(frozen=True)
class ComingBill:
    """K5: the next bill (date, seats, amount) and, for a request made on `asked_on`, whether it is too late to stop
    it. `advice` is the one sentence every page says about it."""

    date: dt.date
    seats: int
    amount: Decimal
    currency: str
    asked_on: dt.date
    cutoff: dt.date

    @property
    def too_late(self) -> bool:
        """A request made on the cut-off day (the billing day itself where the policy counts no days back) or later
        cannot stop the bill: every active seat is billed for the coming cycle."""
        return self.asked_on >= self.cutoff

    @property
    def advice(self) -> str:
        if self.too_late:
            return "Too late for this bill: every active seat is billed for the coming cycle."
        return f"Cancel or change the account before {day_text(self.cutoff)} to avoid it."


def coming_bill(account, *, asked_at: dt.datetime | dt.date | None = None) -> ComingBill | None:
    """K5: the account's next bill as a request made at `asked_at` (now when not given) meets it; None when nothing is
    coming (no subscription, or it has ended). The portal's intake and preview pages and the admin all ask this."""
    subscription = Subscription.objects.select_related("account__plan").filter(account=account).first()
    if subscription is None or subscription.status != Subscription.Status.ACTIVE:
        return None
    policy: Policy = account.plan.policy
    when = asked_at or timezone.now()
    asked_on = when.astimezone(policy.tz).date() if isinstance(when, dt.datetime) else when
    return ComingBill(
        date=subscription.next_billing_date,
        seats=subscription.seats,
        amount=subscription.next_bill,
        currency=policy.currency,
        asked_on=asked_on,
        cutoff=policy.billing_cutoff(subscription.next_billing_date),
    )


def lower_seats(license_: License, quantity: int) -> Subscription | None:
    """K5: a completed license cancellation of the plan's seat product takes its seats off the subscription, so the
    next bill is for the seats that remain. Call inside the completing transaction. Returns the subscription it
    changed (its event is the caller's), or None."""
    account = license_.account
    if not quantity or license_.product != account.plan.seat_product:
        return None
    subscription = Subscription.objects.select_for_update().filter(account=account).first()
    if subscription is None:
        return None
    subscription.seats = max(subscription.seats - quantity, 0)
    subscription.save(update_fields=["seats"])
    return subscription


def months_after(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` later (the month's last day where it is shorter: 31 Jan → 28 Feb)."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def next_period_boundary(anchor: dt.date, after: dt.date) -> dt.date:
    """The first monthly billing date of `anchor`'s cycle (its day of the month) that falls after `after`."""
    if anchor > after:
        return anchor
    months = (after.year - anchor.year) * 12 + (after.month - anchor.month)
    boundary = months_after(anchor, months)
    return boundary if boundary > after else months_after(anchor, months + 1)


def restore_billing(account, now: dt.datetime) -> tuple[Subscription | None, list[int]]:
    """K9, U7: what a completed reactivation bills again, in the reactivation's transaction.

    1. The subscription is active again, with the seats it had at the cancellation (the cancellation only ended
       it), and its next billing date is the first date of its monthly cycle after the reactivation day (a date
       left in the past by a long absence moves on; one still ahead stays).
    2. Licenses are as at the cancellation (the cancellation leaves them as they are).
    3. The add-ons the cancellation itself ended come back, except those of a number the account no longer has
       (inbound recording of a released number); add-ons cancelled on their own before stay cancelled.
    Returns the subscription and the ids of the add-ons it restored (their events are the caller's).
    """
    today = now.astimezone(account.plan.policy.tz).date()
    subscription = Subscription.objects.select_for_update().filter(account=account).first()
    if subscription is not None:
        subscription.status = Subscription.Status.ACTIVE
        subscription.ended_at = None
        subscription.next_billing_date = next_period_boundary(subscription.next_billing_date, today)
        subscription.save(update_fields=["status", "ended_at", "next_billing_date"])
    restored: list[int] = []
    if account.cancelled_at is not None:
        ended_with_account = AddOn.objects.filter(
            account=account, status=AddOn.Status.CANCELLED, cancelled_at__gte=account.cancelled_at
        )
        coming_back = ended_with_account.filter(Q(number__isnull=True) | Q(number__status=PhoneNumber.Status.ACTIVE))
        restored = list(coming_back.order_by("pk").values_list("pk", flat=True))
        AddOn.objects.filter(pk__in=restored).update(status=AddOn.Status.ACTIVE, cancelled_at=None)
    return subscription, restored
