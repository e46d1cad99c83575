"""What each event of the catalogue says (SPEC §6a): the `data` of every body but the account's own moves.

The callers are the places that make the change, in its transaction: the transition log (tickets.services._log) for
`ticket.*`, the completion effects (tickets.effects) for numbers, the subscription, licenses and add-ons. The
account's moves are built below us, in accounts.events.

Every body names things by public ids: the ticket's id, the account's `AC-…` id (the envelope's `account`), a number
in E.164, a plan's id, name and rank, a license's or add-on's id and product code. It never carries a PIN (never
stored), card digits, the verification's check results, staff notes, comments or anything that names a person:
which ticket fields go is tickets.access's call (`event_ticket_fields`), as it is for what a customer reads.

The data of each type (README, "Keeping your systems in step"; the OpenAPI schema's `…Event` components):

- `ticket.submitted|verified|approved|completed|rejected|withdrawn`: `{"ticket": TICKET, "transition": {"name",
  "source", "target", "at", "by", "channel"}}`; `by` is `customer`, `staff` or `system`.
- `number.released`, `number.ported_out`: `{"number": {"id", "number", "status", "released_at", "ported_out_at"},
  "ticket"}`.
- `subscription.changed`: `{"subscription": {"status", "plan": PLAN, "seats", "next_billing_date", "ended_at"},
  "change": "ended|restored|seats|plan", "ticket"}`.
- `license.changed`: `{"license": {"id", "product", "quantity", "minimum"}, "previous_quantity", "ticket"}`.
- `addon.changed`, `addon.cancelled`: `{"addon": {"id", "product", "tier", "status", "number", "cancelled_at"},
  "previous_tier" (addon.changed by a tier change; null otherwise), "ticket"}`.

`ticket` is the id of the ticket whose completion made the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from accounts.events import acted_by, timestamp
from accounts.models import Account
from accounts.outbox import EventType, record
from billing.models import AddOn, License, Plan, Subscription
from numbers.models import PhoneNumber

from . import access
from .models import Ticket, TransitionLog

# The transition log rows that are events, and their type; `assign` and `confirmation_link` change no state.
TRANSITION_EVENTS: dict[str, EventType] = {
    "submit": EventType.TICKET_SUBMITTED,
    "verify": EventType.TICKET_VERIFIED,
    "approve": EventType.TICKET_APPROVED,
    "complete": EventType.TICKET_COMPLETED,
    "reject": EventType.TICKET_REJECTED,
    "withdraw": EventType.TICKET_WITHDRAWN,
}

# A ticket's fields an event may carry, each as the body writes it; tickets.access strikes what it must not.
TICKET_FIELDS: dict[str, Any] = {
    "id": lambda t: t.pk,
    "kind": lambda t: t.kind,
    "state": lambda t: t.state,
    "channel": lambda t: t.channel,
    "route": lambda t: t.route,
    "priority": lambda t: t.priority,
    "requester": lambda t: t.requester_id,
    "assignee": lambda t: t.assignee_id,
    "full_name": lambda t: t.full_name,
    "company": lambda t: t.company,
    "contact": lambda t: t.contact,
    "created_at": lambda t: timestamp(t.created_at),
    "closed_at": lambda t: timestamp(t.closed_at),
    "license": lambda t: t.license_id,
    "quantity": lambda t: t.quantity,
    "numbers": lambda t: _ticket_numbers(t),
    "addon": lambda t: t.addon_id,
    "tier": lambda t: t.tier or None,
    "plan": lambda t: plan_body(t.target_plan) if t.target_plan_id else None,
    "gaining_carrier": lambda t: t.gaining_carrier,
    "authorized_name": lambda t: t.authorized_name,
    "foc_date": lambda t: timestamp(t.foc_date),
    "reason": lambda t: t.reason or None,
    "comment": lambda t: t.comment,
    "acknowledgements": lambda t: list(t.acknowledgements or []),
    "checks": lambda t: t.checks,
    "needs_manager_review": lambda t: t.needs_manager_review,
    "rejection_code": lambda t: t.rejection_code or None,
    "rejection_reason": lambda t: t.rejection_reason,
}
TICKET_EVENT_FIELDS = access.event_ticket_fields(TICKET_FIELDS)
# What a `subscription.changed` says changed: the account's cancellation ended it, its reactivation restored it, a
# seat-license cancellation lowered the seats, a downgrade moved the plan.
ENDED, RESTORED, SEATS, PLAN = SUBSCRIPTION_CHANGES = ("ended", "restored", "seats", "plan")


def _ticket_numbers(ticket: Ticket) -> list[str]:
    """The ticket's numbers in E.164 (read from what submit_ticket remembered, else one query)."""
    cached = getattr(ticket, "_prefetched_objects_cache", {}).get("numbers")
    if cached is not None:
        return sorted(number.number for number in cached)
    return list(ticket.numbers.order_by("number").values_list("number", flat=True))


