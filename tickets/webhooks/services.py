"""Webhook endpoints and deliveries (SPEC §6a, issue 26): one function per use case, called by the API, the admin
and the tasks alike.

A delivery is attempted by whoever claims it first with a conditional update (status still open, due now): the
claim pushes `next_attempt_at` past the attempt's timeout, so a second copy of the task, the sweep, or a worker
restarted after a crash finds nothing to claim until the first attempt is over or its claim lapsed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.exceptions import Code, Refusal
from accounts.models import OutboxEvent
from accounts.outbox import EventType
from tickets import access

from . import addresses, signing, transport
from .models import ALL_EVENTS, Delivery, DeliveryAttempt, WebhookEndpoint, new_secret

logger = logging.getLogger(__name__)

OPEN = (Delivery.Status.PENDING, Delivery.Status.FAILED)
FINAL = (Delivery.Status.DELIVERED, Delivery.Status.EXHAUSTED)
ROTATION_OVERLAP = dt.timedelta(hours=24)
# Beyond the timeout, how long an attempt's claim lasts (the answer is read, the rows are written).
CLAIM_MARGIN = dt.timedelta(seconds=30)


# -- endpoints ----------------------------------------------------------------------------------------------------


def check_may_manage(actor) -> None:
    """The one refusal for anyone who may not manage webhooks (403 `role_not_allowed`): services and the API ask it."""
    if not access.may_manage_webhooks(actor):
        raise Refusal(Code.ROLE_NOT_ALLOWED, "Only staff allowed to manage webhooks set up endpoints.")


def _clean_events(events: Iterable[str]) -> list[str]:
    events = list(dict.fromkeys(events))
    if not events or ALL_EVENTS in events:
        return [ALL_EVENTS]
    unknown = [name for name in events if name not in EventType._value2member_map_]
    if unknown:
        raise Refusal(Code.INVALID_REQUEST, f"Unknown event type(s): {', '.join(unknown)}.", field="events")
    return events


def create_endpoint(
    *, actor, url: str, events: Iterable[str] = (ALL_EVENTS,), description: str = "", ordered: bool = False
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which only this answer shows. The URL's host is resolved and checked now."""
    check_may_manage(actor)
    addresses.check_url(url)
    endpoint = WebhookEndpoint.objects.create(
        url=url, events=_clean_events(events), description=description, ordered=ordered, created_by=actor
    )
    endpoint.owners.add(actor)
    return endpoint, endpoint.secret


def update_endpoint(*, endpoint: WebhookEndpoint, actor, **changes) -> WebhookEndpoint:
    """Change the URL (checked again), the events, the description, ordering or whether it is enabled. Enabling it
    again forgets the failures that disabled it; its open deliveries go out at the sweep."""
    check_may_manage(actor)
    fields = []
    if "url" in changes and changes["url"] != endpoint.url:
        addresses.check_url(changes["url"])
        endpoint.url = changes["url"]
        fields.append("url")
    if "events" in changes:
        endpoint.events = _clean_events(changes["events"])
        fields.append("events")
    for name in ("description", "ordered"):
        if name in changes:
            setattr(endpoint, name, changes[name])
            fields.append(name)
    if "enabled" in changes and bool(changes["enabled"]) != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        endpoint.failing_since = None
        endpoint.disabled_at = None if endpoint.enabled else timezone.now()
        endpoint.disabled_reason = "" if endpoint.enabled else f"Disabled by {actor.email}."
        fields += ["enabled", "failing_since", "disabled_at", "disabled_reason"]
    if fields:
        endpoint.save(update_fields=fields)
    return endpoint


def rotate_secret(*, endpoint: WebhookEndpoint, actor) -> str:
    """A new secret, shown once; the old one keeps signing beside it for 24 hours so receivers can switch over."""
    check_may_manage(actor)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_until = timezone.now() + ROTATION_OVERLAP
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint.secret


def resend(
    *, endpoint: WebhookEndpoint, actor, since: dt.datetime | None = None, event_ids: Iterable[str] | None = None
) -> int:
    """Queue deliveries again, with their own webhook-ids: every one that failed or was exhausted since `since`,
    or those of the events named (delivered ones too, and an event the endpoint never had yet). Returns how many."""
    check_may_manage(actor)
    now = timezone.now()
    with transaction.atomic():
        if event_ids is not None:
            # Only events of the types it subscribes to, however old: a resend never sends what the endpoint refused.
            named = OutboxEvent.objects.filter(public_id__in=list(event_ids), created_at__lte=now)
            if ALL_EVENTS not in endpoint.events:
                named = named.filter(type__in=endpoint.events)
            events = list(named.values_list("pk", flat=True))
            Delivery.objects.bulk_create(
                [Delivery(endpoint=endpoint, event_id=pk, next_attempt_at=now) for pk in events],
                ignore_conflicts=True,
            )
            deliveries = Delivery.objects.filter(endpoint=endpoint, event_id__in=events)
        else:
            failed = Q(status=Delivery.Status.EXHAUSTED) | Q(status=Delivery.Status.FAILED)
            deliveries = Delivery.objects.filter(failed, endpoint=endpoint, created_at__gte=since)
        ids = list(deliveries.values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.PENDING, attempts=0, next_attempt_at=now)
        transaction.on_commit(lambda: _queue(ids))
    return len(ids)


