"""Signed links emailed to one person about one ticket: signed, expiring, and naming the ticket and its recipient.

The project's one pattern for links that work without signing in (an email must reach its reader wherever they
read it): django.core.signing with the SECRET_KEY and a salt per purpose, an age limit, and on reading, the
recipient must still hold a role the link is meant for (someone who has since lost it, or left the account,
cannot use a link they were once sent). What a link does is its purpose's module: tickets/withdraw_links.py (the
port-out alert's withdraw link, SPEC §4) and tickets/verification_links.py (K7's confirmation link). Each purpose
makes its link single-use by what using it does (the ticket leaves the state the link acts on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.core import signing

from accounts.exceptions import Code, Refusal
from accounts.models import Membership, User

from . import access
from .models import Kind, Ticket


@dataclass(frozen=True)
class TicketLink:
    salt: str
    kind: str  # the ticket kind the link acts on
    roles: Collection[str]  # who the link may be sent to, read again when it is used
    hours: Callable[[], int]  # read when used, so a changed setting applies to links already sent
    expired_detail: str
    prefetch: tuple[str, ...] = ()

    def max_age(self) -> dt.timedelta:
        return dt.timedelta(hours=self.hours())

    def make(self, ticket: Ticket, user: User) -> str:
        return signing.dumps({"t": ticket.pk, "u": user.pk}, salt=self.salt, compress=True)

    def read(self, token: str) -> tuple[Ticket, User]:
        """The ticket and the recipient a link names, or a Refusal: `link_expired`, `link_invalid`."""
        try:
            payload = signing.loads(token, salt=self.salt, max_age=self.max_age())
        except signing.SignatureExpired as exc:
            raise Refusal(Code.LINK_EXPIRED, self.expired_detail) from exc
        except signing.BadSignature as exc:
            raise Refusal(Code.LINK_INVALID, "This link is not valid.") from exc
        ticket_id, user_id = (payload.get("t"), payload.get("u")) if isinstance(payload, dict) else (None, None)
        tickets = Ticket.objects.select_related("account").prefetch_related(*self.prefetch)
        ticket = tickets.filter(pk=ticket_id, kind=self.kind).first()
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if ticket is None or user is None:
            raise Refusal(Code.LINK_INVALID, "This link is not valid.")
        if access.role_in(user, ticket.account_id) not in self.roles:  # a role of the active account, read again
            raise Refusal(Code.LINK_INVALID, "This link is not valid.")
        return ticket, user


# K7's fallback (tickets.verification_links): the owner's confirmation of an account cancellation. Defined here,
# beside the class, so the email that carries it (tickets.notifications) and the service that reads it share it.
OWNER_CONFIRMATION_HOURS = 48
OWNER_CONFIRMATION = TicketLink(
    salt="tickets.owner-confirmation",
    kind=Kind.ACCOUNT_CANCELLATION,
    roles=(Membership.Role.OWNER,),
    hours=lambda: OWNER_CONFIRMATION_HOURS,
    expired_detail="This link has expired. Ask support to send a new one.",
)
