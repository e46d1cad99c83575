"""Acknowledgements don't amplify spam (issue 24): they never repeat what the sender wrote, and past INBOUND_ACK_RATE
an hour desk-wide they are skipped and counted."""

import pytest
from django.core import mail

from tests.inbound.conftest import email_bytes
from tests.test_settings import refused, start
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive


@pytest.fixture(autouse=True)
def _emails_sent(tasks_in_process):
    """Acknowledgements are sent in-process, as their transaction commits."""


@pytest.fixture
def received(django_capture_on_commit_callbacks):
    def receive_email(**fields) -> InboundMessage:
        fields.setdefault("authenticated", True)  # only an authenticated sender is acknowledged at all
        with django_capture_on_commit_callbacks(execute=True):
            return receive(email_bytes(**fields), source="file")

    return receive_email


def test_an_acknowledgement_never_quotes_the_senders_subject_or_name(db, received):
    """Context bullet "Acknowledgements amplify spam": the spammer's words are not sent on to a spoofed address."""
    received(sender="WIN A PRIZE at http://evil.test/name <victim@elsewhere.test>", subject="WIN at http://evil.test/")
    [acknowledgement] = mail.outbox
    assert acknowledgement.to == ["victim@elsewhere.test"]
    sent = (
        acknowledgement.subject + acknowledgement.body + "".join(str(v) for v in acknowledgement.extra_headers.values())
    )
    assert "evil.test" not in sent and "WIN" not in sent
    assert acknowledgement.subject == "We received your email"


def test_a_sender_not_authenticated_gets_no_acknowledgement(db, received):
    """Issue 24, "Acknowledgements: only to authenticated senders": a spoofed From (no trusted DMARC pass) hears
    nothing, so the desk sends no backscatter to the address an attacker wrote."""
    message = received(sender="victim@elsewhere.test", subject="Please cancel", authenticated=False)
    assert message.status == InboundMessage.Status.TRIAGE and not message.authenticated
    assert message.acknowledged_at is None
    assert mail.outbox == []


def test_acknowledgements_stop_at_the_desks_hourly_limit_and_are_counted(db, received, settings, client, admin_user):
    """Context bullet "Acknowledgements amplify spam": each spoofed address got one; now at most INBOUND_ACK_RATE."""
    settings.INBOUND_ACK_RATE = 3
    for n in range(5):
        received(sender=f"spoofed{n}@elsewhere.test", subject=f"Prize {n}")
    assert len(mail.outbox) == 3
    skipped = InboundMessage.objects.filter(acknowledgement_skipped_at__isnull=False)
    assert sorted(skipped.values_list("from_email", flat=True)) == [
        "spoofed3@elsewhere.test",
        "spoofed4@elsewhere.test",
    ]
    # Every message still waits in triage: only the acknowledgement was skipped.
    assert InboundMessage.objects.filter(status=InboundMessage.Status.TRIAGE).count() == 5
    client.force_login(admin_user)
    page = client.get("/admin/inbound/inboundmessage/").text
    assert "Skipped: the desk&#x27;s hourly limit was reached (2)" in page
    assert "Sent (3)" in page


def test_a_rate_of_zero_sends_no_acknowledgement(db, received, settings):
    settings.INBOUND_ACK_RATE = 0
    message = received(sender="pat@customer.test")
    assert mail.outbox == []
    message.refresh_from_db()
    assert message.acknowledgement_skipped_at is not None


def test_inbound_ack_rate_is_read_from_the_environment():
    code = "import django; django.setup(); from django.conf import settings as s; print(s.INBOUND_ACK_RATE)"
    assert start(code, SECRET_KEY="x").stdout.split() == ["60"]
    assert start(code, SECRET_KEY="x", INBOUND_ACK_RATE="5").stdout.split() == ["5"]
    assert refused(start(SECRET_KEY="x", INBOUND_ACK_RATE="lots"), "INBOUND_ACK_RATE")
    assert refused(start(SECRET_KEY="x", INBOUND_ACK_RATE="-1"), "INBOUND_ACK_RATE")
