"""Error reports (issue 27, SPEC §6b): with SENTRY_DSN set, an exception in a view and one in a Celery task reach
the error tracker, and neither report holds the PIN, the card digits or an email address (config/errors.py).

The tracker is a receiver in this test on 127.0.0.1 that keeps every envelope sentry-sdk posts; the desk runs in a
process of its own (sentry-sdk patches Django and Celery for the whole process), tasks in-process."""

import gzip
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.processes import clean_env, run

PIN, LAST4, EMAIL = "8642", "4242", "kim.owner@kixie.demo"


class Tracker(BaseHTTPRequestHandler):
    envelopes: list[bytes]

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.envelopes.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def tracker():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tracker)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def events(envelopes: list[bytes]) -> list[dict]:
    """The error events in the envelopes (a header line, then an item header and its payload per item)."""
    found = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [str(key), *strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


# The secrets come from the environment: the script's own lines are in the report as source context.
SCRIPT = """
import os
import sentry_sdk
from django.test import Client
from tests.ops.failing import notify_with_a_fault

names = ("EMAIL", "PIN", "LAST4", "TOKEN", "SESSION")
email, pin, last4, token, session = (os.environ[f"OPS_{key}"] for key in names)
answer = Client(raise_request_exception=False).post(
    "/ops-test/port-out-fault/", {"email": email, "pin": pin, "card_last4": last4},
    HTTP_AUTHORIZATION=f"Token {token}", HTTP_COOKIE=f"sessionid={session}",
)
print("view answered", answer.status_code)
notify_with_a_fault.delay(email, pin, last4)
sentry_sdk.flush(timeout=10)
"""


def test_a_failing_view_and_task_are_reported_without_the_pin_card_digits_or_email(tracker, tmp_path):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="tests.ops.settings_failing",
        SECRET_KEY="k3y-for-the-error-report-tests-only-1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SENTRY_DSN=f"http://public@127.0.0.1:{tracker.server_address[1]}/1",
        EMAIL_URL="dummymail://",
        OPS_EMAIL=EMAIL,
        OPS_PIN=PIN,
        OPS_LAST4=LAST4,
        OPS_TOKEN="0123456789abcdef",
        OPS_SESSION="s3cr3t",
    )
    done = run(["manage.py", "shell", "-c", SCRIPT], env, timeout=120)
    assert "view answered 500" in done.stdout, done.stderr

    reported = events(tracker.envelopes)
    mechanisms = {value["mechanism"]["type"] for event in reported for value in event["exception"]["values"]}
    assert {"django", "celery"} <= mechanisms  # one report from the view, one from the task
    text = "\n".join(s for event in reported for s in strings(event))
    assert "Carrier refused the port-out of [email]: PIN [digits], card ending [digits]" in text
    assert "Could not notify [email] about PIN [digits] and card [digits]" in text
    for secret in (PIN, LAST4):
        assert not re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", text), secret
    assert EMAIL not in text and "@kixie" not in text
    assert "0123456789abcdef" not in text and "s3cr3t" not in text
