"""Email in with bounded memory: a message is read into a temporary file, never whole into memory (issue 24, "Size").

Fetching 47 MB of mail peaked at 470 MB of memory: imap-tools fetched a whole batch of messages at once, and the
parser held each one several times over. Now:

1. inbound/imap.py fetches each message in CHUNK_BYTES pieces into a temporary file (`spool`);
2. `digest` walks that file's MIME parts line by line and writes the message the pipeline parses: every header
   and part kept, a text part's body cut after TEXT_PART_BYTES (the text a ticket shows; the rest stays in the copy
   as received), a file part larger than the largest file a case takes (tickets.attachments) left out and named;
3. `store_raw` writes the file, as received, into the message's `raw` column in CHUNK_BYTES pieces (SQLite's
   incremental blob writes, PostgreSQL's COPY), so the copy staff download is whole.
What a process holds is bounded by those constants, not by the message.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import io
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import connection

from tickets.attachments import MAX_ATTACHMENT_BYTES

from .models import InboundMessage

CHUNK_BYTES = 1024 * 1024
# A text part's body (as encoded) kept for the text the desk reads; the preview shows far less (inbound/preview.py).
TEXT_PART_BYTES = 256 * 1024
# A file part's body (base64 of the largest file a case takes, with its line breaks); a larger one would be
# refused anyway, so it is left out of what is parsed.
FILE_PART_BYTES = MAX_ATTACHMENT_BYTES * 4 // 3 + MAX_ATTACHMENT_BYTES // 38 + 64 * 1024
HEADER_BYTES = 256 * 1024  # of one part's header block
LINE_BYTES = 64 * 1024  # a line is read at most this long (a 20 MB body may be one line)


@dataclass
class Digest:
    raw: bytes
    size: int  # of the message as received
    cut_text: bool = False
    left_out: list[str] = field(default_factory=list)  # the file parts left out, by name

    @property
    def whole(self) -> bool:
        return not self.cut_text and not self.left_out

    def note(self) -> str:
        notes = []
        if self.cut_text:
            notes.append(
                f"Its text was longer than {TEXT_PART_BYTES // 1024:,} kB: the text shown is its beginning, "
                "the email as received (download) holds all of it."
            )
        notes.extend(
            f"Attachment {name} refused: larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB."
            for name in self.left_out
        )
        return " ".join(notes)


def _is_boundary(line: bytes, boundaries: list[bytes]) -> tuple[int, bool] | None:
    """Which open multipart this line is a boundary of (its depth) and whether it closes it, or None."""
    if not line.startswith(b"--"):
        return None
    stripped = line.rstrip(b"\r\n").rstrip(b" \t")
    for depth in range(len(boundaries) - 1, -1, -1):
        marker = b"--" + boundaries[depth]
        if stripped == marker:
            return depth, False
        if stripped == marker + b"--":
            return depth, True
    return None


class _Part:
    """The body of the part being read: kept up to its cap, buffered when it may have to be left out whole."""

    def __init__(self, headers: email.message.Message | None, start: int = -1) -> None:
        self.start = start  # where its headers begin in what is parsed (-1: the message's own, never left out)
        content_type = headers.get_content_type() if headers is not None else "text/plain"
        self.name = (headers.get_filename() if headers is not None else None) or ""
        self.is_text = content_type.startswith("text/") and not self.name
        self.cap = TEXT_PART_BYTES if self.is_text else FILE_PART_BYTES
        self.kept = io.BytesIO()
        self.size = 0

    def add(self, line: bytes) -> None:
        self.size += len(line)
        if self.size <= self.cap:
            self.kept.write(line)

    def finish(self, out: BinaryIO, digest: Digest) -> None:
        if self.size > self.cap:
            if self.is_text:
                digest.cut_text = True
                out.write(self.kept.getvalue())
            else:
                # Left out: what is parsed keeps an empty, nameless part in its place.
                digest.left_out.append(self.name or "(no name)")
                if self.start >= 0:
                    out.seek(self.start)
                    out.truncate()
                    out.write(b"Content-Type: application/octet-stream\r\n\r\n")
        else:
            out.write(self.kept.getvalue())
        self.kept = io.BytesIO()


def digest(spool: BinaryIO) -> Digest:
    """What the pipeline parses of the message in `spool`: all of it when it is within the limits above."""
    spool.seek(0, io.SEEK_END)
    size = spool.tell()
    spool.seek(0)
    out = io.BytesIO()
    result = Digest(raw=b"", size=size)
    boundaries: list[bytes] = []
    header_lines: list[bytes] = []
    header_bytes = 0
    in_headers = True
    part: _Part | None = None
    part_start = -1
    while line := spool.readline(LINE_BYTES):
        if in_headers:
            if line in (b"\r\n", b"\n"):
                block = b"".join(header_lines)
                part_start = out.tell() if boundaries else -1
                out.write(block + line)
                headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(block + line)
                boundary = headers.get_param("boundary") if headers.get_content_maintype() == "multipart" else None
                boundary = email.utils.collapse_rfc2231_value(boundary) if boundary else None
                if boundary:
                    boundaries.append(str(boundary).encode("utf-8", "replace"))
                    part = _Part(None)  # the preamble, kept as a short text
                    part.cap = LINE_BYTES
                else:
                    part = _Part(headers, part_start)
                in_headers, header_lines, header_bytes = False, [], 0
            else:
                header_bytes += len(line)
                if header_bytes <= HEADER_BYTES:
                    header_lines.append(line)
            continue
        found = _is_boundary(line, boundaries)
        if found is None:
            part.add(line)
            continue
        depth, closes = found
        part.finish(out, result)
        out.write(line)
        if closes:
            del boundaries[depth:]
            part = _Part(None)  # the epilogue
            part.cap = LINE_BYTES
        else:
            del boundaries[depth + 1 :]
            in_headers = True
    if in_headers:
        out.write(b"".join(header_lines))
    elif part is not None:
        part.finish(out, result)
    result.raw = out.getvalue()
    return result


def spool_whole(spool: BinaryIO) -> bytes:
    spool.seek(0)
    return spool.read()


def store_raw(message: InboundMessage, spool: BinaryIO, size: int) -> None:
    """Write the message as received into its `raw` column, CHUNK_BYTES at a time."""
    table = InboundMessage._meta.db_table
    spool.seek(0)
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f'UPDATE "{table}" SET "raw" = zeroblob(%s) WHERE "id" = %s', [size, message.pk])  # noqa: S608 # nosec B608
        with connection.connection.blobopen(table, "raw", message.pk) as blob:
            while chunk := spool.read(CHUNK_BYTES):
                blob.write(chunk)
        return
    if connection.vendor == "postgresql":
        # psycopg is the driver on PostgreSQL only
        from psycopg.generators import copy_to

        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS inbound_spool (raw bytea) ON COMMIT DELETE ROWS")
            cursor.execute("TRUNCATE inbound_spool")
            # COPY's text format: one row, the bytes as hex (\\x...), streamed a chunk at a time.
            with cursor.cursor.copy("COPY inbound_spool (raw) FROM STDIN") as copy:
                copy.write(b"\\\\x")
                while chunk := spool.read(CHUNK_BYTES):
                    copy.write(chunk.hex().encode("ascii"))
                    # Sent before the next chunk is read: off macOS psycopg leaves libpq's output buffer unflushed,
                    # and it grew to hold most of a 20 MB message's copy.
                    copy.connection.wait(copy_to(copy.connection.pgconn, b"", flush=True))
                copy.write(b"\n")
            cursor.execute(
                f'UPDATE "{table}" SET "raw" = (SELECT raw FROM inbound_spool LIMIT 1) WHERE "id" = %s',  # noqa: S608 # nosec B608
                [message.pk],
            )
            cursor.execute("TRUNCATE inbound_spool")
        return
    InboundMessage.objects.filter(pk=message.pk).update(raw=spool_whole(spool))
