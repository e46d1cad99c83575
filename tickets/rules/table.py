"""The rules of every request kind, read from each kind's spec (tickets/kinds/<kind>.py): read those first.

For each kind (tickets.kinds.spec.KindRules):
- `account`: account-level checks, run before anything about the requester (SPEC §4, S11);
  `(account, policy, kind, when)`; the portal's blockers list runs the same ones (`blockers`).
- `submit`: the checks of the request's details, in order; `(Submission)`; they fill the ticket's details.
- `guards`: per transition, the policy's guards; `(Move)`. Who may run a transition is tickets.access's call.
- `complete`: what completing it does (a function of tickets.effects).
- `verified_at_submission`: whether the policy's verification was already satisfied (the system verifies).
- `self_service_ready`: whether a self-service route may run verify → approve → complete at once.

Each check is a small named function that reads the policy and raises `Refusal` with its code. A new rule is a
policy field, one function in this package, its place in the kind's spec and its test (README, "Adding a rule").
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.exceptions import Refusal
from accounts.models import Account

from ..kinds import registry
from ..kinds.spec import KindRules, guards
from ..models import Kind

__all__ = ["RULES", "KindRules", "blockers", "guards", "movable", "stop_with_the_account"]

# Every kind's rules, by kind: a view of the registry (tickets.kinds), read when asked.
RULES = registry.View(lambda spec: spec.rules)


def stop_with_the_account() -> list[str]:
    """The kinds whose tickets stop with their account (account_still_active heads their guards): every kind but a
    reactivation. The jobs read it to leave a closed account's leftover cases alone instead of trying each."""
    return registry.kinds_where(lambda spec: spec.stops_with_the_account)


def movable(tickets: QuerySet) -> QuerySet:
    """`tickets` without those account_still_active would refuse every transition (their account is not active)."""
    return tickets.exclude(Q(kind__in=stop_with_the_account()) & ~Q(account__status=Account.Status.ACTIVE))


def blockers(account: Account, kind: str = Kind.ACCOUNT_CANCELLATION) -> list[Refusal]:
    """Every account-level refusal a request of `kind` would meet now, each from the check the service runs."""
    policy = account.plan.policy
    refusals = []
    for check in registry.spec(kind).rules.account:
        try:
            check(account, policy, kind)
        except Refusal as refusal:
            refusals.append(refusal)
    return refusals
