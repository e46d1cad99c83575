"""What the outbox still owes (SPEC §6b: /readyz's `outbox` check and the exitdesk_outbox_* gauges).

Pending: a delivery of an enabled endpoint neither delivered nor exhausted, or an event that an enabled endpoint
subscribes to and that has no delivery for it yet (its fan-out has not run, or was lost and waits for the sweep).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from . import services
from .models import Delivery, WebhookEndpoint


@dataclasses.dataclass(frozen=True)
class Backlog:
    pending: int
    oldest: dt.datetime | None  # when the oldest pending event was recorded
    stalled: int  # due (or left without deliveries) for longer than WEBHOOK_STALE_SECONDS


def backlog(now: dt.datetime | None = None) -> Backlog:
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.WEBHOOK_STALE_SECONDS)
    endpoints = list(WebhookEndpoint.objects.filter(enabled=True))
    if not endpoints:
        return Backlog(pending=0, oldest=None, stalled=0)  # a disabled endpoint's deliveries wait for it
    open_deliveries = Delivery.objects.filter(status__in=services.OPEN, endpoint__enabled=True)
    found = open_deliveries.aggregate(
        pending=Count("pk"), oldest=Min("event__created_at"), stalled=Count("pk", filter=Q(next_attempt_at__lt=stale))
    )
    pending, oldest, stalled = found["pending"], found["oldest"], found["stalled"]
    # One query per enabled endpoint (a desk has a handful): the events it is owed and has no delivery of yet.
    for endpoint in endpoints:
        missing = services.events_without_deliveries(endpoint, before=now).aggregate(
            pending=Count("pk"), oldest=Min("created_at"), stalled=Count("pk", filter=Q(created_at__lt=stale))
        )
        if not missing["pending"]:
            continue
        pending += missing["pending"]
        stalled += missing["stalled"]
        oldest = missing["oldest"] if oldest is None else min(oldest, missing["oldest"])
    return Backlog(pending=pending, oldest=oldest, stalled=stalled)
