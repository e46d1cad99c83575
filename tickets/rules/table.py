"""The rules of every request kind, in one table: read this first.

For each kind:
- `account`: account-level checks, run before anything about the requester (SPEC §4, S11);
  `(account, policy, kind, when)`; the portal's blockers list runs the same ones (`blockers`).
- `submit`: the checks of the request's details, in order; `(Submission)`; they fill the ticket's details.
- `guards`: per transition, the policy's guards; `(Move)`. Who may run a transition is tickets.access's call.
- `complete`: what completing it does (tickets.effects.COMPLETERS).
- `verified_at_submission`: whether the policy's verification was already satisfied (the system verifies).
- `self_service_ready`: whether a self-service route may run verify → approve → complete at once.

Each check is a small named function that reads the policy and raises `Refusal` with its code. A new rule is a
policy field, one function here and its test (README, "Adding a rule").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from accounts.exceptions import Refusal
from accounts.models import Account

from .. import effects
from ..models import TRANSITIONS, Kind
from . import account as acct
from . import guards as g
from . import submission as sub
from .verification import port_out_authorized


def _never(policy, checks) -> bool:
    return False


def _always(checks) -> bool:
    return True


@dataclass(frozen=True)
class KindRules:
    account: tuple[Callable, ...]
    submit: tuple[Callable, ...]
    complete: Callable
    guards: dict[str, tuple[Callable, ...]] = field(default_factory=dict)
    verified_at_submission: Callable = _never
    self_service_ready: Callable = _always


def guards(
    *, verify=(), approve=(), complete=(), reject=(), account=(g.account_still_active,)
) -> dict[str, tuple[Callable, ...]]:
    """A kind's guards; every kind also refuses a rejection without a reason, and an approval by someone other
    than the account manager on their route, or by the verifier where the policy forbids it. `account` runs first
    on every transition: a ticket of an account that is not active takes none (all kinds but a reactivation)."""
    return {
        "verify": (*account, *verify),
        "approve": (*account, *approve, g.account_manager_approves, g.verifier_may_approve),
        "complete": (*account, *complete),
        "reject": (*account, g.reason_given, *reject),
        "withdraw": tuple(account),
    }


ACTIVE_ACCOUNT = (acct.account_active,)

RULES: dict[str, KindRules] = {
    Kind.ACCOUNT_CANCELLATION: KindRules(
        account=(
            acct.account_active,
            acct.one_open_request_per_account,
            acct.port_outs_complete,
            acct.not_in_last_days_of_term,
        ),
        submit=(
            sub.required_info_given,
            sub.channel_accepted,
            sub.within_intake_hours,
            sub.exit_survey_answered,
            sub.acknowledged,
            sub.confirmation_typed,
            sub.card_digits_match,
        ),
        guards=guards(verify=[g.account_cancellation_verified], complete=[g.port_outs_finished]),
        complete=effects.COMPLETERS[Kind.ACCOUNT_CANCELLATION],
        verified_at_submission=sub.verified_by_policy,
    ),
    Kind.LICENSE_CANCELLATION: KindRules(
        account=ACTIVE_ACCOUNT,
        submit=(
            sub.required_info_given,
            sub.license_and_quantity,
            sub.one_open_request_per_license,
            sub.license_minimum_kept,
        ),
        guards=guards(complete=[g.license_minimum_still_kept]),
        complete=effects.COMPLETERS[Kind.LICENSE_CANCELLATION],
    ),
    Kind.NUMBER_CANCELLATION: KindRules(
        account=ACTIVE_ACCOUNT,
        submit=(sub.required_info_given, sub.one_number),
        guards=guards(),
        complete=effects.COMPLETERS[Kind.NUMBER_CANCELLATION],
    ),
    Kind.ADDON_CANCELLATION: KindRules(
        account=ACTIVE_ACCOUNT,
        submit=(sub.required_info_given, sub.active_addon, sub.one_open_request_per_addon),
        guards=guards(),
        complete=effects.COMPLETERS[Kind.ADDON_CANCELLATION],
    ),
    Kind.ADDON_CHANGE: KindRules(
        account=ACTIVE_ACCOUNT,
        submit=(sub.active_addon, sub.new_tier, sub.one_open_request_per_addon),
        guards=guards(),
        complete=effects.COMPLETERS[Kind.ADDON_CHANGE],
    ),
    Kind.PORT_OUT: KindRules(
        account=ACTIVE_ACCOUNT,
        submit=(
            sub.numbers_to_port,
            sub.carrier_and_authorized_name,
            sub.port_out_lock_off,
            sub.port_out_authorization,
            sub.balance_review,
        ),
        guards=guards(
            verify=[g.system_not_guessed_at, g.port_out_matches_account],
            approve=[g.system_not_guessed_at, g.manager_reviews_balance],
            reject=[g.port_out_rejection_code_allowed],
        ),
        complete=effects.COMPLETERS[Kind.PORT_OUT],
        # A port-out whose authorization failed waits for staff even on a self-service route: its failure is
        # already counted in this transaction, which a refused verify would roll back.
        self_service_ready=port_out_authorized,
    ),
    Kind.DOWNGRADE: KindRules(
        account=(acct.account_active, acct.one_open_request_per_account),
        submit=(sub.plan_offered,),
        guards=guards(),
        complete=effects.COMPLETERS[Kind.DOWNGRADE],
    ),
    Kind.REACTIVATION: KindRules(
        account=(acct.reactivation_window_open, acct.one_open_request_per_account),
        submit=(),
        # A reactivation's tickets belong to a cancelled account: the window decides, not the account's status.
        guards=guards(complete=[g.reactivation_asked_in_time], account=()),
        complete=effects.COMPLETERS[Kind.REACTIVATION],
    ),
}

assert set(RULES) == set(Kind.values)  # noqa: S101 - every kind has its rules
assert all(set(rules.guards) == set(TRANSITIONS) for rules in RULES.values())  # noqa: S101


# The kinds whose tickets stop with their account (account_still_active heads their guards): every kind but a
# reactivation. The jobs read it to leave a closed account's leftover cases alone instead of trying each.
STOP_WITH_THE_ACCOUNT = frozenset(
    kind for kind, rules in RULES.items() if g.account_still_active in rules.guards["verify"]
)


def movable(tickets: QuerySet) -> QuerySet:
    """`tickets` without those account_still_active would refuse every transition (their account is not active)."""
    return tickets.exclude(Q(kind__in=STOP_WITH_THE_ACCOUNT) & ~Q(account__status=Account.Status.ACTIVE))


def blockers(account: Account, kind: str = Kind.ACCOUNT_CANCELLATION) -> list[Refusal]:
    """Every account-level refusal a request of `kind` would meet now, each from the check the service runs."""
    policy = account.plan.policy
    refusals = []
    for check in RULES[kind].account:
        try:
            check(account, policy, kind)
        except Refusal as refusal:
            refusals.append(refusal)
    return refusals
