"""A message's text as staff see it in the admin and the API: a bounded preview, the whole as a download.

A 20 MB email rendered whole made a 21 MB admin page and API item (issue 24, "Size"). Pages and items show the
first PREVIEW_CHARS characters, read from the database as a substring (the whole text is never loaded for them),
with how much more there is; the full text and the message as received are downloads behind the same permission
as the messages themselves (tickets.access.may_read_email).
"""

from __future__ import annotations

import math

from django.db.models import QuerySet
from django.db.models.functions import Length, Substr
from django.http import HttpResponse

from .models import InboundMessage

PREVIEW_CHARS = 20_000
# What a download is: (the field it reads, its content type, the file name's extension).
DOWNLOADS = {
    "text": ("text", "text/plain; charset=utf-8", "txt"),
    "raw": ("raw", "message/rfc822", "eml"),
}


def with_preview(queryset: QuerySet[InboundMessage]) -> QuerySet[InboundMessage]:
    """The messages without their raw copy and whole text, each with `text_head` (one character past the preview,
    to tell a cut one) and `text_length`."""
    return queryset.defer("raw", "text").annotate(
        text_head=Substr("text", 1, PREVIEW_CHARS + 1), text_length=Length("text")
    )


def preview(message: InboundMessage) -> tuple[str, int]:
    """The text shown and the kilobytes (of characters) left out, from `with_preview`'s annotations when present."""
    head = getattr(message, "text_head", None)
    length = getattr(message, "text_length", None)
    if head is None or length is None:
        head, length = message.text[: PREVIEW_CHARS + 1], len(message.text)
    head = head or ""
    if len(head) <= PREVIEW_CHARS:
        return head, 0
    return head[:PREVIEW_CHARS], math.ceil(((length or 0) - PREVIEW_CHARS) / 1024)


def more_words(more_kb: int) -> str:
    """What the cut says, in the page's words: "… 19,512 more kB"."""
    return f"… {more_kb:,} more kB" if more_kb else ""


def download_response(message_pk: int, part: str) -> HttpResponse | None:
    """The whole text or the message as received, as a file to save (never shown inline); None for an unknown
    part or message."""
    if part not in DOWNLOADS:
        return None
    field, content_type, extension = DOWNLOADS[part]
    row = InboundMessage.objects.filter(pk=message_pk).values_list(field, flat=True).first()
    if row is None:
        return None
    content = row.encode("utf-8") if isinstance(row, str) else bytes(row)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="inbound-{message_pk}-{part}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
