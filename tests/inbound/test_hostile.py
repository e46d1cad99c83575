"""Issue 24, "The From header is believed, staff included": the crafted messages of tests/inbound/hostile/, each
appended to the real Dovecot intake mailbox and read by the desk as any mail (inbound.imap.fetch_all).

Each .eml is written as an attacker (or a customer's own server) sends it; `${NAME}` placeholders are filled with this
test's people and the reply addresses the desk signed for them (ticket ids and user ids differ from run to run).
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest
from django.core import mail
from django.utils import timezone

from tickets.inbound import addresses
from tickets.inbound.imap import fetch_all
from tickets.inbound.models import InboundMessage
from tickets.models import Comment, Ticket
from tickets.services import Request, submit_ticket, transition_ticket

HOSTILE = Path(__file__).parent / "hostile"
Status = InboundMessage.Status


@dataclass(frozen=True)
class Outcome:
    status: str
    comment: bool = False  # a comment (public or internal) was added to a case
    verified: bool = False  # "Known customer" in triage, `verified` in the API
    note: str = ""  # what the agent reads on the message


NOT_VERIFIED = "Sender not verified"
EXPECTED = {
    # The manager's address on a reply to the owner's reply address: no internal note "verified by phone".
    "spoofed-staff-reply.eml": Outcome(Status.TRIAGE, note="staff never act by email"),
    # Even authenticated, staff never act by email: their reply waits in triage, never a note by them.
    "staff-reply-authenticated.eml": Outcome(Status.TRIAGE, note="staff never act by email"),
    # The owner's From, no Authentication-Results: not a comment by the owner.
    "spoofed-owner-reply-without-authentication-results.eml": Outcome(Status.TRIAGE, note=NOT_VERIFIED),
    # The desk's own MTA (a trusted authserv-id) says DMARC passed for the owner's domain: the owner's comment.
    "owner-reply-trusted-dmarc-pass.eml": Outcome(Status.COMMENT, comment=True, verified=True, note="Reply by"),
    # The same header, written by a server the desk does not trust (RFC 8601 §5): ignored.
    "owner-reply-untrusted-authserv-id.eml": Outcome(Status.TRIAGE, note="does not trust"),
    "owner-reply-trusted-dmarc-fail.eml": Outcome(Status.TRIAGE, note="DMARC fail"),
    # New mail spoofing the owner: not "Known customer", and it waits (converting it needs a confirmed requester).
    "spoofed-owner-new-mail.eml": Outcome(Status.TRIAGE, note=NOT_VERIFIED),
    # The owner's reply address used by another (authenticated) member of the account: not threaded.
    "reply-address-of-another-recipient.eml": Outcome(Status.TRIAGE, verified=True, note="another recipient"),
    # A case closed longer ago than INBOUND_REPLY_GRACE_DAYS: its reply address stopped working.
    "reply-to-a-case-closed-past-grace.eml": Outcome(Status.TRIAGE, verified=True, note="stopped working"),
    # The per-ticket address of before (no recipient): refused, waits in triage.
    "old-format-reply-address.eml": Outcome(Status.TRIAGE, verified=True, note="old-format reply address"),
}


@pytest.fixture
def scene(cast, tasks_in_process, django_capture_on_commit_callbacks):
    from accounts import services

    desk = cast("avoxi")
    with django_capture_on_commit_callbacks(execute=True):
        desk.ticket = submit_ticket(
            account=desk.account,
            kind="number_cancellation",
            requester=desk.owner,
            request=Request(
                numbers=[services.add_number(account=desk.account, number="+12025550101")],
                full_name="Owner",
                contact=desk.owner.email,
            ),
        )
        closed = submit_ticket(
            account=desk.account,
            kind="number_cancellation",
            requester=desk.owner,
            request=Request(
                numbers=[services.add_number(account=desk.account, number="+12025550102")],
                full_name="Owner",
                contact=desk.owner.email,
            ),
        )
        transition_ticket(ticket=closed, name="reject", actor=desk.agent, reason="The number is in a contract")
    # Closed 31 days ago: past INBOUND_REPLY_GRACE_DAYS (30 by default).
    Ticket.objects.filter(pk=closed.pk).update(closed_at=timezone.now() - dt.timedelta(days=31))
    desk.closed = closed
    mail.outbox.clear()
    return desk


def crafted(name: str, desk) -> bytes:
    values = {
        "OWNER": desk.owner.email,
        "OWNER_DOMAIN": desk.owner.email.rpartition("@")[2],
        "BILLING_ADMIN": desk.billing_admin.email,
        "STAFF": desk.manager.email,
        "TICKET": desk.ticket.pk,
        "CLOSED_TICKET": desk.closed.pk,
        "REPLY_TO_OWNER": addresses.reply_address(desk.ticket.pk, desk.owner.pk),
        "REPLY_TO_STAFF": addresses.reply_address(desk.ticket.pk, desk.manager.pk),
        "REPLY_TO_OWNER_CLOSED": addresses.reply_address(desk.closed.pk, desk.owner.pk),
    }
    text = (HOSTILE / name).read_text()
    if "${BIG_BODY}" in text:  # 20 MB of lines, made here rather than kept in the repository
        values["BIG_BODY"] = "All work and no play makes a very long letter. " * 20 + "\n"
        values["BIG_BODY"] *= 20 * 1024 * 1024 // len(values["BIG_BODY"])
    return Template(text).substitute(values).encode()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_crafted_message_read_over_imap_acts_only_as_far_as_its_sender_is_authenticated(
    name, scene, intake, django_capture_on_commit_callbacks
):
    # rule: SPEC §6 "Email in", Trust (issue 24)
    expected = EXPECTED[name]
    assert expected.note, "every outcome names what the agent reads"
    intake.mailbox()
    intake.append(crafted(name, scene))

    with django_capture_on_commit_callbacks(execute=True):
        [result] = fetch_all()

    assert (result.stored, result.error) == (1, "")
    message = InboundMessage.objects.get()
    assert message.status == expected.status, message.note
    assert expected.note in message.note or expected.note in message.authentication
    assert message.verified is expected.verified
    comments = Comment.objects.filter(ticket__in=[scene.ticket, scene.closed])
    assert comments.exists() is expected.comment
    if expected.comment:
        [comment] = comments
        assert (comment.author, comment.public, comment.ticket) == (scene.owner, True, scene.ticket)
    # No internal note by a member of staff, nor anybody's words on the case from mail that was not authenticated.
    assert not Comment.objects.filter(author__is_staff=True).exists()
    # Only an authenticated sender hears from the desk (an acknowledgement of what waits in triage).
    acknowledged = expected.verified and expected.status == Status.TRIAGE
    assert len([m for m in mail.outbox if m.to == [message.from_email]]) == int(acknowledged)


# Messages that would stop the intake or flood a case once stored (issue 24's poison, attachment and size bullets).
SHAPES = {
    # A NUL in an encoded word of the Subject (PostgreSQL refuses NUL): quarantined, and the next message is stored.
    "nul-in-the-subject.eml": Status.QUARANTINED,
    # The owner's authenticated reply with 30 files: a comment, and the case takes its 20 (the portal's limit).
    "thirty-attachments.eml": Status.COMMENT,
    # 20 MB of text: stored with its text bounded, waiting in triage like any unknown sender's mail.
    "twenty-mb-body.eml": Status.TRIAGE,
    # An auto-reply (to the desk's own acknowledgement, say): ignored, and answered by nothing (no loop).
    "looping-auto-reply.eml": Status.IGNORED,
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_a_crafted_message_never_stops_the_intake_nor_floods_a_case(
    name, scene, intake, django_capture_on_commit_callbacks, settings
):
    # rule: SPEC §6 "Email in", "a message that cannot be stored is quarantined and never blocks the ones after it"
    intake.mailbox()
    intake.append(crafted(name, scene))
    intake.append(crafted("spoofed-owner-new-mail.eml", scene))  # an ordinary message right behind it

    with django_capture_on_commit_callbacks(execute=True):
        [result] = fetch_all()

    assert (result.stored, result.error) == (2, "")
    message, behind = InboundMessage.objects.order_by("pk")
    assert message.status == SHAPES[name], message.note
    assert behind.status == Status.TRIAGE and behind.message_id == "<spoofed-owner-new@attacker.test>"
    stored = scene.ticket.attachments.count()
    assert stored == (settings.ATTACHMENTS_PER_TICKET if name == "thirty-attachments.eml" else 0)
    if name == "twenty-mb-body.eml":
        assert len(message.text) <= 256 * 1024 and "very long letter" in message.text
    assert not [m for m in mail.outbox if m.to == [message.from_email] and name == "looping-auto-reply.eml"]


def test_the_corpus_holds_each_crafted_message_once():
    assert {path.name for path in HOSTILE.glob("*.eml")} == set(EXPECTED) | set(SHAPES)
