"""Hosted inbound (django-anymail): each provider's signed post, sent to the live test server as the provider
sends it, lands in the same pipeline; a post failing its check stores nothing."""

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from tests.inbound.conftest import email_bytes
from tickets.inbound.models import InboundMessage

SECRET = "desk-hook:s3cret-words"
SIGNING_KEY = "key-mailgun-signing-0123456789"


@pytest.fixture(autouse=True)
def _configured(settings, tasks_in_process):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def post(url: str, body: bytes, content_type: str, auth: str | None = SECRET) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the live test server
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def mailgun_form(raw: bytes, key: str = SIGNING_KEY) -> bytes:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    fields = {
        "body-mime": raw.decode(),
        "recipient": "desk@exitdesk.localhost",
        "sender": "pat@customer.test",
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }
    return urllib.parse.urlencode(fields).encode()


@pytest.mark.django_db(transaction=True)
def test_signed_posts_from_mailgun_and_postmark_join_the_pipeline(live_server, cast):
    desk = cast("avoxi")
    mailgun = email_bytes(sender=desk.owner.email, subject="via mailgun", message_id="<mg@customer.test>")
    assert (
        post(f"{live_server.url}/inbound/mailgun/inbound/", mailgun_form(mailgun), "application/x-www-form-urlencoded")
        == 200
    )
    postmark = email_bytes(sender=desk.owner.email, subject="via postmark", message_id="<pm@customer.test>")
    payload = json.dumps({"RawEmail": postmark.decode(), "OriginalRecipient": "desk@exitdesk.localhost"}).encode()
    assert post(f"{live_server.url}/inbound/postmark/inbound/", payload, "application/json") == 200
    stored = {m.message_id: (m.subject, m.status, m.source, m.member_id) for m in InboundMessage.objects.all()}
    assert stored == {
        "<mg@customer.test>": ("via mailgun", "triage", "webhook", desk.owner.pk),
        "<pm@customer.test>": ("via postmark", "triage", "webhook", desk.owner.pk),
    }


@pytest.mark.django_db(transaction=True)
def test_a_post_failing_its_signature_or_basic_auth_stores_nothing(live_server, settings):
    raw = email_bytes()
    url = f"{live_server.url}/inbound/mailgun/inbound/"
    assert post(url, mailgun_form(raw, key="key-somebody-else"), "application/x-www-form-urlencoded") == 400
    assert post(url, mailgun_form(raw), "application/x-www-form-urlencoded", auth="desk-hook:guess") == 400
    payload = json.dumps({"RawEmail": raw.decode()}).encode()
    assert post(f"{live_server.url}/inbound/postmark/inbound/", payload, "application/json", auth=None) == 400
    # A provider whose security is not configured has no endpoint at all.
    settings.ANYMAIL = {"WEBHOOK_SECRET": "", "MAILGUN_WEBHOOK_SIGNING_KEY": ""}
    assert post(f"{live_server.url}/inbound/postmark/inbound/", payload, "application/json", auth=None) == 404
    assert not InboundMessage.objects.exists()
