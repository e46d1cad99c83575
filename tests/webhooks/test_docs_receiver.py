"""The README's receiver (docs/webhook_receiver.py) run as a real process: it accepts what the desk sends, once per
webhook-id, and refuses what it did not sign (issue 26)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.outbox import EventType, record
from tickets.webhooks import services, signing, transport
from tickets.webhooks.addresses import check_url
from tickets.webhooks.models import Delivery

from .conftest import free_port, wait_for

pytestmark = pytest.mark.django_db
RECEIVER = Path(__file__).resolve().parents[2] / "docs" / "webhook_receiver.py"


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_the_documented_receiver_verifies_and_processes_each_webhook_id_once(endpoint_for, cast):
    # issue 26: a 30-line receiver verifying with standardwebhooks and deduping on webhook-id
    port = free_port()
    endpoint, secret = endpoint_for(f"http://127.0.0.1:{port}/")
    env = {**os.environ, "EXITDESK_WEBHOOK_SECRET": secret}
    process = subprocess.Popen([sys.executable, str(RECEIVER), str(port)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        account = cast("avoxi").account
        event = record(account, EventType.ACCOUNT_CANCELLED, {"account": account.account_id})
        (delivery_id,) = services.fan_out(event.pk)
        wait_for(lambda: listening(port), what="the receiver to listen")
        services.attempt_delivery(delivery_id)
        assert Delivery.objects.get().status == "delivered"
        body = signing.body_bytes(event)
        headers = signing.signed_headers(endpoint, event, body, timezone.now())
        again = transport.post(check_url(endpoint.url), body, headers, timeout=5)  # a retry of the same id
        forged = transport.post(check_url(endpoint.url), body, {**headers, "webhook-signature": "v1,AAAA"}, timeout=5)
    finally:
        process.terminate()
        output = process.communicate(timeout=5)[0]
    assert (again.status_code, forged.status_code) == (204, 400)
    assert output.splitlines() == [
        f'account.cancelled {account.account_id} {event.sequence} {{"account": "{account.account_id}"}}'
    ]
