"""/healthz and /readyz (SPEC §6b, issue 27): the liveness probe, and the readiness probe naming each check and
the failing ones, answered to the allowed networks or with the health token only."""

import datetime as dt

import kombu.pools
import pytest
import time_machine
from django.utils import timezone

from tests.factories import AccountFactory, move_account
from tickets.inbound.models import InboundMessage, Mailbox
from tickets.ops.checks import CHECKS

SPEC_CHECKS = ["database", "migrations", "cache", "broker", "workers", "beat", "mailboxes", "purge", "outbox"]


def test_healthz_answers_200_and_touches_nothing(client):
    # issue 27: liveness is 200 while the process serves, from any address and any host; the test has no database
    # (pytest-django refuses any query), so a probe that touched it would fail here
    response = client.get("/healthz", REMOTE_ADDR="203.0.113.9", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_readyz_is_200_naming_every_check(client, beat_alive):
    # issue 27: readiness names each check and its state
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert list(body["checks"]) == SPEC_CHECKS == list(CHECKS)
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["workers"]["detail"] == "no broker configured: tasks run in-process"
    assert body["checks"]["outbox"]["detail"] == "0 deliveries pending"
    assert body["checks"]["beat"]["detail"].startswith("last heartbeat")


def test_a_stale_beat_heartbeat_is_503_naming_beat(client, beat_alive, settings):
    # issue 27: beat's heartbeat older than BEAT_STALE_SECONDS turns readiness 503 naming beat
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.BEAT_STALE_SECONDS + 5)):
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "failing: beat"
    assert body["checks"]["beat"]["ok"] is False
    assert "stale after 180 s" in body["checks"]["beat"]["detail"]
    assert all(check["ok"] for name, check in body["checks"].items() if name != "beat")


def test_still_fresh_just_before_the_limit(client, beat_alive, settings):
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.BEAT_STALE_SECONDS - 5)):
        assert client.get("/readyz").status_code == 200


def test_no_heartbeat_ever_is_503_naming_beat(client, db, tasks_in_process):
    body = client.get("/readyz").json()
    assert body["status"] == "failing: beat"
    assert "never written its heartbeat" in body["checks"]["beat"]["detail"]


def test_a_mailbox_not_read_within_three_intervals_is_503_naming_mailboxes(client, beat_alive, settings):
    # issue 27: every enabled mailbox fetched within its interval × 3
    now = timezone.now()
    window = 3 * settings.FETCH_MAIL_SECONDS
    Mailbox.objects.create(name="fresh", host="imap.test", username="a", last_fetched_at=now - dt.timedelta(seconds=10))
    Mailbox.objects.create(name="off", host="imap.test", username="b", enabled=False)  # disabled: not checked
    # The clock stands still: on a busy machine a second can pass between the row and the probe.
    with time_machine.travel(now, tick=False):
        assert client.get("/readyz").status_code == 200
        Mailbox.objects.create(
            name="stalled",
            host="imap.test",
            username="c",
            failures=4,
            last_fetched_at=now - dt.timedelta(seconds=window + 1),
        )
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "failing: mailboxes"
    assert body["checks"]["mailboxes"]["detail"] == (
        f"stalled was last read {window + 1} s ago (at most {window} s, 4 failed tries in a row)."
    )


def test_a_mailbox_quarantining_mail_is_503_naming_mailboxes(client, beat_alive):
    # issue 27: ... and not quarantining
    mailbox = Mailbox.objects.create(name="intake", host="imap.test", username="a", last_fetched_at=timezone.now())
    InboundMessage.objects.create(
        message_id="<q1@test>",
        source=InboundMessage.Source.IMAP,
        mailbox=mailbox,
        raw=b"broken",
        received_at=timezone.now(),
        status=InboundMessage.Status.QUARANTINED,
    )
    body = client.get("/readyz").json()
    assert body["status"] == "failing: mailboxes"
    assert "intake quarantined 1 message(s)" in body["checks"]["mailboxes"]["detail"]


