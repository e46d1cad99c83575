"""The withdraw link of a port-out alert (SPEC §4, fraud protection): signed, expiring, single-use.

The link names a ticket and the person it was emailed to (tickets.signed_links, with a salt of its own); it works
for someone who is not signed in, since an alert must reach the owner wherever they read it. It is single-use
because using it closes the request: a second use finds it withdrawn.
"""

import datetime as dt

from django.conf import settings

from accounts.models import User

from . import access
from .models import Kind, Ticket
from .signed_links import TicketLink

SALT = "tickets.port-out-withdraw"

LINK = TicketLink(
    salt=SALT,
    kind=Kind.PORT_OUT,
    roles=access.PORT_OUT_ALERT_ROLES,
    hours=lambda: settings.PORT_OUT_WITHDRAW_LINK_HOURS,
    expired_detail="This link has expired. Sign in to withdraw the request.",
    prefetch=("numbers",),
)


def make_token(ticket: Ticket, user: User) -> str:
    return LINK.make(ticket, user)


def max_age() -> dt.timedelta:
    return LINK.max_age()


def read_token(token: str) -> tuple[Ticket, User]:
    """The port-out and the recipient a link names, or a Refusal: `link_expired`, `link_invalid`."""
    return LINK.read(token)
