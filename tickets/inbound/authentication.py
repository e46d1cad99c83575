"""Sender authentication (issue 24): whether a message's From can be believed.

A message is *authenticated* when DMARC passed for its From domain, as the `Authentication-Results` header (RFC 8601)
of a receiving MTA the desk trusts says: its authserv-id is one of INBOUND_TRUSTED_AUTHSERV_IDS. Every other such
header is ignored (RFC 8601 §5: anybody can write one); of the trusted ones only the topmost, the one the desk's own
MTA added last, is read. The header is read with the maintained `authres` parser, never by string matching.

Hosted providers' webhooks go through the same check: django-anymail exposes no SPF, DKIM or DMARC verdict (only a
spam flag and score), so a webhook's message is authenticated only when the provider's MTA wrote such a header and
its authserv-id is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

import authres
from django.conf import settings

HEADER = "Authentication-Results"


@dataclass(frozen=True)
class Verdict:
    authenticated: bool
    reason: str  # in words, for the agent reading the message


def trusted_ids() -> set[str]:
    return {value.lower() for value in getattr(settings, "INBOUND_TRUSTED_AUTHSERV_IDS", []) or []}


def _parsed(value: str):
    try:
        return authres.AuthenticationResultsHeader.parse_value(" ".join(str(value).split()))
    except Exception:  # noqa: BLE001 - authres raises its own SyntaxError and others: an unreadable header is ignored
        return None


def _dmarc(header) -> tuple[str, str] | None:
    """(result, header.from domain) of the header's DMARC result, or None when it has none."""
    for result in header.results:
        if str(result.method).lower() != "dmarc":
            continue
        domain = next((str(p.value).lower() for p in result.properties if p.type == "header" and p.name == "from"), "")
        return str(result.result).lower(), domain
    return None


def verdict(message: Message, from_email: str) -> Verdict:
    """Whether DMARC passed for the From domain, by the topmost trusted Authentication-Results header."""
    domain = from_email.rpartition("@")[2].lower()
    if not domain:
        return Verdict(False, "Sender not verified: the message has no sender address.")
    trusted = trusted_ids()
    try:
        values = message.get_all(HEADER, []) or []
    except (ValueError, TypeError, IndexError, AttributeError):
        values = []
    untrusted = 0
    for value in values:
        header = _parsed(value)
        if header is None:
            continue
        if not header.authserv_id or str(header.authserv_id).lower() not in trusted:
            untrusted += 1
            continue
        found = _dmarc(header)
        checked_by = str(header.authserv_id).lower()
        if found is None:
            return Verdict(False, f"Sender not verified: the desk's mail server ({checked_by}) checked no DMARC.")
        result, header_from = found
        if result == "pass" and header_from == domain:
            return Verdict(True, f"Sender verified: DMARC passed for {domain} (checked by {checked_by}).")
        if result == "pass":
            passed = header_from or "another domain"
            return Verdict(False, f"Sender not verified: DMARC passed for {passed}, not {domain}.")
        return Verdict(False, f"Sender not verified: DMARC {result} for {domain} (checked by {checked_by}).")
    if untrusted:
        return Verdict(
            False,
            f"Sender not verified: its {untrusted} Authentication-Results header(s) came from mail servers the desk "
            "does not trust (INBOUND_TRUSTED_AUTHSERV_IDS).",
        )
    return Verdict(False, "Sender not verified: no mail server the desk trusts checked it (no DMARC result).")
