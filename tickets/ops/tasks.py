"""Beat's heartbeat task, and the count of failed tasks (connected to Celery's task_failure signal in apps.py)."""

import logging

from celery import shared_task
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import Heartbeat, TaskFailures

logger = logging.getLogger(__name__)

BEAT = "beat"


@shared_task
def beat_heartbeat() -> str:
    """Every minute on beat: /readyz's `beat` check reads when this last ran (stale after BEAT_STALE_SECONDS)."""
    Heartbeat.objects.update_or_create(name=BEAT, defaults={"at": timezone.now()})
    return "ok"


def first_heartbeat(sender=None, **_) -> None:
    """Beat's first heartbeat as it starts, not a minute later: /readyz turns ready as soon as beat and a worker run."""
    beat_heartbeat.delay()


def count_task_failure(sender=None, **_) -> None:
    """One more failure of this task: a conditional increment, the row created on its first failure."""
    name = getattr(sender, "name", None) or "unknown"
    now = timezone.now()
    try:
        with transaction.atomic():
            if TaskFailures.objects.filter(task=name).update(count=F("count") + 1, last_failed_at=now):
                return
            try:
                with transaction.atomic():
                    TaskFailures.objects.create(task=name, count=1, last_failed_at=now)
            except IntegrityError:  # another worker counted its first failure at the same moment
                TaskFailures.objects.filter(task=name).update(count=F("count") + 1, last_failed_at=now)
    except DatabaseError:
        # The failure itself may be the database's; it is in the worker's log either way.
        logger.warning("Could not count a failure of task %s: the database refused the write.", name)
