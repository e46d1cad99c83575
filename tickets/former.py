"""The way back of a former member (SPEC §4, "Account lifecycle"): a person whose every account was cancelled.

Their user is deactivated (K8, U5), so Django gives them no session: `is_active` stays false and the rest of the
site treats them as anonymous. Signing in with the right password (or after a password reset) instead opens a
*former-member session*: one key in the session, bound to the user and to their password's hash (as Django binds
a login), that only the former-member page reads. It reaches no case, page or API of the account, and ends with a
password change, the account's purge or its reactivation (the person is then no longer a former member).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from accounts.models import Account, Membership, User
from tickets import access
from tickets.models import OPEN_STATES, Kind, Ticket
from tickets.rules.table import blockers

SESSION_KEY = "_former_member"


def start(request: HttpRequest, user: User) -> None:
    """Open a former-member session for `user` (the password was checked): a new session key, as a login gets."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"id": user.pk, "hash": user.get_session_auth_hash()}


def end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def user_of(request: HttpRequest) -> User | None:
    """The former member this request speaks for: the signed-in customer who has a cancelled account, or the
    holder of a former-member session whose password has not changed since; None for anybody else."""
    if request.user.is_authenticated:
        return request.user if access.is_former_member(request.user) else None
    held = request.session.get(SESSION_KEY)
    if not isinstance(held, dict):
        return None
    user = User.objects.filter(pk=held.get("id"), is_staff=False).first()
    if user is None or not constant_time_compare(str(held.get("hash", "")), user.get_session_auth_hash()):
        end(request)
        return None
    if not access.is_former_member(user):
        end(request)
        return None
    return user


@dataclass
class FormerAccount:
    """What the former-member page says of one cancelled account: no more than its dates and its rule."""

    membership: Membership
    account: Account
    policy: object
    cancelled_at: dt.datetime | None
    purge_after: dt.datetime | None
    asked_at: dt.datetime | None  # an open reactivation request, when one was made
    may_ask: bool  # "Ask to reactivate": the policy allows it now, for this person's role
    refusal: str  # otherwise: the rule's words


def former_accounts(user: User) -> list[FormerAccount]:
    """Each cancelled account of the person, with whether they may ask for it back now: the account's rules for a
    reactivation (tickets.rules.table, K9, U7, S11) and the policy's roles for it, as the submission checks them."""
    shown = []
    for membership in access.former_memberships(user):
        account = membership.account
        policy = account.plan.policy
        open_request = (
            Ticket.objects.filter(account=account, kind=Kind.REACTIVATION, state__in=OPEN_STATES)
            .order_by("created_at")
            .first()
        )
        refusals = blockers(account, Kind.REACTIVATION)
        refusal = refusals[0].detail if refusals else ""
        if not refusal and not access.may_request(policy, membership.role, Kind.REACTIVATION):
            roles = access.requesting_roles(policy, Kind.REACTIVATION)
            refusal = f"A reactivation is asked for by the account's {roles}; you can ask them, or contact us."
        shown.append(
            FormerAccount(
                membership=membership,
                account=account,
                policy=policy,
                cancelled_at=account.cancelled_at,
                purge_after=account.purge_after if policy.purge_scheduled else None,
                asked_at=open_request.created_at if open_request else None,
                may_ask=not refusal,
                refusal=refusal,
            )
        )
    return shown