def ticket_body(ticket: Ticket) -> dict[str, Any]:
    return {name: TICKET_FIELDS[name](ticket) for name in TICKET_EVENT_FIELDS}


def plan_body(plan: Plan) -> dict[str, Any]:
    return {"id": plan.pk, "name": plan.name, "product_line": plan.product_line, "rank": plan.rank}


def number_body(number: PhoneNumber) -> dict[str, Any]:
    return {
        "id": number.pk,
        "number": number.number,
        "status": number.status,
        "released_at": timestamp(number.released_at),
        "ported_out_at": timestamp(number.ported_out_at),
    }


def addon_body(addon: AddOn) -> dict[str, Any]:
    return {
        "id": addon.pk,
        "product": addon.product,
        "tier": addon.tier or None,
        "status": addon.status,
        "number": addon.number.number if addon.number_id else None,
        "cancelled_at": timestamp(addon.cancelled_at),
    }


# -- the events ------------------------------------------------------------------------------------------------


def ticket_moved(ticket: Ticket, row: TransitionLog) -> None:
    """`ticket.<state>` for a transition just logged, in its transaction; rows that are not transitions write none."""
    event_type = TRANSITION_EVENTS.get(row.transition)
    if event_type is None:
        return
    transition = {
        "name": row.transition,
        "source": row.source or None,
        "target": row.target,
        "at": timestamp(row.at),
        "by": acted_by(row.actor),
        "channel": row.channel,
    }
    record(ticket.account, event_type, {"ticket": ticket_body(ticket), "transition": transition})


def numbers_left(account: Account, numbers: Iterable[PhoneNumber], ticket: Ticket) -> None:
    """`number.released` or `number.ported_out` for each number a completion took off the account (read again after
    the change)."""
    types = {
        PhoneNumber.Status.RELEASED: EventType.NUMBER_RELEASED,
        PhoneNumber.Status.PORTED_OUT: EventType.NUMBER_PORTED_OUT,
    }
    for number in numbers:
        record(account, types[number.status], {"number": number_body(number), "ticket": ticket.pk})


def subscription_changed(account: Account, subscription: Subscription | None, change: str, ticket: Ticket) -> None:
    """`subscription.changed`: what the account is billed for now (its plan, seats, status) and what changed."""
    if subscription is not None:
        body = {
            "status": subscription.status,
            "seats": subscription.seats,
            "next_billing_date": timestamp(subscription.next_billing_date),
            "ended_at": timestamp(subscription.ended_at),
        }
    else:  # an account without a subscription row still changes plan
        body = {"status": None, "seats": None, "next_billing_date": None, "ended_at": None}
    plan = account.plan
    record(
        account,
        EventType.SUBSCRIPTION_CHANGED,
        {"subscription": {**body, "plan": plan_body(plan)}, "change": change, "ticket": ticket.pk},
    )


def license_changed(account: Account, license_: License, previous_quantity: int, ticket: Ticket) -> None:
    record(
        account,
        EventType.LICENSE_CHANGED,
        {
            "license": {
                "id": license_.pk,
                "product": license_.product,
                "quantity": license_.quantity,
                "minimum": license_.minimum,
            },
            "previous_quantity": previous_quantity,
            "ticket": ticket.pk,
        },
    )


def addons_changed(
    account: Account, addons: Iterable[AddOn], ticket: Ticket, *, previous_tier: str | None = None
) -> None:
    """`addon.cancelled` for each add-on now cancelled, `addon.changed` for each changed otherwise (a new tier, or
    active again with a reactivation)."""
    for addon in addons:
        cancelled = addon.status == AddOn.Status.CANCELLED
        record(
            account,
            EventType.ADDON_CANCELLED if cancelled else EventType.ADDON_CHANGED,
            {"addon": addon_body(addon), "previous_tier": previous_tier or None, "ticket": ticket.pk},
        )


def read_numbers(pks: Iterable[int]) -> list[PhoneNumber]:
    """Numbers as the change left them, in a stable order (E.164), for their events."""
    return list(PhoneNumber.objects.filter(pk__in=list(pks)).order_by("number", "pk"))


def read_addons(pks: Iterable[int]) -> list[AddOn]:
    return list(AddOn.objects.filter(pk__in=list(pks)).select_related("number").order_by("pk"))
