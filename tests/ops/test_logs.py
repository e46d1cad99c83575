"""Logs (issue 27, SPEC §6b): with LOG_FORMAT=json every process writes one JSON object a line, each line of a
request carries its request id and so does each line of the Celery tasks it queued, and no line holds the demo's
PIN, card digits, passwords, tokens or email addresses.

The desk runs as an operator runs it, in processes of its own: migrate, the demo, gunicorn and (on PostgreSQL with
Redis) a Celery worker; on the embedded SQLite default the tasks run in the web process."""

import contextlib
import json
import re
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from django.db import connection

from bench.stack import Processes, drop_database, free_port, fresh_database
from tests.processes import CELERY, clean_env, on_postgres, run
from tests.purge.conftest import wait_for
from tests.test_settings import refused, start
from tickets.management.commands.demo import ACCOUNTS, DEMO_PASSWORD, DEMO_PIN, ROLE_MAILBOXES, STAFF

SECRET_KEY = "k3y-for-the-log-tests-only-9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a"


@pytest.fixture
def stack_env(tmp_path):
    """The environment of a fresh desk with JSON logs: a new database (and on PostgreSQL, Redis and a queue)."""
    values = {
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "EMAIL_URL": "dummymail://",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOG_FORMAT": "json",
    }
    if not on_postgres():
        yield clean_env(**values, DATABASE_URL=f"sqlite:///{tmp_path / 'desk.sqlite3'}")
        return
    name = f"{connection.settings_dict['NAME']}_logs"
    values |= {"CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_QUEUE": f"logs-{uuid.uuid4().hex[:8]}"}
    yield clean_env(**values, DATABASE_URL=fresh_database(name))
    drop_database(name)


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own loopback server
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.celery_workers
def test_json_logs_of_a_demo_run_carry_request_ids_into_tasks_and_no_secret(stack_env, tmp_path):
    for command in (["migrate", "-v", "0"], ["demo", "-v", "0"]):
        done = run(["manage.py", *command], stack_env)
        assert done.returncode == 0, done.stderr[-3000:]
        (tmp_path / f"{command[0]}.log").write_text(done.stderr)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Processes(tmp_path / "logs") as processes:
        if "CELERY_BROKER_URL" in stack_env:
            queue = stack_env["CELERY_QUEUE"]
            processes.start("worker", [*CELERY, "worker", "-P", "solo", "-Q", queue, "-n", f"{queue}@%h"], stack_env)
        processes.gunicorn("web", port, stack_env, workers=1)
        # rule K11: the owner of the Kixie demo account asks for a port-out with the account's PIN
        owner = f"owner@{ACCOUNTS[0].domain}"
        assert call(base, "POST", "/api/v1/auth/token/", {"email": owner, "password": "not-the-password"})[0] == 400
        status, answer = call(base, "POST", "/api/v1/auth/token/", {"email": owner, "password": DEMO_PASSWORD})
        assert status == 200, answer
        token = answer["token"]
        account = call(base, "GET", "/api/v1/accounts/", token=token)[1]["results"][0]
        numbers = call(base, "GET", f"/api/v1/accounts/{account['id']}/numbers/", token=token)[1]["results"]
        free = [n["id"] for n in numbers if n["status"] == "active"]
        port_out = {
            "kind": "port_out",
            "account": account["id"],
            "full_name": "Kim Owner",
            "contact": owner,
            "numbers": free[:1],
            "gaining_carrier": "Telnyx",
            "authorized_name": "Kim Owner",
            "pin": DEMO_PIN,
        }
        status, answer = call(base, "POST", "/api/v1/tickets/", port_out, token=token)
        assert status == 201, answer

        # A one-time link's token is in its path: the logs show the path without it.
        link_token = "MTIz-c9x4k2-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/port-out/withdraw/{link_token}/?next={link_token}", timeout=30)  # noqa: S310

        web_lines = json_lines((tmp_path / "logs" / "web.log").read_text())
        finished = [line for line in web_lines if line["event"] == "request_finished"]
        posted = [line for line in finished if line["request"] == "POST /api/v1/tickets/"]
        assert len(posted) == 1 and posted[0]["code"] == 201
        request_id = posted[0]["request_id"]
        if "CELERY_BROKER_URL" in stack_env:
            # The port-out's alert to the owner and billing admins (SPEC §4) runs on the worker, under the request's id.
            def worker_lines() -> list[dict]:
                processes.require_alive()
                return json_lines((tmp_path / "logs" / "worker.log").read_text())

            def ran() -> bool:
                return any(
                    line["event"] == "task_succeeded" and line.get("request_id") == request_id
                    for line in worker_lines()
                )

            wait_for(
                ran,
                timeout=60,
                what="the worker to run the port-out's tasks",
            )
            task_lines = [line for line in worker_lines() if line.get("request_id") == request_id]
            assert {line["event"] for line in task_lines} >= {"task_started", "task_succeeded"}
        else:
            # No broker: the tasks run in the web process, inside the request, and their lines carry its id.
            task_lines = [line for line in web_lines if line["logger"] == "celery.app.trace"]
            assert task_lines and all(line.get("request_id") == request_id for line in task_lines)
        logs = {path.name: path.read_text() for path in [*tmp_path.glob("*.log"), *(tmp_path / "logs").glob("*.log")]}

    # One JSON object a line: every line of the web process but gunicorn's own ("[2026-...] [INFO] Starting ...").
    web = logs["web.log"].splitlines()
    assert all(line.startswith("[") or json.loads(line) for line in web)
    # Every line written while a request is served (one gunicorn worker: one request at a time) carries its id,
    # the middleware's own and the desk's (django-axes' sign-in lines, the tasks' when they run in-process).
    current, inside = None, []
    for line in json_lines(logs["web.log"]):
        if line["event"] == "request_started":
            current = line["request_id"]
        if current:
            inside.append(line)
            assert line.get("request_id") == current, line
        if line["event"] in {"request_finished", "request_failed"} and line["code"] < 400:
            current = None  # Django's own line for a 4xx or 5xx ("Bad Request: /path") follows the middleware's
    paths = {line.get("request") for line in inside}
    assert "GET /port-out/withdraw/[redacted]?next=[redacted]" in paths
    assert len(inside) >= 12 and {line["logger"] for line in inside} > {"django_structlog.middlewares.request"}

    emails = [spec.email for spec in STAFF] + [
        f"{mailbox}@{spec.domain}" for spec in ACCOUNTS for mailbox in ROLE_MAILBOXES.values()
    ]
    cards = {spec.card[1] for spec in ACCOUNTS if spec.card}
    for name, text in logs.items():
        for secret in [DEMO_PIN, *cards]:
            assert not re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", text), (name, secret)
        for secret in [DEMO_PASSWORD, "not-the-password", token, link_token, *emails]:
            assert secret not in text, (name, secret)


def test_an_unknown_log_format_or_level_refuses_to_start():
    assert refused(start(SECRET_KEY="x", LOG_FORMAT="yaml"), "LOG_FORMAT", "json")
    assert refused(start(SECRET_KEY="x", LOG_LEVEL="loud"), "LOG_LEVEL")