# How a delivery is queued: tasks.deliver.delay, handed in at start-up (apps.py), so services import no task.
queue_delivery: Callable[[int], object] = lambda delivery_id: None  # noqa: E731 - replaced in WebhooksConfig.ready


def _queue(ids: Iterable[int]) -> None:
    for pk in ids:
        queue_delivery(pk)


# -- fan-out --------------------------------------------------------------------------------------------------


def subscribed_events(endpoint: WebhookEndpoint) -> QuerySet[OutboxEvent]:
    """The events this endpoint receives: recorded since it was created, of its types."""
    events = OutboxEvent.objects.filter(created_at__gte=endpoint.created_at)
    if ALL_EVENTS not in endpoint.events:
        events = events.filter(type__in=endpoint.events)
    return events


def fan_out(event_id: int) -> list[int]:
    """A delivery of the event to each enabled endpoint subscribed to it (once each, whoever runs first: the task
    queued at the commit or the sweep); returns the ids of its deliveries still open."""
    event = OutboxEvent.objects.filter(pk=event_id).first()
    if event is None:
        return []
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(enabled=True, created_at__lte=event.created_at)
        if endpoint.subscribes_to(event.type)
    ]
    Delivery.objects.bulk_create(
        [Delivery(endpoint=endpoint, event=event, next_attempt_at=timezone.now()) for endpoint in endpoints],
        ignore_conflicts=True,
    )
    return list(Delivery.objects.filter(event=event, status__in=OPEN).values_list("pk", flat=True))


def events_without_deliveries(endpoint: WebhookEndpoint, *, before: dt.datetime) -> QuerySet[OutboxEvent]:
    """Events the endpoint should have a delivery of and has none (the fan-out was lost: a crash between the
    commit and the queueing, a broker that was down)."""
    lookback = before - dt.timedelta(seconds=settings.WEBHOOK_SWEEP_LOOKBACK)
    delivered = Delivery.objects.filter(endpoint=endpoint, event=OuterRef("pk"))
    return (
        subscribed_events(endpoint).filter(created_at__lt=before, created_at__gte=lookback).exclude(Exists(delivered))
    )


def sweep(now: dt.datetime | None = None, *, limit: int = 1000) -> list[int]:
    """1. Fan out events left without deliveries (older than a grace period, so the normal path goes first).
    2. Return the open deliveries that are due, for the caller to queue."""
    now = now or timezone.now()
    grace = now - dt.timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE)
    for endpoint in WebhookEndpoint.objects.filter(enabled=True):
        missing = list(events_without_deliveries(endpoint, before=grace).values_list("pk", flat=True)[:limit])
        Delivery.objects.bulk_create(
            [Delivery(endpoint=endpoint, event_id=pk, next_attempt_at=now) for pk in missing], ignore_conflicts=True
        )
    due = Delivery.objects.filter(status__in=OPEN, next_attempt_at__lte=now, endpoint__enabled=True)
    return list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


# -- one attempt ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    """What an attempt leaves for the task: when to try again (None: not soon, or never) and deliveries it let go
    (the next of an ordered endpoint's account)."""

    attempted: bool
    retry_in: float | None = None
    unblocked: list[int] = dataclasses.field(default_factory=list)


def retry_delay(attempts: int, *, retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt after `attempts` attempts, jittered ±WEBHOOK_RETRY_JITTER and never sooner
    than a Retry-After; None when the schedule is spent."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts >= len(schedule):
        return None
    jitter = settings.WEBHOOK_RETRY_JITTER
    delay = schedule[attempts] * random.uniform(1 - jitter, 1 + jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(schedule)))
    return delay


def waits_for_earlier(delivery: Delivery) -> bool:
    """On an ordered endpoint: an earlier event of the same account that the endpoint receives is not delivered yet
    (nor given up on), so this one waits."""
    event = delivery.event
    earlier = subscribed_events(delivery.endpoint).filter(account_id=event.account_id, sequence__lt=event.sequence)
    finished = Delivery.objects.filter(endpoint=delivery.endpoint, event=OuterRef("pk"), status__in=FINAL)
    return earlier.exclude(Exists(finished)).exists()


def _next_in_line(delivery: Delivery) -> list[int]:
    if not delivery.endpoint.ordered:
        return []
    following = Delivery.objects.filter(
        endpoint=delivery.endpoint, event__account_id=delivery.event.account_id, status__in=OPEN
    ).order_by("event__sequence")
    return list(following.values_list("pk", flat=True)[:1])


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    lease = now + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT) + CLAIM_MARGIN
    return bool(
        Delivery.objects.filter(
            pk=delivery_id, status__in=OPEN, next_attempt_at__lte=now, endpoint__enabled=True
        ).update(next_attempt_at=lease)
    )


