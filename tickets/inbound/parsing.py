"""Read one raw email with the standard library's `email` package into what the pipeline needs.

Nothing here touches the database: `parse` is a pure function of the bytes, so the IMAP reader, the webhooks
and the .eml loader all hand it the same thing.
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.parser
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from django.utils.html import strip_tags
from mailparser_reply import EmailReplyParser

from .authentication import verdict

MESSAGE_ID_MAX = 255
NUL = "\x00"
# Local parts that only machines write from: bounces and delivery reports.
MAILER_DAEMONS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "noreply-dmarc-support"}
LOOP_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


class PoisonMessage(ValueError):
    """A message that must not be stored as it is (a NUL character in a header): it is quarantined instead."""


@dataclass
class ParsedAttachment:
    name: str
    content_type: str
    content: bytes


@dataclass
class ParsedMail:
    message_id: str
    from_email: str
    from_name: str
    subject: str
    sent_at: dt.datetime | None
    recipients: list[str]
    references: list[str]
    body: str
    text: str
    attachments: list[ParsedAttachment] = field(default_factory=list)
    automatic: str = ""  # why this is an auto-reply, a bounce or a list mail ("" for a person's message)
    # DMARC passed for the From domain, by a trusted Authentication-Results header (inbound/authentication.py).
    authenticated: bool = False
    authentication: str = ""


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):  # a malformed header the parser cannot fold
        return ""
    return str(value or "").strip()


def _all_headers(message: EmailMessage, name: str) -> list[str]:
    try:
        return [str(v) for v in message.get_all(name, [])]
    except (ValueError, TypeError, IndexError, AttributeError):
        return []


def _message_id(message: EmailMessage, raw: bytes) -> str:
    value = _header(message, "Message-ID").strip()
    found = re.search(r"<[^<>\s]+>", value)
    value = found.group(0) if found else value
    if not value or len(value) > MESSAGE_ID_MAX:
        # No usable Message-ID: the bytes themselves identify the message, so a second fetch still finds it.
        return f"<sha256.{hashlib.sha256(raw).hexdigest()}@exitdesk.invalid>"
    return value


def _sent_at(message: EmailMessage) -> dt.datetime | None:
    try:
        when = parsedate_to_datetime(_header(message, "Date"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def _body(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, LookupError, ValueError, AttributeError):
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AttributeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    if not isinstance(content, str):
        content = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else ""
    if part.get_content_type() == "text/html":
        content = strip_tags(re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content))
    # A stray NUL in a body (a broken client's encoding) is shown as a replacement character rather than losing the
    # message: no text column of PostgreSQL can hold it.
    return content.replace("\r\n", "\n").replace(NUL, "\ufffd").strip()


def _attachments(message: EmailMessage) -> list[ParsedAttachment]:
    found = []
    try:
        parts = list(message.iter_attachments()) if message.is_multipart() else []
    except (KeyError, ValueError, AttributeError):
        return []
    for part in parts:
        try:
            name = (part.get_filename() or "").replace(NUL, "")
            content = part.get_payload(decode=True) or b""
        except (ValueError, LookupError, AttributeError):
            continue
        if not name or not isinstance(content, bytes):
            continue
        found.append(ParsedAttachment(name=name[:200], content_type=part.get_content_type(), content=content))
    return found


def automatic_reason(message: EmailMessage, from_email: str) -> str:
    """Why a message was written by a machine (RFC 3834 and the headers mail servers use in its place), or ""."""
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = _header(message, "Precedence").lower()
    if precedence in LOOP_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _header(message, name):
            return f"{name} header"
    if _header(message, "X-Auto-Response-Suppress").lower() in {"all", "oof", "autoreply"} and _header(
        message, "X-MS-Exchange-Inbox-Rules-Loop"
    ):
        return "Exchange auto-reply"
    if message.get_content_type() == "multipart/report":
        return "delivery or read report"
    local = from_email.partition("@")[0].lower()
    if local in MAILER_DAEMONS:
        return f"from {local}"
    if _header(message, "Return-Path") == "<>":
        return "empty Return-Path (a bounce)"
    return ""


def strip_quoted(body: str) -> str:
    """The new text of a reply, without the quoted message below it (mail-parser-reply)."""
    if not body:
        return ""
    try:
        text = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl"]).parse_reply(text=body)
    except Exception:  # noqa: BLE001 - a parser failure keeps the whole text rather than losing the message
        text = body
    lines = (text or body).strip().splitlines()
    # A quote left below the answer without an "On ... wrote:" line the parser would recognise.
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip() or body.strip()


def _refuse_nul(**headers: str | list[str]) -> None:
    """No mail client writes a NUL character in a header (RFC 5322 forbids it): such a message is hostile or broken."""
    for name, value in headers.items():
        if any(NUL in item for item in ([value] if isinstance(value, str) else value)):
            raise PoisonMessage(f"A NUL character in its {name.replace('_', '-')} header.")


def parse(raw: bytes) -> ParsedMail:
    """Read one message; raises PoisonMessage (or whatever the parser raises) for one that cannot be stored."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    _refuse_nul(
        From=_header(message, "From"),
        Subject=_header(message, "Subject"),
        Message_ID=_header(message, "Message-ID"),
        In_Reply_To=_header(message, "In-Reply-To"),
        References=_header(message, "References"),
        To=[*_all_headers(message, "To"), *_all_headers(message, "Cc")],
        Delivered_To=[*_all_headers(message, "Delivered-To"), *_all_headers(message, "X-Original-To")],
    )
    from_name, from_email = parseaddr(_header(message, "From"))
    from_email = from_email.strip().lower() if "@" in from_email else ""
    recipients = [
        addr.strip().lower()
        for _, addr in getaddresses(
            _all_headers(message, "To")
            + _all_headers(message, "Cc")
            + _all_headers(message, "Delivered-To")
            + _all_headers(message, "X-Original-To")
        )
        if "@" in addr
    ]
    references = re.findall(r"<[^<>\s]+>", _header(message, "In-Reply-To") + " " + _header(message, "References"))
    body = _body(message)
    trust = verdict(message, from_email)
    return ParsedMail(
        message_id=_message_id(message, raw),
        from_email=from_email[:254],
        from_name=from_name.strip()[:200],
        subject=" ".join(_header(message, "Subject").split())[:500],
        sent_at=_sent_at(message),
        recipients=recipients,
        references=references,
        body=body,
        text=strip_quoted(body),
        attachments=_attachments(message),
        automatic=automatic_reason(message, from_email),
        authenticated=trust.authenticated,
        authentication=trust.reason,
    )


def quarantine_headers(raw: bytes) -> tuple[str, str, str]:
    """The sender's address, name and the subject of a message that could not be stored, as far as they can be read
    (its headers only, NUL characters shown as replacement characters); never raises."""
    try:
        head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        from_name, from_email = parseaddr(_decoded(head.get("From", "")))
        subject = " ".join(_decoded(head.get("Subject", "")).split())
    except Exception:  # noqa: BLE001 - a copy without its sender is still kept
        return "", "", ""
    from_email = from_email.strip().lower()
    if "@" not in from_email or NUL in from_email or any(c.isspace() for c in from_email):
        from_email = ""
    return from_email[:254], from_name.replace(NUL, "\ufffd").strip()[:200], subject.replace(NUL, "\ufffd")[:500]


def _decoded(value) -> str:
    return str(email.header.make_header(email.header.decode_header(str(value))))
