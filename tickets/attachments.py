"""Files on a case: one service, `add_attachment`, that the portal, the admin and email all call (issue 24: a reply
by email with 30 files put 30 on a case whose portal refused a 21st, and an unverified sender's files showed in
the owner's portal).

Every file meets the same rules whichever door it came through:
- its own: a listed type whose contents are what its name says, at most 5 MB (`check_file`);
- the case's: at most ATTACHMENTS_PER_TICKET files and ATTACHMENT_MB_PER_TICKET in all; the person's: at most
  ATTACHMENTS_PER_USER_HOUR files an hour across cases (`check_quota`, settings);
- who sees it: a file follows the message it came with. A staff-only file (`public=False`: from an unverified
  sender's email, or from a member of staff's internal note) is never listed or served to a customer;
  tickets.access.attachments_for answers who sees which.
A refusal is `Refusal(Code.INVALID_REQUEST, sentence, field="file")`, shown by each interface as it shows any.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.http import FileResponse, Http404
from django.utils import timezone

from accounts.exceptions import Code, Refusal

from .models import Attachment, Ticket

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from accounts.models import User

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# Extension → the content type the file is served with and the bytes it must start with (None: plain text).
# The browser's own content type is not trusted: the extension and the contents decide.
ATTACHMENT_TYPES: dict[str, tuple[str, bytes | None]] = {
    ".pdf": ("application/pdf", b"%PDF"),
    ".png": ("image/png", b"\x89PNG"),
    ".jpg": ("image/jpeg", b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    ".txt": ("text/plain", None),
    ".csv": ("text/csv", None),
}


def _refuse(sentence: str) -> Refusal:
    return Refusal(Code.INVALID_REQUEST, sentence, field="file")


def check_file(upload: UploadedFile) -> UploadedFile:
    """Refuse a file too large, of a type we do not take, or whose contents are not what its name says.

    Sets `upload.detected_content_type`: the type stored is ours, never the browser's (or the email's) claim.
    """
    extension = Path(upload.name or "").suffix.lower()
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise _refuse("The file is larger than 5 MB.")
    if extension not in ATTACHMENT_TYPES:
        raise _refuse("Only PDF, PNG, JPEG, text and CSV files can be attached.")
    content_type, magic = ATTACHMENT_TYPES[extension]
    head = upload.read(8)
    upload.seek(0)
    if magic is not None and not head.startswith(magic):
        raise _refuse(f"The file's contents are not a {extension[1:].upper()} file.")
    if magic is None and b"\x00" in upload.read(4096):
        raise _refuse("The file's contents are not text.")
    upload.seek(0)
    upload.detected_content_type = content_type
    return upload


def check_quota(ticket: Ticket | int, user: User | None, size: int) -> None:
    """Per case at most ATTACHMENTS_PER_TICKET files and ATTACHMENT_MB_PER_TICKET in all (staff-only files count
    too: they are stored all the same); per person at most ATTACHMENTS_PER_USER_HOUR files an hour, whatever the
    case (a file from an unknown sender has no person: the case's limits bound it)."""
    on_ticket = Attachment.objects.filter(ticket_id=getattr(ticket, "pk", ticket)).aggregate(
        n=Count("pk"), total=Sum("size")
    )
    if on_ticket["n"] >= settings.ATTACHMENTS_PER_TICKET:
        raise _refuse(f"A case holds at most {settings.ATTACHMENTS_PER_TICKET} files.")
    if (on_ticket["total"] or 0) + size > settings.ATTACHMENT_MB_PER_TICKET * 1024 * 1024:
        raise _refuse(f"A case holds at most {settings.ATTACHMENT_MB_PER_TICKET} MB of files.")
    since = timezone.now() - dt.timedelta(hours=1)
    if (
        user is not None
        and Attachment.objects.filter(uploaded_by=user, created_at__gte=since).count()
        >= settings.ATTACHMENTS_PER_USER_HOUR
    ):
        raise _refuse(f"You can attach at most {settings.ATTACHMENTS_PER_USER_HOUR} files an hour; try again later.")


def display_name(name: str | None) -> str:
    """The file's own base name as people read it, without control characters (an email's or a form's file name may
    hold a NUL, which PostgreSQL cannot store), at most 200 characters."""
    cleaned = "".join(ch for ch in Path(name or "").name if unicodedata.category(ch) != "Cc").strip()
    return (cleaned or "attachment")[:200]


def add_attachment(
    *, ticket: Ticket, upload: UploadedFile, uploaded_by: User | None, public: bool = True
) -> Attachment:
    """Attach one file to a case, or refuse it.

    1. A customer's file is public (only staff, or an unverified email, make a staff-only one); the file itself:
       type, contents and size (`check_file`).
    2. Under the case's row lock, so simultaneous uploads to one case are counted one after the other: the case's
       and the person's limits (`check_quota`).
    3. Store it, under its own base name (`display_name`) and the type we detected; `public=False` keeps it for
       staff only.
    """
    if not public and uploaded_by is not None and not uploaded_by.is_staff:
        # As for comments (services.add_comment): a customer's own file is theirs to see; refused, never hidden.
        sentence = "Only support staff keep a file for staff: a customer's file is public."
        raise Refusal(Code.INVALID_REQUEST, sentence, field="public")
    check_file(upload)
    with transaction.atomic():
        Ticket.objects.select_for_update(no_key=True).filter(pk=ticket.pk).exists()
        check_quota(ticket, uploaded_by, upload.size)
        return Attachment.objects.create(
            ticket=ticket,
            file=upload,
            name=display_name(upload.name),
            content_type=upload.detected_content_type,
            size=upload.size,
            uploaded_by=uploaded_by,
            public=public,
        )


def attachment_response(attachment) -> FileResponse:
    """A stored attachment as a download, under its own name and the type we detected (portal, desk and API)."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The file is no longer available.") from exc
    return FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type or "application/octet-stream",
    )


def clean_attachment(upload):
    """A form's check of an uploaded file (check_file), its refusal as the field's error."""
    try:
        return check_file(upload)
    except Refusal as refusal:
        raise ValidationError(refusal.detail) from refusal
