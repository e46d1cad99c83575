"""Mail to a purged account's cases stores nothing (issue 23; U6, S6): no message, no comment, no file; it is
logged and counted on the tombstone, and the next message goes through as ever (the pipeline and real IMAP)."""

import datetime as dt
import logging

import pytest
import time_machine

from accounts.models import Tombstone
from tests.inbound.conftest import email_bytes
from tests.purge.conftest import cancel
from tickets import purge
from tickets.inbound import addresses
from tickets.inbound.imap import fetch_all
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive
from tickets.models import Attachment, Comment

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def purged(cast, settings, tmp_path, tasks_in_process):
    """A Kustomer account whose owner cancelled, purged once its 60 days were over; its cancellation case stays."""
    settings.MEDIA_ROOT = tmp_path / "media"
    desk = cast("kustomer")
    desk.case = cancel(desk)
    desk.account.refresh_from_db()
    with time_machine.travel(desk.account.purge_after + dt.timedelta(minutes=1)):
        assert purge.purge_account(desk.account.pk).outcome == "purged"
    return desk


def files_under(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def refused(desk) -> int:
    return Tombstone.objects.get(account=desk.account).counts.get(purge.MAIL_REFUSED, 0)


def test_a_reply_after_the_purge_stores_no_comment_no_file_and_no_message(purged, settings, caplog):
    # rule U6, S6: the former owner answers the cancellation's email, with a file, after the purge
    caplog.set_level(logging.INFO, logger="tickets.inbound.services")
    reply = email_bytes(
        sender=f"Olive Owner <{purged.owner.email}>",
        to=addresses.reply_address(purged.case.pk, purged.owner.pk),
        subject=f"Re: [Exitdesk #{purged.case.pk}]",
        body="Actually, call me on +1 202 555 0143.\n",
        attachments=[("id-card.png", "image/png", PNG)],
        authenticated=True,
    )

    message = receive(reply, source="imap")

    assert message.pk is None and message.status == InboundMessage.Status.IGNORED
    assert not InboundMessage.objects.exists()
    assert not Comment.objects.filter(ticket=purged.case).exists()
    assert not Attachment.objects.exists()
    assert files_under(settings.MEDIA_ROOT) == []
    assert refused(purged) == 1
    assert "purged account: nothing stored" in caplog.text and purged.owner.email not in caplog.text
    # Threaded by its headers alone (the client dropped the reply address), or fetched again: the same.
    threaded = email_bytes(
        sender=purged.owner.email,
        headers={"In-Reply-To": addresses.thread_root(purged.case.pk, purged.owner.pk)},
        subject="Re: your account",
        authenticated=True,
    )
    receive(threaded, source="webhook")
    receive(reply, source="imap")
    assert not InboundMessage.objects.exists() and refused(purged) == 3


def test_mail_to_a_purged_case_never_blocks_the_next_message_over_imap(purged, intake):
    # rule U6, S6: read from a real mailbox, the refused reply is passed over and the mail after it is stored
    mailbox = intake.mailbox()
    intake.append(
        email_bytes(
            sender=purged.owner.email,
            to=addresses.reply_address(purged.case.pk, purged.owner.pk),
            subject="Re: cancelled",
            authenticated=True,
            attachments=[("notes.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n")],
        )
    )
    intake.append(email_bytes(sender="Pat Customer <pat@customer.test>", subject="A new question"))

    [result] = fetch_all()

    assert result.error == ""
    assert list(InboundMessage.objects.values_list("from_email", "status")) == [("pat@customer.test", "triage")]
    assert not Comment.objects.filter(ticket=purged.case).exists() and not Attachment.objects.exists()
    assert refused(purged) == 1
    mailbox.refresh_from_db()
    assert mailbox.last_uid >= 2 and intake.seen_flags() == [True, True]


def test_a_reply_to_a_case_of_a_live_account_is_still_stored(cast):
    # rule U6: only a purged account's cases refuse mail; a cancelled account's case still takes the reply (as staff
    # never act by email, the agent's own reply is stored and waits in triage: issue 24)
    desk = cast("kustomer")
    case = cancel(desk)
    message = receive(
        email_bytes(
            sender=desk.agent.email,
            to=addresses.reply_address(case.pk, desk.agent.pk),
            subject="Re: done",
            authenticated=True,
        ),
        source="imap",
    )
    assert message.pk is not None and message.status == InboundMessage.Status.TRIAGE
    assert f"It answers case #{case.pk}, but staff never act by email." in message.note
    assert not Comment.objects.filter(ticket=case).exists()


def test_a_reply_to_an_old_format_address_of_a_purged_case_stores_nothing(purged):
    # rule U6, S6: the per-ticket addresses of before issue 24 are no longer honoured, and never keep a purged
    # account's mail either
    old = f"desk+t{purged.case.pk}.0123456789abcdef@exitdesk.localhost"
    raw = email_bytes(sender=purged.owner.email, to=old, subject="Re: old", authenticated=True)
    message = receive(raw, source="imap")
    assert message.pk is None and not InboundMessage.objects.exists()
    assert refused(purged) == 1
