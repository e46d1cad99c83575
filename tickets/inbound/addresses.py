"""Threading: the headers every ticket email carries and the per-ticket reply address, both signed.

A reply address is the desk's address plus-addressed with the ticket's id and an HMAC of it
(`desk+t42.3f9a…@example.com`): a customer's reply finds its ticket, and nobody can forge an address that
files mail into a ticket they were never sent. The Message-IDs the desk writes carry the same token, so a
reply whose client dropped the Reply-To still threads through In-Reply-To/References.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.utils import parseaddr

from django.conf import settings
from django.utils.crypto import salted_hmac

TOKEN_LENGTH = 16
_SALT = "inbound.reply-address"
_PLUS = re.compile(r"^(?P<local>[^+@]+)\+t(?P<id>[0-9]{1,18})\.(?P<token>[0-9a-f]{16})@(?P<domain>[^@]+)$")
_MESSAGE_ID = re.compile(r"^<t(?P<id>[0-9]{1,18})\.(?P<token>[0-9a-f]{16})\.[0-9a-z]+@(?P<domain>[^<>@]+)>$")


def desk_address() -> str:
    """The address replies go to (INBOUND_REPLY_ADDRESS; by default the From address)."""
    configured = getattr(settings, "INBOUND_REPLY_ADDRESS", "") or settings.DEFAULT_FROM_EMAIL
    return parseaddr(configured)[1].lower()


def _domain() -> str:
    return desk_address().partition("@")[2] or "exitdesk.localhost"


def ticket_token(ticket_id: int) -> str:
    return salted_hmac(_SALT, f"ticket:{ticket_id}", algorithm="sha256").hexdigest()[:TOKEN_LENGTH]


def reply_address(ticket_id: int) -> str:
    local, _, domain = desk_address().partition("@")
    return f"{local}+t{ticket_id}.{ticket_token(ticket_id)}@{domain}"


def thread_root(ticket_id: int) -> str:
    """The Message-ID every email about a ticket refers to, so mail clients show one thread per ticket."""
    return f"<t{ticket_id}.{ticket_token(ticket_id)}.root@{_domain()}>"


def message_id_for(ticket_id: int, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return f"<t{ticket_id}.{ticket_token(ticket_id)}.{digest}@{_domain()}>"


def threading_headers(ticket_id: int, key: str, *, references: list[str] | None = None) -> dict[str, str]:
    """Message-ID, In-Reply-To and References for one email about a ticket (References: the customer's own
    first message, when the ticket came by email, then the ticket's thread root)."""
    chain = [*(references or []), thread_root(ticket_id)]
    return {
        "Message-ID": message_id_for(ticket_id, key),
        "In-Reply-To": chain[-1],
        "References": " ".join(chain),
    }


def _valid(ticket_id: str, token: str) -> int | None:
    pk = int(ticket_id)
    return pk if hmac.compare_digest(ticket_token(pk), token) else None


def ticket_from_address(address: str) -> int | None:
    """The ticket id a reply address names, when its HMAC is right and it is one of our addresses."""
    found = _PLUS.match(address.strip().lower())
    if not found:
        return None
    local, _, domain = desk_address().partition("@")
    if found["local"] != local or found["domain"] != domain:
        return None
    return _valid(found["id"], found["token"])


def ticket_from_message_id(message_id: str) -> int | None:
    found = _MESSAGE_ID.match(message_id.strip().lower())
    if not found or found["domain"] != _domain():
        return None
    return _valid(found["id"], found["token"])


def ticket_for(recipients: list[str], references: list[str]) -> tuple[int | None, bool]:
    """(ticket id, forged): the ticket a message answers, and whether it named one with a bad signature."""
    forged = False
    for address in recipients:
        pk = ticket_from_address(address)
        if pk is not None:
            return pk, False
        forged = forged or bool(_PLUS.match(address.strip().lower()))
    for reference in reversed(references):
        pk = ticket_from_message_id(reference)
        if pk is not None:
            return pk, False
        forged = forged or bool(_MESSAGE_ID.match(reference.strip().lower()))
    return None, forged
