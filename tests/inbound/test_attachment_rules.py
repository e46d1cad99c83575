"""Attachments by email obey the portal's rules (issue 24, "Attachments by email skip the rules": a reply with 30
files put 30 on a case whose portal refused a 21st; an unverified sender's files showed in the owner's portal and
downloaded). One service, tickets.attachments.add_attachment, for every door; tickets.access says who sees a file."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.inbound.conftest import email_bytes
from tickets.inbound import addresses
from tickets.inbound.imap import fetch_all
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive
from tickets.models import Attachment, Comment
from tickets.services import Request, submit_ticket

Status = InboundMessage.Status
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _emails_in_process(tasks_in_process):
    """Acknowledgements and the assignee's email go out in-process."""


@pytest.fixture
def desk(cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    people = cast("avoxi")
    from accounts import services

    number = services.add_number(account=people.account, number="+12025550101")
    people.ticket = submit_ticket(
        account=people.account,
        kind="number_cancellation",
        requester=people.owner,
        request=Request(numbers=[number], full_name="Owner", contact=people.owner.email),
    )
    return people


def _reply_bytes(desk, *, sender: str, files: int, subject: str = "Re: the files", authenticated=True) -> bytes:
    """A reply to the owner's copy of the case's email."""
    return email_bytes(
        sender=sender,
        to=addresses.reply_address(desk.ticket.pk, desk.owner.pk),
        subject=subject,
        body="Here are the screenshots.\n",
        attachments=[(f"shot-{n:02d}.png", "image/png", PNG) for n in range(files)],
        authenticated=authenticated,
    )


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_reply_with_30_files_stores_the_cases_limit_notes_the_rest_and_blocks_nothing(desk, intake, settings):
    assert settings.ATTACHMENTS_PER_TICKET == 20
    intake.mailbox()
    intake.append(_reply_bytes(desk, sender=desk.owner.email, files=30))
    intake.append(email_bytes(sender=desk.owner.email, subject="Next message", body="Still there?\n"))
    [result] = fetch_all()

    assert (result.stored, result.error) == (2, "")  # the message after it is stored too
    reply = InboundMessage.objects.get(subject="Re: the files")
    assert reply.status == Status.COMMENT and reply.ticket_id == desk.ticket.pk
    assert desk.ticket.attachments.count() == 20
    assert reply.note.count("refused: A case holds at most 20 files.") == 10
    # Staff read on the case which files were not attached.
    [note] = Comment.objects.filter(ticket=desk.ticket, public=False, body__contains="were not attached")
    assert note.body.startswith("10 of the email's 30 files were not attached") and "shot-29.png" in note.body
    assert InboundMessage.objects.filter(subject="Next message").exists()
    # The portal gives the same answer as email did.
    upload = _signed_in(desk.owner).post(
        reverse("portal:attachment_upload", args=[desk.ticket.pk]), {"file": SimpleUploadedFile("one-more.png", PNG)}
    )
    assert upload.status_code == 400 and "A case holds at most 20 files." in upload.content.decode()
    assert desk.ticket.attachments.count() == 20


def test_an_unverified_senders_reply_attaches_nothing(desk):
    # Issue 24: a reply whose sender is not authenticated never reaches the case, nor do its files.
    message = receive(_reply_bytes(desk, sender=desk.owner.email, files=2, authenticated=False), source="file")
    assert message.status == Status.TRIAGE and not message.authenticated
    assert not Attachment.objects.exists() and not Comment.objects.filter(ticket=desk.ticket).exists()


def test_an_unverified_senders_files_are_staff_only(desk):
    # Converted once the agent confirmed the requester by phone, the files of a sender not verified stay staff-only.
    from accounts import services
    from tickets.inbound.services import convert_message

    other = services.add_number(account=desk.account, number="+12025550102")
    raw = email_bytes(
        sender=desk.owner.email,
        subject="Cancel my license",
        attachments=[(f"shot-{n:02d}.png", "image/png", PNG) for n in range(2)],
    )
    message = receive(raw, source="file")
    assert message.status == Status.TRIAGE and not message.verified
    converted = convert_message(
        message=message,
        actor=desk.agent,
        kind="number_cancellation",
        account=desk.account,
        request=Request(numbers=[other.pk]),
        requester_confirmed_by="phone",
    )
    desk.ticket = converted
    files = list(Attachment.objects.filter(ticket=desk.ticket).order_by("pk"))
    assert len(files) == 2

    owner = _signed_in(desk.owner)
    page = owner.get(reverse("portal:ticket", args=[desk.ticket.pk])).content.decode()
    assert "shot-00.png" not in page and "No attachments." in page
    download = owner.get(reverse("portal:attachment", args=[desk.ticket.pk, files[0].pk]))
    assert download.status_code == 404
    # Staff see and download them.
    agent = _signed_in(desk.agent)
    assert "shot-00.png" in agent.get(reverse("admin:tickets_ticket_change", args=[desk.ticket.pk])).content.decode()
    staff_download = agent.get(reverse("admin:tickets_ticket_attachment", args=[desk.ticket.pk, files[0].pk]))
    assert staff_download.status_code == 200
    assert not any(Attachment.objects.filter(ticket=desk.ticket).values_list("public", flat=True))


def test_a_replys_files_count_towards_the_cases_limit(desk, settings):
    settings.ATTACHMENTS_PER_TICKET = 3
    message = receive(_reply_bytes(desk, sender=desk.owner.email, files=5), source="file")
    assert desk.ticket.attachments.count() == 3
    assert message.note.count("A case holds at most 3 files.") == 2


def test_a_file_name_holding_a_nul_is_stored_without_it(desk):
    # PostgreSQL cannot store a NUL: the name is cleaned, the message and its file kept.
    raw = email_bytes(
        sender=desk.owner.email,
        to=addresses.reply_address(desk.ticket.pk, desk.owner.pk),
        subject="Re: nul",
        attachments=[("scan\x00.png", "image/png", PNG)],
        authenticated=True,
    )
    message = receive(raw, source="file")
    assert message.status == Status.COMMENT
    assert list(desk.ticket.attachments.values_list("name", flat=True)) == ["scan.png"]


def test_a_refused_file_whose_name_holds_a_nul_is_noted_without_it(desk):
    raw = email_bytes(
        sender=desk.owner.email,
        subject="Cancel please",
        attachments=[("run\x00me.exe", "application/octet-stream", b"MZ\x90\x00")],
    )
    message = receive(raw, source="file")
    assert message.status == Status.TRIAGE
    assert "Attachment runme.exe refused: Only PDF, PNG, JPEG, text and CSV files can be attached." in message.note
    assert InboundMessage.objects.filter(pk=message.pk, note__contains="runme.exe").exists()
