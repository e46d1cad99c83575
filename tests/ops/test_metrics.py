"""/metrics (SPEC §6b, issue 27): 404 without the token; with it, every name SPEC lists, and the desk's gauges equal
to counts taken from the database."""

import datetime as dt
import math
from collections import Counter

import pytest
import time_machine
from celery import shared_task
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import AccountFactory, TicketFactory, move_account
from tickets import sla
from tickets.inbound.models import InboundMessage, Mailbox
from tickets.models import OPEN_STATES, Kind, Ticket

TOKEN = "scrape-token-for-the-tests"
DESK_NAMES = {
    "exitdesk_tickets_open",
    "exitdesk_tickets_breached",
    "exitdesk_oldest_unassigned_seconds",
    "exitdesk_mailbox_fetch_age_seconds",
    "exitdesk_mail_quarantined",
    "exitdesk_purge_overdue_accounts",
    "exitdesk_outbox_pending",
    "exitdesk_outbox_oldest_pending_seconds",
    "exitdesk_task_failures_total",
}
DJANGO_PREFIXES = ("django_http_", "django_cache_")
NOW = dt.datetime(2026, 12, 2, 19, 0, tzinfo=dt.UTC)  # a Wednesday afternoon in the US: within business hours


@shared_task(name="tests.ops.explode")
def explode() -> None:
    raise RuntimeError("a task that fails, for the failure counter")


@pytest.fixture
def instrumented(settings):
    """What METRICS_TOKEN turns on at start-up (config/settings.py), for this test's client: the token, and
    django-prometheus's middleware and cache (its database wrapper is checked on real processes, test_processes)."""
    settings.METRICS_TOKEN = TOKEN
    settings.MIDDLEWARE = [
        settings.MIDDLEWARE[0],
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *settings.MIDDLEWARE[1:],
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]
    settings.CACHES = {"default": {"BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache"}}


def scrape(client) -> dict[str, list]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {}
    for family in text_string_to_metric_families(response.content.decode()):
        families.setdefault(family.name, []).extend(family.samples)
    return families


def samples(families: dict, name: str) -> dict[tuple, float]:
    """{(label values sorted by label name): value} of one metric's samples named exactly `name`."""
    family = name.removesuffix("_total")
    return {
        tuple(value for _, value in sorted(sample.labels.items())): sample.value
        for sample in families.get(family, [])
        if sample.name == name
    }


def test_metrics_is_404_without_the_token_or_with_a_wrong_one(client, db, settings):
    # issue 27: /metrics behind `Authorization: Bearer <METRICS_TOKEN>`, 404 when unset
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


@pytest.fixture
def desk(cast, tasks_in_process):
    """Open tickets of several kinds, states, ages and assignees, mailboxes, quarantined mail, an overdue purge and
    two failed tasks, all at NOW."""
    people = cast("avoxi")
    account = people.account
    with time_machine.travel(NOW - dt.timedelta(days=10), tick=False):
        TicketFactory(account=account, kind=Kind.NUMBER_CANCELLATION, requester=people.owner)  # breached
        TicketFactory(account=account, kind=Kind.PORT_OUT, requester=people.owner, state="verified")
        TicketFactory(account=account, kind=Kind.PORT_OUT, requester=people.owner, state="completed")  # closed
    with time_machine.travel(NOW - dt.timedelta(hours=3, minutes=30), tick=False):
        TicketFactory(account=account, kind=Kind.LICENSE_CANCELLATION, requester=people.owner)  # at risk
    with time_machine.travel(NOW - dt.timedelta(minutes=20), tick=False):
        TicketFactory(account=account, kind=Kind.DOWNGRADE, requester=people.owner, assignee=people.agent)
        TicketFactory(
            account=account, kind=Kind.DOWNGRADE, requester=people.owner, waiting_on_customer_since=NOW
        )  # paused
    with time_machine.travel(NOW, tick=False):
        read = Mailbox.objects.create(
            name="cancellations", host="i.test", username="a", last_fetched_at=NOW - dt.timedelta(seconds=42)
        )
        Mailbox.objects.create(name="never-read", host="i.test", username="b")
        Mailbox.objects.create(name="disabled", host="i.test", username="c", enabled=False)
        for n in range(2):
            InboundMessage.objects.create(
                message_id=f"<q{n}@test>",
                source=InboundMessage.Source.IMAP,
                mailbox=read,
                raw=b"x",
                received_at=NOW,
                status=InboundMessage.Status.QUARANTINED,
            )
    late = AccountFactory()
    with time_machine.travel(NOW - dt.timedelta(days=late.plan.policy.retention_days + 3), tick=False):
        move_account(late, "cancel")
    with time_machine.travel(NOW, tick=False):
        explode.delay()
        explode.delay()
    return people


