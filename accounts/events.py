"""The bodies of the account's own events (SPEC §6a): `account.cancelled`, `account.reactivated`, `account.purged`.

Built here, from the account's own columns only, because accounts imports nothing above it; every other event's
body is built in tickets.events. A body names the account by its public id and never by its name (the purge replaces
the name, and a purged account's events stay), and says who acted as a role, never as a person.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from accounts.models import Account, User
from accounts.outbox import EventType, record

# The account moves a provider's systems hear of (accounts.lifecycle.EVENTS); the purge's claim and its hold do not
# change what the provider bills or routes.
MOVE_EVENTS: dict[str, EventType] = {
    "cancel": EventType.ACCOUNT_CANCELLED,
    "reactivate": EventType.ACCOUNT_REACTIVATED,
    "purge": EventType.ACCOUNT_PURGED,
}

# Who acted, as an event says it: a role, never a person (an email is personal data and events outlive the purge).
SYSTEM, STAFF, CUSTOMER = "system", "staff", "customer"


def acted_by(actor: User | None) -> str:
    """`system` (a job, or a completion the system ran), `staff` (the provider's support desk) or `customer`."""
    if actor is None:
        return SYSTEM
    return STAFF if actor.is_staff else CUSTOMER


def timestamp(value: dt.datetime | dt.date | None) -> str | None:
    """ISO 8601, UTC with a `Z` as the envelope's `created_at`; a date as YYYY-MM-DD; None stays null."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def account_body(account: Account) -> dict[str, Any]:
    """The account as every account event carries it: public id, status, plan id and the lifecycle's dates."""
    return {
        "account_id": account.account_id,
        "status": account.status,
        "plan": account.plan_id,
        "cancelled_at": timestamp(account.cancelled_at),
        "purge_after": timestamp(account.purge_after),
        "reactivated_at": timestamp(account.reactivated_at),
        "purged_at": timestamp(account.purged_at),
    }


def record_move(account: Account, name: str, *, actor: User | None, channel: str) -> None:
    """Write the event of an account move in the move's transaction (accounts.lifecycle.move_account calls it)."""
    event_type = MOVE_EVENTS.get(name)
    if event_type is None:
        return
    record(account, event_type, {"account": account_body(account), "by": acted_by(actor), "channel": channel})
