"""Celery tasks of the webhooks: each takes ids and calls one service (services.py)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import services


def _in_process() -> bool:
    from config.celery import app  # config imports the apps: read the app when a task runs

    return bool(app.conf.task_always_eager)


@shared_task(ignore_result=True)
def fan_out_event(event_id: int) -> int:
    """A delivery of a committed event to each subscribed endpoint, each attempted at once."""
    ids = services.fan_out(event_id)
    for delivery_id in ids:
        deliver.delay(delivery_id)
    return len(ids)


@shared_task(ignore_result=True)
def deliver(delivery_id: int) -> str:
    """One attempt; a retry due soon is queued with a countdown, a later one is left to the sweep (a broker holds a
    countdown task only until its visibility timeout, and a worker holds it in memory meanwhile). Tasks run
    in-process (no broker) leave every retry to the sweep: a countdown would run at once."""
    outcome = services.attempt_delivery(delivery_id)
    if outcome.retry_in is not None and outcome.retry_in <= settings.WEBHOOK_COUNTDOWN_MAX and not _in_process():
        deliver.apply_async((delivery_id,), countdown=outcome.retry_in)
    for next_id in outcome.unblocked:
        deliver.delay(next_id)
    return "attempted" if outcome.attempted else "skipped"


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    """Beat, every WEBHOOK_SWEEP_SECONDS: events left without deliveries, and deliveries due."""
    due = services.sweep()
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)
