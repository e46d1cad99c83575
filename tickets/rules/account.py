"""Account-level rules: checked before anything about the requester (SPEC §4, S11), so a refusal names the rule
that decides. Each takes the account (locked by the service), its policy and the kind asked for.

The portal's "why can't I cancel?" list (`table.blockers`) runs the same functions and shows their refusals.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from accounts.exceptions import Code, Refusal
from accounts.lifecycle import cancelled_on
from accounts.models import Account
from billing.models import Policy

from .objects import check_one_open_request, port_outs_pending

PORT_OUTS_PENDING = (
    "A port-out is still in progress. All port-outs must be complete before the account can be cancelled: "
    "numbers you want to keep must finish moving first."
)


def account_active(account: Account, policy: Policy, kind: str, when: dt.datetime | None = None) -> None:
    if account.status == Account.Status.CANCELLED:
        raise Refusal(
            Code.ACCOUNT_NOT_ACTIVE,
            "This account was cancelled: the only request it takes is its reactivation, where its policy allows one.",
        )
    if account.status != Account.Status.ACTIVE:
        raise Refusal(Code.ACCOUNT_NOT_ACTIVE, not_active_sentence(account))


def not_active_sentence(account: Account) -> str:
    """Why nothing more happens on this account's requests, naming the day it was cancelled."""
    if account.cancelled_at is None:
        return "This account is not active."
    gone = " and its data deleted" if account.status == Account.Status.PURGED else ""
    return (
        f"This account was cancelled on {cancelled_on(account)}{gone}: its requests are closed and take no further "
        "steps. Ask for a reactivation where the provider offers one."
    )


def reactivation_window_open(account: Account, policy: Policy, kind: str, when: dt.datetime | None = None) -> None:
    """K9, U7, S11: judged at `when`, the moment the request was received (U7: asked on day 59 of 60, it may be
    completed on day 61)."""
    if not policy.reactivation_open(account, when):
        raise Refusal(Code.REACTIVATION_CLOSED, reactivation_closed_sentence(policy, account))


def one_open_request_per_account(account: Account, policy: Policy, kind: str, when: dt.datetime | None = None) -> None:
    check_one_open_request(kind, account=account)


def port_outs_complete(account: Account, policy: Policy, kind: str, when: dt.datetime | None = None) -> None:
    """S10: where the policy asks, no port-out may be in flight when an account cancellation is asked for."""
    if policy.require_port_outs_complete and port_outs_pending(account):
        raise Refusal(Code.PORT_OUTS_PENDING, PORT_OUTS_PENDING)


def not_in_last_days_of_term(account: Account, policy: Policy, kind: str, when: dt.datetime | None = None) -> None:
    """The worked example of "Adding a rule" (README): where the policy asks, no account cancellation in the last
    `refuse_cancellation_days_before_term_end` days before the term ends (the subscription's next billing date)."""
    days = policy.refuse_cancellation_days_before_term_end
    subscription = getattr(account, "subscription", None)
    if not days or subscription is None:
        return
    today = (when or timezone.now()).astimezone(policy.tz).date()
    if 0 <= (subscription.next_billing_date - today).days < days:
        raise Refusal(
            Code.TERM_ENDING,
            f"Account cancellations are not taken in the last {days} days of a term; this term ends on "
            f"{subscription.next_billing_date:%d %B %Y}. Please ask again once it has renewed.",
        )


def reactivation_closed_sentence(policy: Policy, account: Account) -> str:
    """The rule that closes a reactivation, in its own words: S11 where the policy never reactivates, U7 once the
    retention period is over (the data is deleted, or being deleted: only a new account)."""
    if policy.reactivation == Policy.Reactivation.NEVER:
        return (
            "A cancelled account cannot be reactivated: a returning customer starts a new account, and may use the "
            "same email address."
        )
    if account.status == Account.Status.ACTIVE:
        return "This account is active: there is nothing to reactivate."
    if policy.purge_scheduled:
        return (
            f"An account can be restarted only within the {policy.retention_days} days after its cancellation, while "
            "its data is kept; after them, and once its data is deleted, only a new account is possible."
        )
    return "This account's data was deleted: it can no longer be restarted, and only a new account is possible."
