"""Fixtures of the webhook tests: a real receiver process on 127.0.0.1, settings that let webhooks reach it, a
fast retry schedule, and endpoints and events to deliver."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tickets.webhooks import services

RECEIVER = Path(__file__).with_name("receiver.py")
# The default schedule scaled down (immediately, then 0.2 s ... ): fast, and still in the default's shape.
FAST_SCHEDULE = [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


class Receiver:
    """The receiver process (tests/webhooks/receiver.py) on a port of its own; `start()` may come late (down)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}/hooks/exitdesk"

    def start(self, **control) -> Receiver:
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self.process.stdout.readline().strip() == b"ready"
        if control:
            self.control(**control)
        return self

    def _call(self, path: str, payload: dict | None = None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def control(self, **control) -> None:
        self._call("/_control", control)

    def log(self) -> list[dict]:
        return self._call("/_log")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)
        if self.process is not None:
            self.process.stdout.close()
            self.process.stderr.close()


@pytest.fixture
def receiver():
    """`receiver()` is a Receiver, not started yet; each is stopped at the end of the test."""
    made: list[Receiver] = []

    def build() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield build
    for each in made:
        each.stop()


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_ALLOW_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_RETRY_SCHEDULE = FAST_SCHEDULE
    settings.WEBHOOK_TIMEOUT = 1.0
    settings.WEBHOOK_SWEEP_GRACE = 0


@pytest.fixture
def endpoint_for(cast):
    """`endpoint_for(url, **options)`: an endpoint a manager created, and its secret."""
    manager = cast("avoxi").manager

    def build(url: str, **options):
        return services.create_endpoint(actor=manager, url=url, **options)

    return build


@pytest.fixture
def worker_quiet_at_teardown(request):
    """With the real worker: disable every endpoint at the end (retries queued with a countdown then do nothing) and
    wait until the worker has nothing left, before the tables are flushed."""
    yield
    from celery.worker import state

    from config.celery import app
    from tickets.webhooks.models import WebhookEndpoint

    WebhookEndpoint.objects.update(enabled=False)

    def idle() -> bool:
        with app.connection_for_write() as connection:
            waiting = connection.default_channel.client.llen(app.conf.task_default_queue)
        return not waiting and not state.active_requests and not state.reserved_requests

    wait_for(lambda: idle() and (time.sleep(0.3) or idle()), timeout=30, what="the worker to finish its tasks")


@pytest.fixture
def client_for():
    """`client_for(user)`: an API client sending that user's token (None: anonymous), as in tests/api."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def build(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return build
