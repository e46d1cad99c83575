"""The transactional outbox (SPEC §6a): every state change worth telling is an event row written with the change.

`record` is the only writer. It must run inside the change's transaction: the event commits with the change or not
at all. Delivery is someone else's business: after the commit, `event_recorded` is sent with the event, and the
webhooks app (tickets.webhooks) fans it out to its endpoints. accounts imports nothing above it, so the signal is
the seam.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db import connection, transaction
from django.dispatch import Signal

from accounts.models import Account, OutboxEvent

# Sent after the commit of the transaction that recorded `event` (an OutboxEvent), never for a rolled-back one.
event_recorded = Signal()


class EventType(StrEnum):
    """The event catalogue of SPEC §6a."""

    TICKET_SUBMITTED = "ticket.submitted"
    TICKET_VERIFIED = "ticket.verified"
    TICKET_APPROVED = "ticket.approved"
    TICKET_COMPLETED = "ticket.completed"
    TICKET_REJECTED = "ticket.rejected"
    TICKET_WITHDRAWN = "ticket.withdrawn"
    ACCOUNT_CANCELLED = "account.cancelled"
    ACCOUNT_REACTIVATED = "account.reactivated"
    ACCOUNT_PURGED = "account.purged"
    NUMBER_RELEASED = "number.released"
    NUMBER_PORTED_OUT = "number.ported_out"
    SUBSCRIPTION_CHANGED = "subscription.changed"
    LICENSE_CHANGED = "license.changed"
    ADDON_CHANGED = "addon.changed"
    ADDON_CANCELLED = "addon.cancelled"


def record(account: Account, type: EventType | str, data: dict[str, Any]) -> OutboxEvent:
    """Write one event of `account` with the next sequence number, in the caller's transaction.

    The UPDATE of the account's counter comes first: it takes the row's write lock, so a second change to the same
    account waits for this one to commit and gets the next number; numbers rise in commit order with no gaps.
    """
    event_type = EventType(type)
    # No savepoint of its own: the event stands or falls with the caller's transaction (and two round trips a change
    # fewer); called outside one, this block is the transaction.
    with transaction.atomic(savepoint=False):
        sequence = _next_sequence(account.pk)
        account.event_sequence = sequence
        event = OutboxEvent.objects.create(account=account, sequence=sequence, type=event_type.value, data=data)
    transaction.on_commit(lambda: event_recorded.send(sender=OutboxEvent, event=event))
    return event


def _next_sequence(account_pk: int) -> int:
    """Bump the account's event counter and read it in one statement (UPDATE … RETURNING, PostgreSQL and SQLite
    3.35+): a change pays two statements for its event, not three. Django's update() cannot return the row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_account SET event_sequence = event_sequence + 1 WHERE id = %s RETURNING event_sequence",
            [account_pk],
        )
        return cursor.fetchone()[0]
