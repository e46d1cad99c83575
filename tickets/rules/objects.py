"""What a request is about, read on the account: one open request per object (SPEC §4), licenses' minimums (A10),
numbers in flight (S10) and money owed (K10).

A second open request of the same kind for the same account (account cancellation, downgrade, reactivation),
license, add-on or number is refused `already_requested`; a number in an open port-out cannot be cancelled, nor a
number being cancelled ported (`number_busy`). The checks run under the account's row lock (PostgreSQL; on SQLite
every write transaction holds the database's write lock from BEGIN IMMEDIATE), so two simultaneous requests for
one object are decided one after the other. The license and add-on rules are also partial unique constraints
(tickets.models.ONE_OPEN_REQUEST_CONSTRAINTS); a violation of one is the same refusal (`submit_ticket`).
"""

from __future__ import annotations

from django.db.models import F, FilteredRelation, Q, Sum

from accounts.exceptions import Code, Refusal
from accounts.models import Account
from billing.models import License, Plan, Policy
from config.ids import as_id

from ..models import OPEN_STATES, Kind, Ticket

NUMBER_KINDS = {Kind.NUMBER_CANCELLATION, Kind.PORT_OUT}


def instance(model, value, account: Account, what: str):
    """The `model` row `value` names, on this account; None when nothing was chosen."""
    if value is None or value == "":
        return None
    pk = value.pk if isinstance(value, model) else value
    try:
        return model.objects.get(pk=pk, account=account)
    except (model.DoesNotExist, ValueError, TypeError) as exc:
        raise Refusal(Code.INVALID_REQUEST, f"That {what} is not on this account.", field=what) from exc


def already_requested(kind: str, what: str, pk: int) -> Refusal:
    return Refusal(Code.ALREADY_REQUESTED, f"{what} already has an open {Kind(kind).label.lower()} request (#{pk}).")


def check_one_open_request(kind: str, *, account=None, license=None, addon=None) -> None:
    open_tickets = Ticket.objects.filter(kind=kind, state__in=OPEN_STATES)
    if account is not None:
        rows, what = open_tickets.filter(account=account), "This account"
    elif license is not None:
        rows, what = open_tickets.filter(license=license), "This license"
    else:
        rows, what = open_tickets.filter(addon=addon), "This add-on"
    pk = rows.values_list("pk", flat=True).first()
    if pk is not None:
        raise already_requested(kind, what, pk)


def numbers_on_account(account: Account, values: list, *, kind: str) -> list:
    """The numbers chosen, each on this account and free for a request of `kind`, read in one query.

    Each number comes with the open requests of a number kind it is in (a LEFT JOIN on them, a row per such
    request): the same kind is named first, then the oldest. A join, not a subquery ordered by a CASE: it reads the
    same rows and Django compiles it in a third of the time, on every submission.
    """
    wanted = {v.pk if hasattr(v, "pk") else v for v in values}
    statuses = ["active", "porting_out"] if kind == Kind.NUMBER_CANCELLATION else ["active"]
    rows = account.numbers.filter(pk__in=[w for w in wanted if as_id(w)]).annotate(
        open_request=FilteredRelation(
            "tickets", condition=Q(tickets__kind__in=NUMBER_KINDS, tickets__state__in=OPEN_STATES)
        ),
        busy_kind=F("open_request__kind"),
        busy_ticket=F("open_request__pk"),
    )
    chosen: dict[int, object] = {}
    for row in rows:
        held = chosen.get(row.pk)
        if held is None or _named_first(row, held, kind):
            chosen[row.pk] = row
    found = list(chosen.values())
    for number in found:
        if number.busy_kind == kind:
            raise already_requested(kind, f"The number {number}", number.busy_ticket)
        if number.busy_kind:
            doing = "ported out" if number.busy_kind == Kind.PORT_OUT else "cancelled"
            raise Refusal(
                Code.NUMBER_BUSY,
                f"The number {number} is being {doing} (request #{number.busy_ticket}); "
                "it can be requested again once that request is closed.",
                field="numbers",
            )
    found = [number for number in found if number.status in statuses]
    if len(found) != len(wanted):
        raise Refusal(
            Code.NUMBER_NOT_ON_ACCOUNT, "A number you chose is not an active number on this account.", field="numbers"
        )
    return found


def _named_first(row, held, kind: str) -> bool:
    """Of two open requests holding one number, the one to name: a request of `kind` first, then the oldest."""
    if row.busy_ticket is None:
        return False
    if held.busy_ticket is None:
        return True
    return (row.busy_kind != kind, row.busy_ticket) < (held.busy_kind != kind, held.busy_ticket)


def check_license_minimum(policy: Policy, license_: License, quantity: int, *, exclude: int | None = None) -> None:
    """A10: what would remain once this and every other open request on the license is done."""
    minimum = max(license_.minimum, policy.license_minimum(license_.product))
    pending = (
        Ticket.objects.filter(kind=Kind.LICENSE_CANCELLATION, license=license_, state__in=OPEN_STATES)
        .exclude(pk=exclude)
        .aggregate(total=Sum("quantity"))["total"]
        or 0
    )
    if license_.quantity - pending - quantity < minimum:
        raise Refusal(
            Code.LICENSE_MINIMUM,
            f"At least {minimum} {license_.get_product_display()}s must remain; "
            f"you can cancel at most {max(license_.quantity - pending - minimum, 0)}"
            + (f" ({pending} already requested)." if pending else "."),
            field="quantity",
        )


def port_outs_pending(account: Account, *, exclude: int | None = None) -> bool:
    """S10: a number in flight, or an open port-out request, blocks the account's cancellation."""
    in_flight = account.numbers.filter(status="porting_out").exists()
    open_request = account.tickets.filter(kind=Kind.PORT_OUT, state__in=OPEN_STATES).exclude(pk=exclude).exists()
    return in_flight or open_request


def outstanding_balance(account: Account) -> bool:
    return account.invoices.outstanding().exists()


def plans_back_up(account: Account):
    """K1, K2 ("until you decide to start fully-utilizing the service again"): where the policy makes a downgrade
    reversible, the plans above the current one, up to the plan a downgrade left (Subscription.downgraded_from)."""
    subscription = getattr(account, "subscription", None)
    left = subscription.downgraded_from if subscription is not None else None
    if not account.plan.policy.downgrade_reversible or left is None or left.product_line != account.plan.product_line:
        return Plan.objects.none()
    return Plan.objects.filter(
        product_line=account.plan.product_line, rank__gt=account.plan.rank, rank__lte=left.rank
    ).order_by("rank")


def lower_plans(account: Account):
    """K2: the plans of the account's product line below its own."""
    return Plan.objects.filter(product_line=account.plan.product_line, rank__lt=account.plan.rank).order_by("rank")


def plans_to_move_to(account: Account):
    """The plans a request of the downgrade kind may move the account to: a lower plan (K2), or back up to the plan
    a downgrade left (plans_back_up). The submission check, the portal's form and the admin's Record a request ask."""
    chosen = Q(pk__in=lower_plans(account).values("pk")) | Q(pk__in=plans_back_up(account).values("pk"))
    return Plan.objects.filter(chosen).order_by("rank")
