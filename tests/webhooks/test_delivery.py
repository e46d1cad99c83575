"""Delivery of events to a real receiver process (SPEC §6a, issue 26), attempt by attempt, in this process: the
signature, what counts as delivered, retries and their schedule, timeouts, 410 and five days of failures, rotation,
and the address rules at delivery. tests/webhooks/test_worker.py runs the same path on real Celery workers."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

import config.settings as defaults
from accounts.outbox import EventType, record
from tickets.webhooks import services, signing, transport
from tickets.webhooks.addresses import Target
from tickets.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint

pytestmark = pytest.mark.django_db


def one_delivery(endpoint, event) -> Delivery:
    ids = services.fan_out(event.pk)
    return Delivery.objects.get(pk__in=ids, endpoint=endpoint)


def attempt(delivery: Delivery) -> Delivery:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # due now, whatever the schedule
    services.attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


@pytest.fixture
def new_event(cast):
    """`new_event()`: an account cancelled, recorded now (after the endpoints the test set up, which receive it)."""
    account = cast("avoxi").account

    def build():
        return record(account, EventType.ACCOUNT_CANCELLED, {"account": account.account_id, "reason": "too_expensive"})

    return build


def test_a_delivery_is_signed_as_standard_webhooks_and_carries_the_event_body(receiver, endpoint_for, new_event):
    # issue 26: webhook-id, webhook-timestamp, webhook-signature, verified by the reference library
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret])
    delivery = attempt(one_delivery(endpoint, event))
    (seen,) = hook.log()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert seen["verified"] == [True] and seen["processed"]
    assert seen["id"] == event.public_id
    assert seen["body"] == json.loads(json.dumps(event.body()))
    assert seen["body"]["sequence"] == event.sequence and seen["path"] == "/hooks/exitdesk"
    assert secret.startswith("whsec_")


def test_a_500_is_retried_with_the_same_webhook_id_until_a_200(receiver, endpoint_for, new_event):
    # issue 26: any 2xx delivers, anything else is a failure retried; every attempt is a row with 2 kB of the answer
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret], plan=[500])
    delivery = attempt(one_delivery(endpoint, event))
    assert (delivery.status, delivery.last_status_code) == ("failed", 500)
    assert delivery.next_attempt_at > timezone.now() - dt.timedelta(seconds=1)
    delivery = attempt(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    first, second = DeliveryAttempt.objects.filter(delivery=delivery)
    assert (first.status_code, len(first.response), second.status_code) == (500, 2048, 200)
    assert [entry["id"] for entry in hook.log()] == [event.public_id] * 2
    assert [entry["processed"] for entry in hook.log()] == [False, True]


def test_a_redirect_is_a_failure_and_is_not_followed(receiver, endpoint_for, new_event):
    # issue 26: 3xx is a failure; redirects are not followed
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret], plan=[302])
    delivery = attempt(one_delivery(endpoint, event))
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)
    assert len(hook.log()) == 1


def test_a_hanging_receiver_times_out(receiver, endpoint_for, new_event, settings):
    # issue 26: the timeout (15 s; WEBHOOK_TIMEOUT, 1 s here) ends an attempt that gets no answer
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret], plan=["hang"])
    started = time.monotonic()
    delivery = attempt(one_delivery(endpoint, event))
    took = time.monotonic() - started
    (row,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert delivery.status == "failed" and row.status_code is None
    assert "timed out" in row.error.lower() or "timeout" in row.error.lower()
    assert settings.WEBHOOK_TIMEOUT <= took < settings.WEBHOOK_TIMEOUT + 2
    assert defaults.WEBHOOK_TIMEOUT == 15


def test_a_receiver_that_is_down_is_a_failed_attempt(receiver, endpoint_for, new_event):
    # issue 26: connection refused is a failure like any other
    hook = receiver()  # never started
    endpoint, _secret = endpoint_for(hook.url)
    event = new_event()
    delivery = attempt(one_delivery(endpoint, event))
    (row,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert delivery.status == "failed" and row.status_code is None and "refused" in row.error.lower()


def test_410_disables_the_endpoint_at_once_and_tells_its_owners(
    receiver, endpoint_for, new_event, django_capture_on_commit_callbacks
):
    # issue 26: 410 Gone disables the endpoint at once; its owners are emailed
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret], plan=[410])
    with django_capture_on_commit_callbacks(execute=True):
        attempt(one_delivery(endpoint, event))
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    (message,) = mail.outbox
    assert message.to == [endpoint.created_by.email] and endpoint.url in message.body
    assert services.attempt_delivery(Delivery.objects.get().pk).attempted is False  # nothing goes to it now


def test_five_days_of_failures_disable_the_endpoint(
    receiver, endpoint_for, new_event, django_capture_on_commit_callbacks
):
    # issue 26: an endpoint failing everything for 5 days is disabled and its owners emailed
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret], default=500)
    delivery = one_delivery(endpoint, event)
    attempt(delivery)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - dt.timedelta(days=4.9))
    attempt(delivery)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).enabled
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - dt.timedelta(days=5))
    with django_capture_on_commit_callbacks(execute=True):
        attempt(delivery)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "5 days" in endpoint.disabled_reason
    assert len(mail.outbox) == 1


def test_a_delivered_attempt_ends_the_failing_streak(receiver, endpoint_for, new_event):
    # issue 26: "failing everything": one success resets the five days
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret], plan=[500])
    delivery = attempt(one_delivery(endpoint, event))
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is not None
    attempt(delivery)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_retry_after_is_honoured_on_429(receiver, endpoint_for, new_event):
    # issue 26: Retry-After on 429 and 503 puts the next attempt no sooner than it says
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret], plan=[[429, 1], [503, 1]])
    delivery = attempt(one_delivery(endpoint, event))
    assert delivery.next_attempt_at >= timezone.now() + dt.timedelta(seconds=0.5)
    delivery = attempt(delivery)
    assert delivery.last_status_code == 503
    assert delivery.next_attempt_at >= timezone.now() + dt.timedelta(seconds=0.5)


def test_after_the_last_scheduled_attempt_the_delivery_is_exhausted(receiver, endpoint_for, new_event, settings):
    # issue 26: immediately then 7 retries, then exhausted
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret], default=500)
    delivery = one_delivery(endpoint, event)
    for _ in range(len(settings.WEBHOOK_RETRY_SCHEDULE)):
        delivery = attempt(delivery)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("exhausted", 8, None)
    assert services.attempt_delivery(delivery.pk).attempted is False


def test_the_default_schedule_is_immediately_5s_5min_30min_2h_5h_10h_10h_jittered(settings):
    # issue 26: the default retry schedule, each delay within ±10 %
    assert defaults.WEBHOOK_RETRY_SCHEDULE == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    settings.WEBHOOK_RETRY_SCHEDULE = defaults.WEBHOOK_RETRY_SCHEDULE
    settings.WEBHOOK_RETRY_JITTER = defaults.WEBHOOK_RETRY_JITTER
    for attempts, expected in enumerate(defaults.WEBHOOK_RETRY_SCHEDULE[1:], start=1):
        delays = [services.retry_delay(attempts) for _ in range(50)]
        assert all(0.9 * expected <= delay <= 1.1 * expected for delay in delays)
        assert len(set(delays)) > 1  # jittered
    assert services.retry_delay(8) is None
    assert services.retry_delay(2, retry_after=1000) == 1000  # a Retry-After longer than the schedule's step wins


def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours_and_not_after(endpoint_for, new_event, receiver):
    # issue 26: rotation keeps the old secret signing for 24 h (two v1, signatures), verified by the library
    endpoint, old = endpoint_for(receiver().url)
    event = new_event()
    body = signing.body_bytes(event)
    rotated_at = timezone.now()
    with time_machine.travel(rotated_at, tick=False):
        new = services.rotate_secret(endpoint=endpoint, actor=endpoint.created_by)
    endpoint.refresh_from_db()
    for hours, old_verifies in ((0, True), (23.9, True), (24.1, False)):
        at = rotated_at + dt.timedelta(hours=hours)
        with time_machine.travel(at, tick=False):
            headers = signing.signed_headers(endpoint, event, body, timezone.now())
            assert Webhook(new).verify(body, headers)["id"] == event.public_id
            assert headers["webhook-signature"].count("v1,") == (2 if old_verifies else 1)
            if old_verifies:
                assert Webhook(old).verify(body, headers)["id"] == event.public_id
            else:
                with pytest.raises(WebhookVerificationError):
                    Webhook(old).verify(body, headers)


def test_a_rotated_secret_reaches_the_receiver_with_both_signatures(receiver, endpoint_for, new_event):
    # issue 26: during the overlap a receiver holding either secret verifies the delivery
    hook = receiver()
    endpoint, old = endpoint_for(hook.url)
    event = new_event()
    new = services.rotate_secret(endpoint=endpoint, actor=endpoint.created_by)
    hook.start(secrets=[old, new])
    attempt(one_delivery(endpoint, event))
    (seen,) = hook.log()
    assert seen["verified"] == [True, True] and seen["signatures"] == 2


def test_a_private_address_is_refused_at_delivery_too(receiver, endpoint_for, new_event, settings):
    # issue 26: addresses are checked again at each delivery: a network no longer allowed gets nothing
    hook = receiver()
    endpoint, secret = endpoint_for(hook.url)
    event = new_event()
    hook.start(secrets=[secret])
    settings.WEBHOOK_ALLOW_NETWORKS = []
    delivery = attempt(one_delivery(endpoint, event))
    (row,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert delivery.status == "failed" and row.status_code is None and row.error.startswith("Refused")
    assert hook.log() == []


@pytest.mark.parametrize("url", ["https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data/"])
def test_an_endpoint_stored_with_a_private_address_gets_nothing_at_delivery(url, new_event):
    # issue 26: an endpoint on 10.0.0.1 or 169.254.169.254 is refused at delivery (never connected to)
    endpoint = WebhookEndpoint.objects.create(url=url, events=["*"])
    event = new_event()
    delivery = attempt(one_delivery(endpoint, event))
    (row,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert row.error.startswith("Refused") and "resolves to" in row.error and row.duration_ms == 0


def test_the_connection_goes_to_the_checked_address_with_the_urls_host(receiver):
    # issue 26: no DNS-rebinding window: connect to the address checked, keep the host for Host (and TLS)
    hook = receiver().start(secrets=[])
    target = Target(scheme="http", host="hooks.example.test", port=hook.port, path="/in", address="127.0.0.1")
    answer = transport.post(target, b"{}", {"webhook-id": "msg_x"}, timeout=2)
    (seen,) = hook.log()
    assert answer.status_code == 200
    assert (seen["host"], seen["path"]) == (f"hooks.example.test:{hook.port}", "/in")


def test_https_to_the_checked_address_verifies_the_certificate_for_the_urls_host(tmp_path, settings):
    # issue 26: the pinned address keeps TLS's SNI and certificate name: the URL's host, not the address
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ]
        + ["-subj", "/CN=hooks.example.test", "-addext", "subjectAltName=DNS:hooks.example.test"],
        check=True,
        capture_output=True,
    )
    seen, names = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append((self.headers["Host"], names[-1]))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            return

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda connection, name, _context: names.append(name)
    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.WEBHOOK_CA_BUNDLE = str(cert)
    port = server.server_address[1]
    try:
        good = Target(scheme="https", host="hooks.example.test", port=port, path="/", address="127.0.0.1")
        wrong = Target(scheme="https", host="other.example.test", port=port, path="/", address="127.0.0.1")
        answered = transport.post(good, b"{}", {}, timeout=5)
        refused = transport.post(wrong, b"{}", {}, timeout=5)
    finally:
        server.shutdown()
    assert answered.status_code == 204 and seen == [(f"hooks.example.test:{port}", "hooks.example.test")]
    assert refused.status_code is None and "doesn't match 'hooks.example.test'" in refused.error
