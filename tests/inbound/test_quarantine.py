"""Poison messages are isolated, never blocking (issue 24): a message that cannot be stored is kept as a quarantined
raw copy with its error, the mailbox reads on past it and the next message is stored; staff see and count them."""

import imaplib

import pytest

from tests.inbound.conftest import email_bytes
from tickets.inbound.imap import fetch_all
from tickets.inbound.models import InboundMessage, Mailbox
from tickets.inbound.services import QUARANTINE_BYTES, receive

pytestmark = pytest.mark.django_db

Status = InboundMessage.Status

# The message that stopped all intake on e83345f: a NUL character in an encoded-word Subject (PostgreSQL refuses NUL
# in any text column, so the PostgreSQL run is the one that shows the old failure).
NUL_SUBJECT = email_bytes(sender="Mallory <mallory@evil.test>", subject="placeholder").replace(
    b"Subject: placeholder", b"Subject: =?utf-8?q?hello=00world?="
)


def deeply_nested(depth: int = 2000) -> bytes:
    """A message of `depth` nested multiparts: the standard library's parser gives up (RecursionError)."""
    head = b"From: Nested <nested@evil.test>\r\nTo: desk@exitdesk.localhost\r\nSubject: Russian dolls\r\n"
    head += b"Message-ID: <dolls@evil.test>\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (n, n) for n in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhello" + closing


POISON = {"NUL in the Subject": NUL_SUBJECT, "2,000 nested parts": deeply_nested()}


@pytest.fixture(autouse=True)
def _emails_in_process(tasks_in_process):
    """The acknowledgements go out in-process."""


@pytest.mark.parametrize("poison", POISON.values(), ids=POISON.keys())
def test_one_poison_message_never_stops_the_intake(cast, intake, poison):
    """Context bullet "One message stops all intake": a poison message appended between two good ones to the real
    Dovecot; one fetch stores all three, the poison one quarantined, and the mailbox moves past it."""
    mailbox = intake.mailbox()
    intake.append(email_bytes(subject="Before the poison"))
    intake.append(poison)
    intake.append(email_bytes(subject="After the poison"))
    [result] = fetch_all()
    assert (result.stored, result.quarantined, result.error) == (3, 1, "")
    stored = dict(InboundMessage.objects.values_list("subject", "status"))
    assert stored["Before the poison"] == stored["After the poison"] == Status.TRIAGE
    quarantined = InboundMessage.objects.get(status=Status.QUARANTINED)
    assert bytes(quarantined.raw) == poison.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
    assert quarantined.note.startswith("Quarantined, it could not be stored:")
    assert quarantined.from_email in {"mallory@evil.test", "nested@evil.test"}
    mailbox.refresh_from_db()
    assert (mailbox.failures, mailbox.last_error, mailbox.retry_after) == (0, "", None)
    assert mailbox.last_uid == _highest_uid(intake)
    assert intake.seen_flags() == [True, True, True]
    # Read again, nothing is new: the poison message is not fetched (nor failed on) a second time.
    assert fetch_all()[0].stored == 0


def _highest_uid(intake) -> int:
    client: imaplib.IMAP4 = intake.server.client()
    try:
        client.select("INBOX", readonly=True)
        typ, data = client.uid("SEARCH", None, "ALL")
        return max(int(uid) for uid in data[0].split())
    finally:
        client.logout()


def test_a_nul_in_the_subject_is_quarantined_with_its_error():
    message = receive(NUL_SUBJECT, source="webhook")
    assert message.status == Status.QUARANTINED
    assert "NUL character in its Subject header" in message.note
    # Shown to staff with a replacement character; the raw copy keeps the bytes as they came.
    assert message.subject == "hello\ufffdworld"
    assert bytes(message.raw) == NUL_SUBJECT


def test_a_nul_in_the_body_is_replaced_and_the_message_stored():
    message = receive(email_bytes(body="Please cancel\x00 our account.\n"), source="file")
    assert message.status == Status.TRIAGE
    assert message.text == "Please cancel\ufffd our account."


def test_a_poison_message_received_twice_is_quarantined_once():
    first = receive(NUL_SUBJECT, source="imap")
    again = receive(NUL_SUBJECT, source="webhook")
    assert again.pk == first.pk
    assert InboundMessage.objects.count() == 1


def test_a_large_poison_message_keeps_a_bounded_copy():
    poison = NUL_SUBJECT.replace(b"Hello, please", b"x" * (3 * QUARANTINE_BYTES))
    message = receive(poison, source="imap")
    assert message.status == Status.QUARANTINED
    assert len(bytes(message.raw)) == QUARANTINE_BYTES
    assert f"Only its first {QUARANTINE_BYTES:,} of {len(poison):,} bytes were kept." in message.note


def test_staff_find_and_count_the_quarantined_messages_in_the_admin(client, admin_user):
    mailbox = Mailbox.objects.create(name="intake", host="imap.test", username="intake@desk.test")
    receive(NUL_SUBJECT, source="imap", mailbox=mailbox)
    receive(deeply_nested(), source="imap", mailbox=mailbox)
    receive(email_bytes(subject="A fine request"), source="imap", mailbox=mailbox)
    client.force_login(admin_user)
    listed = client.get("/admin/inbound/inboundmessage/", {"status": Status.QUARANTINED}).text
    assert "Quarantined: could not be stored (2)" in listed
    assert "hello\ufffdworld" in listed and "Russian dolls" in listed and "A fine request" not in listed
    mailboxes = client.get("/admin/inbound/mailbox/").text
    assert '<td class="field-quarantined">2</td>' in mailboxes
