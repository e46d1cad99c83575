"""The probes and the metrics on the processes an operator runs (README "Running at scale"): gunicorn (two workers,
config/gunicorn.py, PROMETHEUS_MULTIPROC_DIR), a Celery worker and beat, on PostgreSQL and Redis (issue 27)."""

import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from bench.stack import Processes, free_port, wait_for_http
from tests.processes import CELERY, GUNICORN, PRODUCTION, clean_env, suite_database_url
from tickets.models import OPEN_STATES, Ticket

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),  # the processes see committed rows only
]
TOKEN = "metrics-token-of-the-process-test"


def get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for_readiness(url: str, processes: Processes, status: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        code, body = get(url)
        if code == status:
            return json.loads(body)
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz stayed {code} for {timeout:.0f} s, not {status}: {body.decode()[:2000]}")
        time.sleep(0.5)


def start_worker(processes: Processes, env: dict, name: str):
    args = [*CELERY, "worker", "-P", "solo", "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"]
    return processes.start(name, args, env)


def test_readyz_follows_the_worker_and_metrics_hold_every_spec_name(tmp_path):
    # issue 27: /healthz and /readyz 200 on real processes; stopping the worker turns /readyz 503 naming the workers
    # within 10 s, and back to 200 after a restart; /metrics merges django-prometheus's numbers across gunicorn's
    # workers and holds the desk's gauges
    env = clean_env(
        **PRODUCTION,
        DATABASE_URL=suite_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_QUEUE=f"probes-{uuid.uuid4().hex[:8]}",
        MEDIA_ROOT=str(tmp_path / "media"),
        METRICS_TOKEN=TOKEN,
    )
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_stale.db").write_bytes(b"left by yesterday's workers")
    web_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Processes(tmp_path / "logs") as processes:
        processes.start(
            "gunicorn", [*GUNICORN, "-c", "config/gunicorn.py", "--bind", f"127.0.0.1:{port}", "-w", "2"], web_env
        )
        worker = start_worker(processes, env, "probe-worker")
        processes.start("beat", [*CELERY, "beat", "-s", str(tmp_path / "beat-schedule"), "-l", "INFO"], env)
        wait_for_http(f"{base}/healthz", timeout=60)
        assert get(f"{base}/healthz") == (200, b"ok\n")
        assert not (metrics_dir / "counter_stale.db").exists()  # emptied by config/gunicorn.py at start

        ready = wait_for_readiness(f"{base}/readyz", processes, 200, timeout=90)
        processes.require_alive()
        assert ready["status"] == "ok"
        assert ready["checks"]["workers"] == {"ok": True, "detail": "ok"}
        assert ready["checks"]["broker"]["ok"] and ready["checks"]["beat"]["ok"]

        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        stopped = time.monotonic()
        down = wait_for_readiness(f"{base}/readyz", processes, 503, timeout=10)
        assert time.monotonic() - stopped <= 10
        assert down["status"] == "failing: workers"
        assert down["checks"]["workers"]["ok"] is False

        processes.started = [(name, p) for name, p in processes.started if p is not worker]  # stopped on purpose
        start_worker(processes, env, "probe-worker-2")
        again = wait_for_readiness(f"{base}/readyz", processes, 200, timeout=60)
        assert again["status"] == "ok"

        assert get(f"{base}/metrics")[0] == 404
        assert get(f"{base}/metrics", Authorization="Bearer wrong")[0] == 404
        get(f"{base}/api/v1/plans/")  # a request of the site's own (401 without a token), counted
        code, text = get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}")
        processes.require_alive()
    assert code == 200
    families = {family.name: family.samples for family in text_string_to_metric_families(text.decode())}
    names = {sample.name for samples in families.values() for sample in samples}
    for prefix in ("django_http_", "django_db_", "django_cache_"):
        assert any(name.startswith(prefix) and samples for name, samples in families.items()), prefix
    assert any(name.startswith("django_db_execute_total") for name in names)  # queries counted on PostgreSQL
    for name in (
        "exitdesk_tickets_open",
        "exitdesk_tickets_breached",
        "exitdesk_oldest_unassigned_seconds",
        "exitdesk_mailbox_fetch_age_seconds",
        "exitdesk_mail_quarantined",
        "exitdesk_purge_overdue_accounts",
        "exitdesk_outbox_pending",
        "exitdesk_outbox_oldest_pending_seconds",
        "exitdesk_task_failures",
    ):
        assert name in families, name
    opened = sum(sample.value for sample in families["exitdesk_tickets_open"])
    assert opened == Ticket.objects.filter(state__in=OPEN_STATES).count()
