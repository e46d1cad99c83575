"""Fixtures of the manager-queue tests: a desk of tickets in every state, built fast with bulk_create."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from tests.factories import preset_plan
from tickets.models import Kind, State, Ticket

_serial = itertools.count(1)


def ticket(account, *, kind: str = Kind.ACCOUNT_CANCELLATION, state: str = State.SUBMITTED, **fields) -> Ticket:
    closed = state in {State.COMPLETED, State.REJECTED, State.WITHDRAWN}
    fields.setdefault("created_at", timezone.now())
    if closed:
        fields.setdefault("closed_at", fields["created_at"] + dt.timedelta(hours=3))
    if state == State.REJECTED:
        fields.setdefault("rejection_reason", "Not on this account.")
    return Ticket.objects.create(account=account, kind=kind, state=state, **fields)


def bulk_tickets(account, count: int, *, assignee=None, now=None) -> list[Ticket]:
    """`count` tickets cycling through kinds and states, ages spread over 30 days, in one INSERT."""
    now = now or timezone.now()
    kinds, states = list(Kind.values), list(State.values)
    rows = []
    for i in range(count):
        state = states[i % len(states)]
        created = now - dt.timedelta(hours=(i * 37) % (30 * 24))
        rows.append(
            Ticket(
                account=account,
                kind=kinds[i % len(kinds)],
                state=state,
                created_at=created,
                closed_at=created + dt.timedelta(hours=5) if state in {"completed", "rejected", "withdrawn"} else None,
                rejection_reason="duplicate" if state == "rejected" else "",
                assignee=assignee if i % 2 else None,
                foc_date=(now + dt.timedelta(days=i % 5)).date() if kinds[i % len(kinds)] == "port_out" else None,
                reason="too_expensive" if i % 3 else "unused",
            )
        )
    return Ticket.objects.bulk_create(rows, batch_size=500)


@pytest.fixture
def kixie(cast):
    """The fixed cast on Kixie's plan: intake Monday–Friday 06:00–17:00 Pacific (K6)."""
    return cast("kixie", plan=preset_plan("kixie"))
