"""/readyz's checks (SPEC §6b), each a django-health-check `HealthCheck`: its own backends where they exist (the
database, the cache, a Redis broker, the Celery workers' ping), the desk's own checks beside them as plugins of the
same kind. A check raises ServiceUnavailable with a sentence naming what is wrong; it may return a sentence saying
what it found when all is well."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Q
from django.utils import timezone
from health_check import Cache, Database, HealthCheck
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.exceptions import HealthCheckException, ServiceUnavailable

from tickets.inbound.models import InboundMessage, Mailbox
from tickets.purge import OVERDUE_AFTER, overdue_accounts
from tickets.webhooks.selectors import backlog

from .models import Heartbeat
from .tasks import BEAT

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = dt.timedelta(seconds=2)
WORKER_PING_TIMEOUT = dt.timedelta(seconds=2)
MAILBOX_STALE_FACTOR = 3
IN_PROCESS = "no broker configured: tasks run in-process"


def _celery_app():
    # Read when a check runs: the probes' middleware loads before Celery is wanted.
    from config.celery import app

    return app


def tasks_in_process() -> bool:
    # The app's own setting (what the tests' `tasks_in_process` fixture changes), not Django's copy of it.
    return bool(_celery_app().conf.task_always_eager)


def _seconds(delta: dt.timedelta) -> str:
    return f"{max(delta.total_seconds(), 0):.0f} s"


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration of the code that runs is applied to the database."""

    alias: str = "default"

    def run(self) -> str:
        try:
            executor = MigrationExecutor(connections[self.alias])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            raise ServiceUnavailable("The database did not answer, so the migrations could not be read.") from exc
        if plan:
            names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan[:5])
            more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
            raise ServiceUnavailable(f"{len(plan)} migration(s) not applied: {names}{more}. Run manage.py migrate.")
        return "every migration applied"


@dataclasses.dataclass
class KombuBroker(HealthCheck):
    """A broker that is not Redis (another transport Celery supports): a connection opens within BROKER_TIMEOUT."""

    def run(self) -> str:
        try:
            with _celery_app().connection_for_write(connect_timeout=BROKER_TIMEOUT.total_seconds()) as connection:
                connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT.total_seconds())
        except Exception as exc:  # noqa: BLE001 - every transport raises its own errors
            raise ServiceUnavailable(f"The broker did not answer: {type(exc).__name__}.") from exc
        return "connected"


def broker_check() -> HealthCheck | str:
    if tasks_in_process():
        return IN_PROCESS
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        # Only for a Redis broker (its client is then installed).
        from redis.asyncio import Redis as RedisClient

        timeout = BROKER_TIMEOUT.total_seconds()
        return Redis(
            client_factory=lambda: RedisClient.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        )
    return KombuBroker()


@dataclasses.dataclass
class WorkersPing(Ping):
    """django-health-check's ping; a broker that cannot be reached (the `broker` check says why) fails it in words
    rather than with a traceback in the log at every probe."""

    def run(self) -> None:
        try:
            super().run()
        except HealthCheckException:
            raise
        except Exception as exc:  # noqa: BLE001 - Kombu's connection errors are not OSErrors
            raise ServiceUnavailable(
                f"No worker could be asked: the broker did not answer ({type(exc).__name__})."
            ) from exc


def workers_check() -> HealthCheck | str:
    if tasks_in_process():
        return IN_PROCESS
    # limit=1: the first worker's answer is enough (it must also consume the desk's queue, which Ping checks).
    return WorkersPing(app=_celery_app(), timeout=WORKER_PING_TIMEOUT, limit=1)


@dataclasses.dataclass
class Beat(HealthCheck):
    """Beat's heartbeat task (every minute) ran within BEAT_STALE_SECONDS."""

    def run(self) -> str:
        limit = dt.timedelta(seconds=settings.BEAT_STALE_SECONDS)
        beat = Heartbeat.objects.filter(name=BEAT).first()
        if beat is None:
            raise ServiceUnavailable("Beat has never written its heartbeat: is `celery -A config beat` running?")
        age = timezone.now() - beat.at
        if age > limit:
            raise ServiceUnavailable(f"Beat's last heartbeat was {_seconds(age)} ago (stale after {_seconds(limit)}).")
        return f"last heartbeat {_seconds(age)} ago"