def test_an_account_past_its_purge_date_by_more_than_a_day_is_503_naming_purge(client, beat_alive):
    # issue 27, rule U6: no account past its purge date by more than a day without a legal hold
    account = AccountFactory()
    retention = account.plan.policy.retention_days
    with time_machine.travel(timezone.now() - dt.timedelta(days=retention, hours=23)):
        move_account(account, "cancel")  # due 23 hours ago: the daily job still has time
    assert client.get("/readyz").status_code == 200
    late = AccountFactory()
    with time_machine.travel(timezone.now() - dt.timedelta(days=retention + 2)):
        move_account(late, "cancel")
    held = AccountFactory(legal_hold=True, legal_hold_reason="Litigation")
    with time_machine.travel(timezone.now() - dt.timedelta(days=retention + 30)):
        move_account(held, "cancel")
    body = client.get("/readyz").json()
    assert body["status"] == "failing: purge"
    assert body["checks"]["purge"]["detail"].startswith("1 account(s) past their purge date by more than 1 day")


def test_unapplied_migrations_fail_readiness(client, beat_alive):
    # issue 27: the database check includes unapplied migrations (code deployed before `manage.py migrate`)
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    MigrationRecorder(connection).record_unapplied("ops", "0001_heartbeat_and_task_failures")
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "failing: migrations"
    assert body["checks"]["migrations"]["detail"] == (
        "1 migration(s) not applied: ops.0001_heartbeat_and_task_failures. Run manage.py migrate."
    )


@pytest.mark.parametrize("address", ["203.0.113.9", "10.0.0.5", "::ffff:198.51.100.1"])
def test_readyz_is_404_outside_the_allowed_networks(client, beat_alive, address):
    # issue 27: answered only to HEALTH_ALLOWED_NETWORKS (default loopback) or with HEALTH_TOKEN
    assert client.get("/readyz", REMOTE_ADDR=address).status_code == 404


def test_readyz_answers_an_allowed_network_and_the_health_token(client, beat_alive, settings):
    import ipaddress

    settings.HEALTH_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/readyz", REMOTE_ADDR="10.0.0.5").status_code == 200
    assert client.get("/readyz", REMOTE_ADDR="127.0.0.1").status_code == 404
    settings.HEALTH_TOKEN = "probe-token"
    assert client.get("/readyz", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer probe-token").status_code == 200
    assert client.get("/readyz", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404


def test_behind_a_proxy_the_forwarded_client_address_decides(client, beat_alive, settings):
    # config.security.client_ip: a proxy on loopback does not make every client look local
    settings.TRUSTED_PROXY_COUNT = 1
    outside = client.get("/readyz", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert outside.status_code == 404


def test_a_probe_is_not_redirected_to_https(client, beat_alive, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_a_post_is_405(client, db):
    assert client.post("/readyz").status_code == 405


def _fresh_pools(app) -> None:
    """Drop the app's broker connections for the URL now configured. A pool closed with force_close_all stays in
    kombu's registry, and every later task (eager ones too) would fail on it with "Acquire on closed pool"."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None  # built on the old pool once a task was sent; eager tasks acquire from it too


@pytest.mark.celery_workers  # its ping may reach the suite's broker, where no worker must answer (tests/conftest.py)
def test_an_unreachable_broker_fails_broker_and_workers_in_words(client, beat_alive, settings):
    # issue 27: the broker and a worker's ping, with the broker down (nothing listens on port 1)
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.broker_url)
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    app.conf.update(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    _fresh_pools(app)
    try:
        response = client.get("/readyz")
    finally:
        app.conf.update(CELERY_TASK_ALWAYS_EAGER=before[0], CELERY_BROKER_URL=before[1])
        _fresh_pools(app)
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "failing: broker, workers"
    assert body["checks"]["broker"]["detail"].startswith("Unable to connect to Redis")
    # Where the ping itself fails to connect the check says so; where it connects to a broker that no worker answers
    # on (the suite's own Redis, on the PostgreSQL run), django-health-check's own words say the same.
    assert body["checks"]["workers"]["detail"].startswith(
        ("No worker could be asked: the broker did not answer", "Celery workers unavailable")
    )