def attempt_delivery(delivery_id: int) -> Outcome:
    """Send one delivery once.

    1. An ordered endpoint's delivery waits while an earlier one of its account is open.
    2. Claim it (a conditional update); someone else holds it, or it is not due: nothing to do.
    3. Check the URL again (resolved now) and POST the signed body to the address checked.
    4. Write the attempt row; 2xx delivers, anything else fails: retry on the schedule or give up (exhausted).
    5. The endpoint's health: 410 disables it at once, failing everything for WEBHOOK_DISABLE_AFTER_DAYS too.
    """
    delivery = Delivery.objects.select_related("endpoint", "event__account").filter(pk=delivery_id).first()
    if delivery is None or delivery.status not in OPEN:
        return Outcome(attempted=False)
    if delivery.endpoint.ordered and waits_for_earlier(delivery):
        return Outcome(attempted=False)
    now = timezone.now()
    if not _claim(delivery_id, now):
        return Outcome(attempted=False)
    endpoint, event = delivery.endpoint, delivery.event
    body = signing.body_bytes(event)
    try:
        target = addresses.check_url(endpoint.url)
    except Refusal as refusal:
        answer = transport.Answer(None, f"Refused: {refusal.detail}"[:300], "", 0)
    else:
        headers = signing.signed_headers(endpoint, event, body, now)
        answer = transport.post(target, body, headers, settings.WEBHOOK_TIMEOUT)
    return _record(delivery, answer)


def _record(delivery: Delivery, answer: transport.Answer) -> Outcome:
    now = timezone.now()
    delivered = answer.status_code is not None and 200 <= answer.status_code < 300
    attempts = delivery.attempts + 1
    retry_in = None
    if delivered:
        status, next_at = Delivery.Status.DELIVERED, None
    else:
        honoured = answer.retry_after if answer.status_code in (429, 503) else None
        retry_in = retry_delay(attempts, retry_after=honoured)
        if retry_in is None:
            status, next_at = Delivery.Status.EXHAUSTED, None
        else:
            status, next_at = Delivery.Status.FAILED, now + dt.timedelta(seconds=retry_in)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=answer.status_code,
            error=answer.error,
            duration_ms=answer.duration_ms,
            response=answer.body,
        )
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status,
            attempts=attempts,
            next_attempt_at=next_at,
            delivered_at=now if delivered else None,
            last_status_code=answer.status_code,
        )
        _endpoint_health(delivery.endpoint, answer, delivered, now)
    delivery.status = status
    finished = status in FINAL
    return Outcome(attempted=True, retry_in=retry_in, unblocked=_next_in_line(delivery) if finished else [])


def _endpoint_health(endpoint: WebhookEndpoint, answer: transport.Answer, delivered: bool, now: dt.datetime) -> None:
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if delivered:
        endpoints.exclude(failing_since=None).update(failing_since=None)
        return
    endpoints.filter(failing_since=None).update(failing_since=now)
    if answer.status_code == 410:
        disable(endpoint, reason="The receiver answered 410 Gone.", now=now)
        return
    since = endpoints.values_list("failing_since", flat=True).first()
    if since is not None and now - since >= dt.timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS):
        days = settings.WEBHOOK_DISABLE_AFTER_DAYS
        disable(endpoint, reason=f"Every delivery failed for {days:g} days.", now=now)


def disable(endpoint: WebhookEndpoint, *, reason: str, now: dt.datetime) -> bool:
    """Disable the endpoint (once) and email its owners after the commit, as Stripe warns."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_at=now, disabled_reason=reason
    )
    if changed:
        transaction.on_commit(lambda: _tell_owners(endpoint.pk, reason))
    return bool(changed)


def _tell_owners(endpoint_id: int, reason: str) -> None:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    recipients = sorted({user.email for user in endpoint.owners.filter(is_active=True) if user.email})
    if not recipients:
        return
    context = {"endpoint": endpoint, "reason": reason, "site_url": settings.SITE_URL}
    subject = " ".join(render_to_string("emails/webhook_disabled-subject.txt", context).split())
    body = render_to_string("emails/webhook_disabled-body.txt", context)
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # noqa: BLE001 - the endpoint is disabled either way; the admin shows why
        logger.warning("Could not email the owners of webhook endpoint %s", endpoint_id, exc_info=True)