@dataclasses.dataclass
class Mailboxes(HealthCheck):
    """Every enabled intake mailbox was read within its interval × 3 and quarantined nothing in that time."""

    def run(self) -> str:
        now = timezone.now()
        window = dt.timedelta(seconds=settings.FETCH_MAIL_SECONDS * MAILBOX_STALE_FACTOR)
        quarantined = Count(
            "messages",
            filter=Q(messages__status=InboundMessage.Status.QUARANTINED, messages__fetched_at__gte=now - window),
        )
        mailboxes = list(Mailbox.objects.filter(enabled=True).annotate(quarantined=quarantined).order_by("name", "pk"))
        problems = []
        for mailbox in mailboxes:
            if mailbox.last_fetched_at is None:
                problems.append(f"{mailbox.name} has never been read")
            elif now - mailbox.last_fetched_at > window:
                tries = f", {mailbox.failures} failed tries in a row" if mailbox.failures else ""
                problems.append(
                    f"{mailbox.name} was last read {_seconds(now - mailbox.last_fetched_at)} ago "
                    f"(at most {_seconds(window)}{tries})"
                )
            if mailbox.quarantined:
                problems.append(
                    f"{mailbox.name} quarantined {mailbox.quarantined} message(s) in the last {_seconds(window)}"
                )
        if problems:
            raise ServiceUnavailable("; ".join(problems) + ".")
        if not mailboxes:
            return "no enabled mailbox"
        return f"{len(mailboxes)} mailbox(es) read within {_seconds(window)}"


@dataclasses.dataclass
class Purge(HealthCheck):
    """No account is past its purge date by more than a day without a legal hold (tickets.purge.overdue_accounts)."""

    def run(self) -> str:
        overdue = overdue_accounts()
        count = overdue.count()
        if count:
            oldest = overdue.order_by("purge_after").values_list("purge_after", flat=True).first()
            raise ServiceUnavailable(
                f"{count} account(s) past their purge date by more than {OVERDUE_AFTER.days} day "
                f"(the oldest due {oldest:%Y-%m-%d %H:%M} UTC): is the purge job running?"
            )
        return "no account overdue"


@dataclasses.dataclass
class Outbox(HealthCheck):
    """No webhook delivery has been due, and no event left without its deliveries, for WEBHOOK_STALE_SECONDS:
    the workers and the sweep keep up (a receiver that fails is retried on its schedule, and is not stalled)."""

    def run(self) -> str:
        found = backlog()
        limit = dt.timedelta(seconds=settings.WEBHOOK_STALE_SECONDS)
        if found.stalled:
            raise ServiceUnavailable(
                f"{found.stalled} webhook deliveries overdue by more than {_seconds(limit)}: are the workers and "
                "beat (the outbox sweep) running?"
            )
        return f"{found.pending} deliveries pending"


# The names are SPEC §6b's, in its order; each builds its check afresh (the broker and eager mode may change).
CHECKS: dict[str, Callable[[], HealthCheck | str]] = {
    "database": Database,
    "migrations": Migrations,
    "cache": Cache,
    "broker": broker_check,
    "workers": workers_check,
    "beat": Beat,
    "mailboxes": Mailboxes,
    "purge": Purge,
    "outbox": Outbox,
}


@dataclasses.dataclass(frozen=True)
class Result:
    ok: bool
    detail: str


def run_check(check: HealthCheck | str) -> Result:
    """Run one check in this thread (a check reads this request's database connection: another thread's would not see
    a test's rows, nor share the request's connection)."""
    if isinstance(check, str):
        return Result(True, check)
    try:
        found = async_to_sync(check.run)() if inspect.iscoroutinefunction(check.run) else check.run()
    except HealthCheckException as exc:
        return Result(False, exc.message)
    except Exception:
        logger.exception("Readiness check %r failed unexpectedly", check)
        return Result(False, "the check itself failed (see the log)")
    return Result(True, found if isinstance(found, str) else "ok")


def readiness() -> dict[str, Result]:
    return {name: run_check(build()) for name, build in CHECKS.items()}
