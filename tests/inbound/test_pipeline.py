"""One pipeline for every email: stored once, machines' mail dropped, replies threaded, attachments checked."""

import pytest
from django.core import mail

from tests.inbound.conftest import email_bytes
from tickets.inbound import addresses
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive
from tickets.models import Comment
from tickets.services import Request, assign_ticket, submit_ticket

Status = InboundMessage.Status
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _emails_sent(tasks_in_process, django_capture_on_commit_callbacks):
    """Acknowledgements and the assignee's email are sent in-process, as their transaction commits: these tests
    read the outbox."""
    global committed
    committed = django_capture_on_commit_callbacks


committed = None


def receive_email(**fields) -> InboundMessage:
    """A message whose sender the desk's MTA authenticated (DMARC pass, trusted authserv-id), unless told otherwise."""
    fields.setdefault("authenticated", True)
    with committed(execute=True):
        return receive(email_bytes(**fields), source="file")


@pytest.fixture
def desk(cast):
    return cast("avoxi")


@pytest.fixture
def ticket(desk):
    with committed(execute=True):
        return submit_ticket(
            account=desk.account,
            kind="number_cancellation",
            requester=desk.owner,
            request=Request(numbers=[_number(desk)], full_name="Owner", contact=desk.owner.email),
        )


def _number(desk):
    from accounts import services

    return services.add_number(account=desk.account, number="+12025550101")


def _reply(ticket, desk, *, sender=None, to=None, body="Yes, go ahead please.", **fields) -> InboundMessage:
    """A reply to the owner's copy of the ticket's email (its reply address is signed for the ticket and the owner)."""
    return receive_email(
        sender=sender or desk.owner.email,
        to=to or addresses.reply_address(ticket.pk, desk.owner.pk),
        subject=f"Re: [Exitdesk #{ticket.pk}]",
        body=body,
        **fields,
    )


def test_a_message_fetched_twice_is_stored_once(desk):
    raw = email_bytes(sender=desk.owner.email, authenticated=True)
    with committed(execute=True):
        first = receive(raw, source="imap")
        again = receive(raw, source="webhook")
    assert again.pk == first.pk
    assert InboundMessage.objects.count() == 1
    assert len([m for m in mail.outbox if m.to == [desk.owner.email]]) == 1  # one acknowledgement


def test_a_message_without_message_id_is_still_stored_once(desk):
    raw = email_bytes(sender=desk.owner.email).replace(b"Message-ID:", b"X-Old-Message-ID:")
    assert receive(raw, source="imap").pk == receive(raw, source="imap").pk
    assert InboundMessage.objects.count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"Precedence": "list"},
        {"X-Autoreply": "yes"},
    ],
)
def test_auto_replies_make_no_ticket_and_get_no_acknowledgement(desk, headers):
    message = receive_email(sender=desk.owner.email, headers=headers)
    assert message.status == Status.IGNORED
    assert "Automatic" in message.note
    assert mail.outbox == []


def test_bounces_from_mailer_daemons_are_ignored(desk):
    message = receive_email(sender="MAILER-DAEMON@mx.customer.test", subject="Undelivered Mail Returned to Sender")
    assert message.status == Status.IGNORED and mail.outbox == []


def test_our_own_mail_coming_back_is_a_loop(desk, settings):
    message = receive_email(sender=settings.DEFAULT_FROM_EMAIL)
    assert message.status == Status.IGNORED and "Loop" in message.note


def test_a_sender_writing_in_a_loop_is_stopped(desk):
    for n in range(25):
        last = receive_email(sender="robot@elsewhere.test", subject=f"Ticket {n}")
    assert last.status == Status.IGNORED and "Loop" in last.note
    assert InboundMessage.objects.filter(status=Status.TRIAGE).count() == 20
    assert len(mail.outbox) == 1  # one acknowledgement to that sender, not twenty


def test_new_mail_from_a_member_waits_in_triage_as_theirs(desk):
    message = receive_email(sender=f"Owner <{desk.owner.email.upper()}>")
    assert message.status == Status.TRIAGE
    assert message.member == desk.owner
    assert message.text == "Hello, please cancel our account."
    [ack] = mail.outbox
    assert ack.to == [desk.owner.email]
    assert ack.extra_headers["In-Reply-To"] == message.message_id
    assert ack.extra_headers["Auto-Submitted"] == "auto-replied"


def test_new_mail_from_an_unknown_sender_waits_unverified(desk):
    message = receive_email(sender="stranger@nowhere.test")
    assert message.status == Status.TRIAGE and message.member is None and not message.verified


