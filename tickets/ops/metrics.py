"""The desk's gauges (SPEC §6b), read from the database in a few queries when Prometheus scrapes /metrics, beside
django-prometheus's own request, database and cache metrics (across gunicorn's workers when PROMETHEUS_MULTIPROC_DIR
is set: config/gunicorn.py)."""

from __future__ import annotations

import datetime as dt
import math
import os

import prometheus_client
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from tickets import sla
from tickets.inbound.models import InboundMessage, Mailbox
from tickets.models import OPEN_STATES, Kind, Ticket
from tickets.purge import overdue_accounts
from tickets.webhooks.selectors import backlog

from .models import Heartbeat, TaskFailures
from .tasks import BEAT


class DeskCollector:
    """Collected at scrape time; nothing is kept between scrapes, so every web process answers the same."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now

    def collect(self):
        now = self.now or timezone.now()
        yield from self._tickets(now)
        yield from self._mail(now)
        purge = GaugeMetricFamily(
            "exitdesk_purge_overdue_accounts",
            "Accounts past their purge date by more than a day, under no legal hold.",
            value=overdue_accounts(now).count(),
        )
        yield purge
        outbox = backlog(now)
        yield GaugeMetricFamily(
            "exitdesk_outbox_pending",
            "Webhook deliveries owed: open deliveries and events not yet fanned out.",
            value=outbox.pending,
        )
        yield GaugeMetricFamily(
            "exitdesk_outbox_oldest_pending_seconds",
            "Age of the oldest event with a delivery still owed (0: none).",
            value=max((now - outbox.oldest).total_seconds(), 0) if outbox.oldest else 0,
        )
        beat = Heartbeat.objects.filter(name=BEAT).values_list("at", flat=True).first()
        yield GaugeMetricFamily(
            "exitdesk_beat_heartbeat_age_seconds",
            "Seconds since beat's heartbeat task last ran (every minute; +Inf: never). Not a SPEC name: for alerts.",
            value=max((now - beat).total_seconds(), 0) if beat else math.inf,
        )
        failures = CounterMetricFamily(
            "exitdesk_task_failures", "Celery task failures by task, ever (the task_failure signal).", labels=["task"]
        )
        for task, count in TaskFailures.objects.order_by("task").values_list("task", "count"):
            failures.add_metric([task], count)
        yield failures

    def _tickets(self, now: dt.datetime):
        open_tickets = Ticket.objects.filter(state__in=OPEN_STATES).order_by()
        counts: dict[tuple[str, str, str], int] = {}
        # One GROUP BY: the SLA status is the queues' own CASE (tickets.sla.status_case), so the numbers match them.
        grouped = (
            open_tickets.annotate(sla_status=sla.status_case(sla.policy_scopes(), now))
            .values("kind", "state", "sla_status")
            .annotate(n=Count("pk"))
        )
        for row in grouped:
            counts[(row["kind"], row["state"], row["sla_status"])] = row["n"]
        opened = GaugeMetricFamily(
            "exitdesk_tickets_open", "Open tickets by kind, state and SLA status.", labels=["kind", "state", "sla"]
        )
        breached = GaugeMetricFamily(
            "exitdesk_tickets_breached", "Open tickets past their SLA, by kind.", labels=["kind"]
        )
        for kind in Kind.values:
            for state in OPEN_STATES:
                for status in sla.Status.FILTERS:
                    opened.add_metric([kind, state, status], counts.get((kind, state, status), 0))
            late = sum(n for (k, _, status), n in counts.items() if k == kind and status == sla.Status.BREACHED)
            breached.add_metric([kind], late)
        yield opened
        yield breached
        oldest = open_tickets.filter(assignee__isnull=True).aggregate(at=Min("created_at"))["at"]
        yield GaugeMetricFamily(
            "exitdesk_oldest_unassigned_seconds",
            "Age of the oldest open ticket nobody is assigned to (0: none).",
            value=max((now - oldest).total_seconds(), 0) if oldest else 0,
        )

    def _mail(self, now: dt.datetime):
        age = GaugeMetricFamily(
            "exitdesk_mailbox_fetch_age_seconds",
            "Seconds since each enabled intake mailbox was last read (+Inf: never).",
            labels=["mailbox"],
        )
        for name, fetched in (
            Mailbox.objects.filter(enabled=True).order_by("name").values_list("name", "last_fetched_at")
        ):
            age.add_metric([name], max((now - fetched).total_seconds(), 0) if fetched else math.inf)
        yield age
        yield GaugeMetricFamily(
            "exitdesk_mail_quarantined",
            "Inbound messages kept in quarantine (they could not be stored).",
            value=InboundMessage.objects.filter(status=InboundMessage.Status.QUARANTINED).count(),
        )


def django_registry() -> CollectorRegistry:
    """django-prometheus's metrics: every gunicorn worker's, merged from the multiprocess folder, or this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


def exposition(now: dt.datetime | None = None) -> bytes:
    desk = CollectorRegistry(auto_describe=False)
    desk.register(DeskCollector(now))
    return prometheus_client.generate_latest(django_registry()) + prometheus_client.generate_latest(desk)
