"""What the outbox owes, for operators (SPEC §6b, issue 26): /readyz's `outbox` check and the exitdesk_outbox_*
gauges count open deliveries of enabled endpoints and events not fanned out yet."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import OutboxEvent
from accounts.outbox import EventType, record
from tickets.ops import checks
from tickets.ops.metrics import DeskCollector
from tickets.webhooks import services
from tickets.webhooks.models import Delivery

pytestmark = pytest.mark.django_db


def gauges(now) -> dict[str, float]:
    return {
        family.name: family.samples[0].value
        for family in DeskCollector(now).collect()
        if family.name.startswith("exitdesk_outbox")
    }


def test_the_gauges_count_open_deliveries_and_events_left_to_fan_out(cast, endpoint_for, receiver):
    # issue 26: exitdesk_outbox_pending and exitdesk_outbox_oldest_pending_seconds
    account = cast("avoxi").account
    now = timezone.now()
    assert gauges(now) == {"exitdesk_outbox_pending": 0, "exitdesk_outbox_oldest_pending_seconds": 0}
    endpoint, _secret = endpoint_for(receiver().url)
    endpoint.created_at = now - dt.timedelta(hours=1)
    endpoint.save()
    events = [record(account, EventType.LICENSE_CHANGED, {"n": n}) for n in range(3)]
    OutboxEvent.objects.filter(pk=events[0].pk).update(created_at=now - dt.timedelta(seconds=90))
    services.fan_out(events[0].pk)
    services.fan_out(events[1].pk)  # events[2]: its fan-out has not run
    Delivery.objects.filter(event=events[1]).update(status="delivered")
    found = gauges(timezone.now())
    assert found["exitdesk_outbox_pending"] == 2
    assert 89 <= found["exitdesk_outbox_oldest_pending_seconds"] <= 100
    endpoint.enabled = False
    endpoint.save()
    assert gauges(timezone.now())["exitdesk_outbox_pending"] == 0  # a disabled endpoint's deliveries wait for it


def test_readiness_fails_when_a_delivery_is_overdue(cast, endpoint_for, receiver, settings):
    # issue 26, SPEC §6b: the outbox check fails when deliveries are due and nobody sends them
    account = cast("avoxi").account
    endpoint_for(receiver().url)
    event = record(account, EventType.ACCOUNT_CANCELLED, {})
    services.fan_out(event.pk)
    assert checks.run_check(checks.Outbox()) == checks.Result(True, "1 deliveries pending")
    late = timezone.now() - dt.timedelta(seconds=settings.WEBHOOK_STALE_SECONDS + 1)
    Delivery.objects.update(next_attempt_at=late)
    result = checks.run_check(checks.Outbox())
    assert not result.ok and "overdue" in result.detail