def test_metrics_hold_every_spec_name_with_the_databases_counts(client, desk, instrumented):
    # issue 27: /metrics holds every name in SPEC §6b with values equal to counts taken from the database
    from django.core.cache import cache

    client.get("/accounts/login/")  # a request of the site's own, counted by django-prometheus
    cache.get("throttle_anything")  # a read of the desk's cache (throttles, rate limits), counted too
    with time_machine.travel(NOW, tick=False):
        families = scrape(client)
        # The SLA status of each open ticket, one at a time, as its page shows it (tickets.sla.ticket_sla).
        expected = Counter(
            (ticket.kind, ticket.state, sla.ticket_sla(ticket, ticket.account.plan.policy, NOW).status)
            for ticket in Ticket.objects.filter(state__in=OPEN_STATES).select_related("account__plan__policy")
        )
    names = {sample.name for family in families.values() for sample in family}
    assert DESK_NAMES <= names, DESK_NAMES - names
    for prefix in DJANGO_PREFIXES:
        assert any(name.startswith(prefix) for name in names), prefix

    opened = samples(families, "exitdesk_tickets_open")  # labels sorted: kind, sla, state
    assert len(opened) == len(Kind.values) * len(OPEN_STATES) * len(sla.Status.FILTERS)
    assert {key: n for key, n in opened.items() if n} == {
        (kind, status, state): float(n) for (kind, state, status), n in expected.items()
    }
    assert sum(opened.values()) == Ticket.objects.filter(state__in=OPEN_STATES).count() == 5
    assert {status for (_, status, _), n in opened.items() if n} == {"breached", "at_risk", "on_track", "paused"}

    breached = samples(families, "exitdesk_tickets_breached")
    assert breached == {
        (kind,): float(sum(n for (k, _, s), n in expected.items() if k == kind and s == "breached"))
        for kind in Kind.values
    }
    assert breached[(Kind.NUMBER_CANCELLATION,)] == 1

    oldest = Ticket.objects.filter(state__in=OPEN_STATES, assignee__isnull=True).order_by("created_at").first()
    assert samples(families, "exitdesk_oldest_unassigned_seconds") == {(): (NOW - oldest.created_at).total_seconds()}
    assert samples(families, "exitdesk_mailbox_fetch_age_seconds") == {
        ("cancellations",): 42.0,
        ("never-read",): math.inf,
    }
    assert (
        samples(families, "exitdesk_mail_quarantined")
        == {(): float(InboundMessage.objects.filter(status="quarantine").count())}
        == {(): 2.0}
    )
    assert samples(families, "exitdesk_purge_overdue_accounts") == {(): 1.0}
    assert samples(families, "exitdesk_outbox_pending") == {(): 0.0}
    assert samples(families, "exitdesk_outbox_oldest_pending_seconds") == {(): 0.0}
    assert samples(families, "exitdesk_task_failures_total") == {("tests.ops.explode",): 2.0}
    assert samples(families, "exitdesk_beat_heartbeat_age_seconds") == {(): math.inf}  # beat never ran here


def test_a_scrape_is_a_few_queries_whatever_the_tickets(client, desk, instrumented, django_assert_max_num_queries):
    # SPEC §6b: the gauges are read in a few queries at scrape time
    with django_assert_max_num_queries(10):
        scrape(client)
    TicketFactory.create_batch(20, account=desk.account, kind=Kind.DOWNGRADE, requester=desk.owner)
    with django_assert_max_num_queries(10):
        scrape(client)
