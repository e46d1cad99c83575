"""Threading: the headers every ticket email carries and the reply address, signed per ticket and per recipient.

A reply address is the desk's address plus-addressed with the ticket's id, the recipient's user id and an HMAC of
both (`desk+t42.r7.3f9a…@example.com`): a reply finds its ticket and the person it was written to, and nobody can
forge an address that files mail into a ticket, nor use another recipient's. The Message-IDs the desk writes carry
the same token, so a reply whose client dropped the Reply-To still threads through In-Reply-To/References.
Addresses of the old format (`desk+t42.<hmac>@`, per ticket only) are no longer honoured: their mail waits in triage.
Whether a reply found this way is threaded (its authenticated sender is that recipient, the ticket is not closed past
INBOUND_REPLY_GRACE_DAYS) is decided in inbound/services.py.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.utils.crypto import salted_hmac

TOKEN_LENGTH = 16
_SALT = "inbound.reply-address.recipient"
_PLUS = re.compile(
    r"^(?P<local>[^+@]+)\+t(?P<id>[0-9]{1,18})\.r(?P<recipient>[0-9]{1,18})\.(?P<token>[0-9a-f]{16})@(?P<domain>[^@]+)$"
)
_MESSAGE_ID = re.compile(
    r"^<t(?P<id>[0-9]{1,18})\.r(?P<recipient>[0-9]{1,18})\.(?P<token>[0-9a-f]{16})\.[0-9a-z]+@(?P<domain>[^<>@]+)>$"
)
# The per-ticket format used before reply addresses were per recipient: recognised only to say so.
_OLD_PLUS = re.compile(r"^[^+@]+\+t(?P<id>[0-9]{1,18})\.[0-9a-f]{16}@[^@]+$")
_OLD_MESSAGE_ID = re.compile(r"^<t(?P<id>[0-9]{1,18})\.[0-9a-f]{16}\.[0-9a-z]+@[^<>@]+>$")


@dataclass(frozen=True)
class Addressed:
    """What a message's reply address or references name: a ticket and the recipient it was written to (both None
    when it names none), and whether it named one with a bad signature (`forged`) or in the old format (`old`)."""

    ticket_id: int | None = None
    recipient_id: int | None = None
    forged: bool = False
    old: bool = False
    # The ticket an old-format address names, unchecked: only ever used to store nothing (a purged account's case).
    old_ticket_id: int | None = None


def desk_address() -> str:
    """The address replies go to (INBOUND_REPLY_ADDRESS; by default the From address)."""
    configured = getattr(settings, "INBOUND_REPLY_ADDRESS", "") or settings.DEFAULT_FROM_EMAIL
    return parseaddr(configured)[1].lower()


def _domain() -> str:
    return desk_address().partition("@")[2] or "exitdesk.localhost"


def ticket_token(ticket_id: int, recipient_id: int) -> str:
    message = f"ticket:{ticket_id}:recipient:{recipient_id}"
    return salted_hmac(_SALT, message, algorithm="sha256").hexdigest()[:TOKEN_LENGTH]


def reply_address(ticket_id: int, recipient_id: int) -> str:
    """The address one recipient (a user id) answers an email about a ticket at."""
    local, _, domain = desk_address().partition("@")
    return f"{local}+t{ticket_id}.r{recipient_id}.{ticket_token(ticket_id, recipient_id)}@{domain}"


def thread_root(ticket_id: int, recipient_id: int) -> str:
    """The Message-ID every email about a ticket to one recipient refers to: their mail client shows one thread."""
    return f"<t{ticket_id}.r{recipient_id}.{ticket_token(ticket_id, recipient_id)}.root@{_domain()}>"


def message_id_for(ticket_id: int, recipient_id: int, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return f"<t{ticket_id}.r{recipient_id}.{ticket_token(ticket_id, recipient_id)}.{digest}@{_domain()}>"


def threading_headers(
    ticket_id: int, recipient_id: int, key: str, *, references: list[str] | None = None
) -> dict[str, str]:
    """Message-ID, In-Reply-To and References for one email about a ticket to one recipient (References: the
    customer's own first message, when the ticket came by email, then the thread root)."""
    chain = [*(references or []), thread_root(ticket_id, recipient_id)]
    return {
        "Message-ID": message_id_for(ticket_id, recipient_id, key),
        "In-Reply-To": chain[-1],
        "References": " ".join(chain),
    }


def _valid(found: re.Match) -> Addressed:
    pk, recipient = int(found["id"]), int(found["recipient"])
    if hmac.compare_digest(ticket_token(pk, recipient), found["token"]):
        return Addressed(ticket_id=pk, recipient_id=recipient)
    return Addressed(forged=True)


def _old(found: re.Match | None) -> Addressed:
    return Addressed(old=True, old_ticket_id=int(found["id"])) if found else Addressed()


def from_address(address: str) -> Addressed:
    """What a reply address names, when it is one of ours."""
    address = address.strip().lower()
    found = _PLUS.match(address)
    if not found:
        return _old(_OLD_PLUS.match(address) if address.endswith(f"@{_domain()}") else None)
    local, _, domain = desk_address().partition("@")
    if found["local"] != local or found["domain"] != domain:
        return Addressed()
    return _valid(found)


def from_message_id(message_id: str) -> Addressed:
    message_id = message_id.strip().lower()
    found = _MESSAGE_ID.match(message_id)
    if not found:
        return _old(_OLD_MESSAGE_ID.match(message_id) if message_id.endswith(f"@{_domain()}>") else None)
    if found["domain"] != _domain():
        return Addressed()
    return _valid(found)


def addressed(recipients: list[str], references: list[str]) -> Addressed:
    """The ticket and recipient a message answers: its reply address first, then the latest of our Message-IDs it
    refers to; `forged` / `old` when it named one with a bad signature or in the old format and nothing valid."""
    forged, old = False, None
    for named in [*(from_address(a) for a in recipients), *(from_message_id(r) for r in reversed(references))]:
        if named.ticket_id is not None:
            return named
        forged, old = forged or named.forged, old or (named if named.old else None)
    return Addressed(forged=forged, old=old is not None, old_ticket_id=old.old_ticket_id if old else None)
