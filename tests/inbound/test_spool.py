"""Issue 24, context bullet "Size": fetching 47 MB of mail peaked at 470 MB of memory (imap-tools fetched a batch of
100 messages at once, each parsed whole). Messages are now fetched one at a time, in chunks, into a temporary file
(tickets/inbound/spool.py); what is parsed is bounded, and the copy as received is written from the file. Peak
memory itself is measured by bench/mail_bench.py, not here."""

import imaplib
import io
import tempfile

import pytest

from tests.inbound.conftest import email_bytes
from tickets.inbound import spool
from tickets.inbound.imap import fetch_all
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import MAX_MESSAGE_BYTES


@pytest.fixture(autouse=True)
def _emails_in_process(tasks_in_process):
    """The acknowledgements go out in-process."""


@pytest.fixture
def literal_sizes(monkeypatch):
    """The size of every piece the IMAP client reads from the server's answers (a FETCH's literal is one)."""
    sizes = []
    read = imaplib.IMAP4.read

    def recording(self, size):
        sizes.append(size)
        return read(self, size)

    monkeypatch.setattr(imaplib.IMAP4, "read", recording)
    return sizes


def _same(stored: bytes, appended: bytes) -> bool:
    # The server hands the message back with CRLF line ends whatever it was appended with.
    return bytes(stored).replace(b"\r\n", b"\n") == appended.replace(b"\r\n", b"\n")


def test_messages_are_fetched_in_chunks_never_a_whole_message_or_batch(cast, intake, monkeypatch, literal_sizes):
    monkeypatch.setattr(spool, "CHUNK_BYTES", 16 * 1024)
    intake.mailbox()
    small = email_bytes(subject="first", body="Cancel line 1.\n")
    large = email_bytes(
        subject="second",
        body="Please cancel the lines in the list.\n" * 3000,
        attachments=[("lines.csv", "text/csv", b"line,number\n" + b"1,+15550100\n" * 10_000)],
    )
    last = email_bytes(subject="third", body="Cancel line 3.\n")
    for raw in (small, large, last):
        intake.append(raw)
    assert len(large) > 200 * 1024

    [result] = fetch_all()
    assert (result.stored, result.error) == (3, "")
    stored = {m.subject: m for m in InboundMessage.objects.all()}
    assert set(stored) == {"first", "second", "third"}
    assert _same(stored["second"].raw, large) and _same(stored["first"].raw, small)
    assert stored["second"].text.startswith("Please cancel the lines")
    # Nothing the client read from the server was larger than one chunk (on e83345f: the whole batch at once).
    assert max(literal_sizes) <= 16 * 1024
    assert intake.seen_flags() == [True, True, True]


def test_a_20_mb_email_keeps_a_bounded_text_and_leaves_out_a_file_no_case_takes(cast, intake):
    intake.mailbox()
    line = "Please cancel everything, every line, number and license of ours.\n"
    body = line * (12 * 1024 * 1024 // len(line)) + "THE VERY END\n"
    raw = email_bytes(
        subject="Long",
        body=body,
        attachments=[
            ("recording.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * (7 * 1024 * 1024)),
            ("lines.csv", "text/csv", b"line,number\n1,+15550100\n"),
        ],
    )
    assert 20 * 1024 * 1024 < len(raw) < MAX_MESSAGE_BYTES
    intake.append(raw)
    [result] = fetch_all()
    assert (result.stored, result.error) == (1, "")
    message = InboundMessage.objects.get()
    assert message.status == "triage"
    assert message.text.startswith("Please cancel everything") and "THE VERY END" not in message.text
    assert len(message.text) <= spool.TEXT_PART_BYTES
    assert "the email as received (download) holds all of it" in message.note
    assert "recording.pdf refused: larger than 5 MB" in message.note and "lines.csv" not in message.note
    # The copy as received is whole: staff download it from the admin and the API.
    assert _same(message.raw, raw)


def test_a_message_over_the_25_mb_cap_is_fetched_as_its_headers_and_ignored(cast, intake, literal_sizes):
    intake.mailbox()
    raw = email_bytes(subject="Huge", body="x" * 70 + "\n" * 1 + ("y" * 76 + "\n") * (MAX_MESSAGE_BYTES // 77 + 1000))
    assert len(raw) > MAX_MESSAGE_BYTES
    intake.append(raw)
    [result] = fetch_all()
    assert (result.stored, result.error) == (1, "")
    message = InboundMessage.objects.get()
    assert (message.status, message.subject) == ("ignored", "Huge")
    assert "Larger than 25 MB: only its headers were kept." in message.note
    assert len(message.raw) < 4096 and b"yyyy" not in bytes(message.raw)
    assert sum(literal_sizes) < 1024 * 1024  # its body was never downloaded


def test_what_is_parsed_is_the_message_itself_when_within_the_limits():
    raw = email_bytes(
        subject="Nested",
        body="Cancel it.\n",
        attachments=[("a.csv", "text/csv", b"a,b\n" * 1000), ("b.pdf", "application/pdf", b"%PDF-1.4\n" * 100)],
    ).replace(b"\n", b"\r\n")
    with tempfile.TemporaryFile() as file:
        file.write(raw)
        digest = spool.digest(file)
    assert digest.whole and digest.raw == raw and digest.size == len(raw)


def test_a_long_one_line_body_is_cut_by_lines_of_bounded_length():
    raw = b"From: pat@customer.test\r\nSubject: one line\r\n\r\n" + b"z" * (3 * spool.TEXT_PART_BYTES)
    digest = spool.digest(io.BytesIO(raw))
    assert digest.cut_text and not digest.left_out
    assert len(digest.raw) <= spool.TEXT_PART_BYTES + 1024


def test_a_copy_that_cannot_be_written_never_stops_the_mailbox(cast, intake, monkeypatch):
    monkeypatch.setattr(spool, "TEXT_PART_BYTES", 4096)

    def failing(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(spool, "store_raw", failing)
    intake.mailbox()
    intake.append(email_bytes(subject="long", body="Cancel it all.\n" * 1000))
    intake.append(email_bytes(subject="after", body="Cancel line 2.\n"))
    [result] = fetch_all()
    assert (result.stored, result.error) == (2, "")
    long = InboundMessage.objects.get(subject="long")
    assert long.status == "triage" and "could not be kept whole" in long.note
    assert InboundMessage.objects.get(subject="after").status == "triage"
