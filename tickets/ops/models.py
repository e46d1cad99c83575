"""What the probes and metrics read that no other table holds: beat's heartbeat and failed tasks by name. Both live
in the database, not the cache: the default cache is per process, and beat's task runs on a worker, not on the web
process that answers /readyz."""

from django.db import models


class Heartbeat(models.Model):
    """The last time a scheduled job wrote its heartbeat (`beat`: every minute, tickets.ops.tasks.beat_heartbeat)."""

    name = models.CharField(max_length=50, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class TaskFailures(models.Model):
    """How many times a Celery task failed, ever (Celery's task_failure signal): exitdesk_task_failures_total{task}."""

    task = models.CharField(max_length=200, unique=True)
    count = models.PositiveBigIntegerField(default=0)
    last_failed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "task failures"

    def __str__(self) -> str:
        return f"{self.task}: {self.count}"