def test_every_ticket_email_is_threaded_with_a_reply_address_signed_for_its_recipient(ticket, desk):
    [confirmation] = [m for m in mail.outbox if f"#{ticket.pk}" in m.subject]
    headers = confirmation.extra_headers
    owner = desk.owner.pk
    assert confirmation.to == [desk.owner.email]
    assert headers["Message-ID"].startswith(f"<t{ticket.pk}.r{owner}.")
    assert headers["In-Reply-To"] == addresses.thread_root(ticket.pk, owner)
    assert addresses.thread_root(ticket.pk, owner) in headers["References"]
    assert confirmation.reply_to == [addresses.reply_address(ticket.pk, owner)]
    assert confirmation.reply_to[0].startswith(f"desk+t{ticket.pk}.r{owner}.")
    assert addresses.from_address(confirmation.reply_to[0]) == addresses.Addressed(
        ticket_id=ticket.pk, recipient_id=owner
    )


def test_a_reply_becomes_a_public_comment_by_the_member_without_the_quote(ticket, desk):
    body = (
        "Yes, go ahead please.\n\nOn Mon, 23 Nov 2026 at 10:00, Exitdesk <desk@exitdesk.localhost> wrote:\n> Got it\n"
    )
    message = _reply(ticket, desk, body=body)
    assert message.status == Status.COMMENT and message.ticket == ticket
    comment = ticket.comments.get()
    assert comment.author == desk.owner and comment.public
    assert comment.body == "Yes, go ahead please."


def test_a_reply_threads_by_its_references_when_the_reply_address_was_lost(ticket, desk):
    [confirmation] = [m for m in mail.outbox if f"#{ticket.pk}" in m.subject]
    message = _reply(
        ticket, desk, to="desk@exitdesk.localhost", headers={"In-Reply-To": confirmation.extra_headers["Message-ID"]}
    )
    assert message.status == Status.COMMENT and message.ticket == ticket


def test_a_forged_reply_address_is_refused(ticket, desk):
    forged = f"desk+t{ticket.pk}.r{desk.owner.pk}.{'0' * 16}@exitdesk.localhost"
    message = _reply(ticket, desk, to=forged)
    assert message.status == Status.IGNORED and "signature" in message.note
    assert not ticket.comments.exists()


def test_another_tickets_token_does_not_open_this_ticket(ticket, desk):
    other_token = addresses.ticket_token(ticket.pk + 1, desk.owner.pk)
    message = _reply(ticket, desk, to=f"desk+t{ticket.pk}.r{desk.owner.pk}.{other_token}@exitdesk.localhost")
    assert message.status == Status.IGNORED and not ticket.comments.exists()


def test_a_stranger_answering_the_owners_reply_address_waits_in_triage(ticket, desk):
    # Issue 24: a reply is threaded only when its authenticated sender is the recipient the address was signed for.
    message = _reply(ticket, desk, sender="someone@else.test")
    assert message.status == Status.TRIAGE and message.ticket == ticket and message.member is None
    assert "another recipient" in message.note
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_a_reply_from_a_recipient_who_may_no_longer_see_the_case_waits_in_triage(ticket, desk):
    # SPEC §5 (tickets.access): a plain member sees only the cases they asked for, so cannot comment on the owner's
    message = _reply(ticket, desk, sender=desk.member.email, to=addresses.reply_address(ticket.pk, desk.member.pk))
    assert message.status == Status.TRIAGE and "may no longer comment" in message.note
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_a_reply_tells_the_assignee(ticket, desk):
    assign_ticket(ticket=ticket, assignee=desk.agent, actor=desk.manager)
    mail.outbox.clear()
    _reply(ticket, desk)
    [told] = mail.outbox
    assert told.to == [desk.agent.email] and "Yes, go ahead please." in told.body


def test_a_reply_restarts_a_paused_sla_clock(ticket, desk):
    from tickets import sla

    assert sla.pause_clock(ticket)
    _reply(ticket, desk)
    ticket.refresh_from_db()
    assert ticket.waiting_on_customer_since is None


def test_attachments_pass_the_portals_checks(ticket, desk):
    message = _reply(
        ticket,
        desk,
        attachments=[
            ("screenshot.png", "image/png", PNG),
            ("invoice.exe", "application/octet-stream", b"MZ\x90\x00"),
            ("fake.pdf", "application/pdf", b"not a pdf"),
        ],
    )
    assert [a.name for a in ticket.attachments.all()] == ["screenshot.png"]
    assert ticket.attachments.get().uploaded_by == desk.owner
    assert "invoice.exe refused" in message.note and "fake.pdf refused" in message.note
