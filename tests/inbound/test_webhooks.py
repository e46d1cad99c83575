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
from tests.inbound.test_quarantine import NUL_SUBJECT
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


def mailgun_form(raw: bytes, key: str = SIGNING_KEY, timestamp: str = "", token: str = "", **extra: str) -> bytes:
    timestamp, token = timestamp or str(int(time.time())), token or uuid.uuid4().hex
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    fields = {
        **extra,
        "body-mime": raw.decode(),
        "recipient": "desk@exitdesk.localhost",
        "sender": "pat@customer.test",
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        **extra,
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


def postmark(live_server, body: bytes) -> int:
    return post(f"{live_server.url}/inbound/postmark/inbound/", body, "application/json")


def mailgun(live_server, form: bytes) -> int:
    return post(f"{live_server.url}/inbound/mailgun/inbound/", form, "application/x-www-form-urlencoded")


@pytest.mark.django_db(transaction=True)
def test_a_malformed_authenticated_post_is_a_400_never_a_500(live_server):
    """Context bullet "One message stops all intake": Postmark answered 500 to an authenticated post that is not JSON
    or is a JSON list; every body the view cannot read is now a 400 and stores nothing."""
    raw = email_bytes().decode()
    for body in [
        b"this is not json",
        b"\xff\xfe not even utf-8",
        json.dumps([{"RawEmail": raw}]).encode(),
        json.dumps("a string").encode(),
        json.dumps({"RawEmail": raw.replace("Hello", "Hel\x00lo")}).encode(),  # NUL in a field
        json.dumps({"RawEmail": 42}).encode(),
        json.dumps({"Headers": "not a list", "Subject": "x"}).encode(),
    ]:
        assert postmark(live_server, body) == 400, body[:40]
    assert mailgun(live_server, mailgun_form(email_bytes(), subject="Hel\x00lo")) == 400  # NUL in a form field
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_poison_message_posted_by_a_provider_is_quarantined_not_a_500(live_server):
    """Context bullet "One message stops all intake": the Postmark webhook answered 500 to the NUL-subject message."""
    payload = json.dumps({"RawEmail": NUL_SUBJECT.decode(), "OriginalRecipient": "desk@exitdesk.localhost"}).encode()
    assert postmark(live_server, payload) == 200
    assert InboundMessage.objects.get().status == InboundMessage.Status.QUARANTINED


@pytest.mark.django_db(transaction=True)
def test_a_mailgun_post_is_good_once_and_for_five_minutes(live_server):
    """Context bullet "Acknowledgements amplify spam": Mailgun posts with a reused or year-2001 timestamp were accepted.
    The signature covers the timestamp and the token: an old one, or a token seen before, is refused."""
    assert mailgun(live_server, mailgun_form(email_bytes(subject="2001"), timestamp="978307200")) == 400
    later = str(int(time.time()) + 6 * 60)
    assert mailgun(live_server, mailgun_form(email_bytes(subject="ahead"), timestamp=later)) == 400
    assert mailgun(live_server, mailgun_form(email_bytes(subject="not a time"), timestamp="soon")) == 400
    fresh = mailgun_form(email_bytes(subject="fresh"))
    assert mailgun(live_server, fresh) == 200
    assert mailgun(live_server, fresh) == 400  # the same post again: its token is used
    other = mailgun_form(
        email_bytes(subject="same token, new message"), token=urllib.parse.parse_qs(fresh.decode())["token"][0]
    )
    assert mailgun(live_server, other) == 400
    assert list(InboundMessage.objects.values_list("subject", flat=True)) == ["fresh"]
