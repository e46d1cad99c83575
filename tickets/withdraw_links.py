"""The withdraw link of a port-out alert (SPEC §4, fraud protection): signed, expiring, single-use.

The link names a ticket and the person it was emailed to, signed with django.core.signing (the SECRET_KEY and a
salt of its own); it works for someone who is not signed in, since an alert must reach the owner wherever they
read it. It is single-use because using it closes the request: a second use finds it withdrawn.
"""

import datetime as dt

from django.conf import settings
from django.core import signing

from accounts.models import Membership, User

from . import access
from .exceptions import Code, Refusal
from .models import Kind, Ticket

SALT = "tickets.port-out-withdraw"


def make_token(ticket: Ticket, user: User) -> str:
    return signing.dumps({"t": ticket.pk, "u": user.pk}, salt=SALT, compress=True)


def max_age() -> dt.timedelta:
    return dt.timedelta(hours=settings.PORT_OUT_WITHDRAW_LINK_HOURS)


def read_token(token: str) -> tuple[Ticket, User]:
    """The port-out and the recipient a link names, or a Refusal: `link_expired`, `link_invalid`."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired as exc:
        raise Refusal(Code.LINK_EXPIRED, "This link has expired. Sign in to withdraw the request.") from exc
    except signing.BadSignature as exc:
        raise Refusal(Code.LINK_INVALID, "This link is not valid.") from exc
    ticket_id, user_id = (payload.get("t"), payload.get("u")) if isinstance(payload, dict) else (None, None)
    ticket = (
        Ticket.objects.select_related("account").prefetch_related("numbers").filter(pk=ticket_id, kind=Kind.PORT_OUT)
    ).first()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if ticket is None or user is None:
        raise Refusal(Code.LINK_INVALID, "This link is not valid.")
    # Someone who has since lost the role (or left the account) cannot use a link they were once sent.
    if not Membership.objects.filter(
        account_id=ticket.account_id, user=user, role__in=access.PORT_OUT_ALERT_ROLES
    ).exists():
        raise Refusal(Code.LINK_INVALID, "This link is not valid.")
    return ticket, user
