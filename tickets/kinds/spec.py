"""What a kind declares (`KindSpec`), and the shared pieces its module builds it from: the rules (`KindRules`,
`guards`) and the routes a policy can give it.

A spec's parts are all required, so a kind module that forgets one fails where it is built; the system check
(tickets.kinds.checks) also says so at start-up for a spec whose part is None, and for a kind with no spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from billing.models import Route

from ..rules import guards as g


def _never(policy, checks) -> bool:
    return False


def _always(checks) -> bool:
    return True


@dataclass(frozen=True)
class KindRules:
    """A kind's rules (SPEC §1, §4), as tickets.services runs them:

    - `account`: account-level checks, run before anything about the requester (SPEC §4, S11);
      `(account, policy, kind, when)`; the portal's blockers list runs the same ones.
    - `submit`: the checks of the request's details, in order; `(Submission)`; they fill the ticket's details.
    - `guards`: per transition, the policy's guards; `(Move)`. Who may run a transition is tickets.access's call.
    - `complete`: what completing it does (a function of tickets.effects).
    - `verified_at_submission`: whether the policy's verification was already satisfied (the system verifies).
    - `self_service_ready`: whether a self-service route may run verify → approve → complete at once.
    """

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


# -- routes: which of the policy's settings decides a kind's route --------------------------------------------


def by_the_policys_route(policy, addon_key: str | None = None) -> str:
    """The policy's own route (its account cancellation's)."""
    return policy.route


def by_kind(kind: str) -> Callable[[Any, str | None], str]:
    """The route the policy sets for the kind (`kind_routes`), a support case where it sets none."""

    def route(policy, addon_key: str | None = None) -> str:
        return policy.kind_routes.get(kind, Route.SUPPORT_CASE)

    return route


def by_addon(kind: str) -> Callable[[Any, str | None], str]:
    """A8, A9, A11: the route of the add-on's cancellation (`addon_routes`), the kind's where no add-on is named."""
    of_kind = by_kind(kind)

    def route(policy, addon_key: str | None = None) -> str:
        return policy.addon_routes.get(addon_key, Route.SUPPORT_CASE) if addon_key else of_kind(policy)

    return route


# -- the spec --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindSpec:
    """Everything about one kind of request. The surfaces read these parts; none keeps a table of its own."""

    kind: str
    rules: KindRules
    # The API: the serializer that validates a request of this kind (tickets.kinds.serializers base).
    serializer: type
    # The desk: the ticket page's record fields (admin field or display names, in order), and the list's one line.
    desk_fields: tuple[str, ...]
    summary: Callable[[Any], str]
    # The portal: which thing the case is about, in the customer's words (None: the account itself); whether the
    # account has anything a request of this kind could be about now (asked only while the account is active,
    # but for a kind that does not stop with the account).
    names: Callable[[Any], str | None]
    applies: Callable[[Any], bool]
    # Which of the policy's settings routes it: (policy, add-on route key or None) → Route.
    route: Callable[[Any, str | None], str]
    # The purge: the ticket fields of this kind that may name or reach a person (blanked, the ticket kept).
    purge_blanks: tuple[str, ...]
    # The account export: the case columns (tickets.account_export.DETAIL_COLUMNS) its details fill.
    export_columns: tuple[str, ...]
    # The portal's form and its template, or `flow`: the URL name of the kind's own flow of pages.
    form: type | None = None
    template: str | None = None
    flow: str | None = None
    # The words of the portal's link to its form, where they depend on the account (None: the kind's label).
    link_label: Callable[[Any], str] | None = None
    # The portal's sentence when the kind does not apply (None: the generic "nothing it could be about").
    unavailable: Callable[[Any], str] | None = None
    # It closes the account: its completion confirms itself (rendered before the erasure, U10), lists the cases
    # it closed and reaches the owner too.
    closes_account: bool = False
    # Its cases still write once the account is not active (its cancellation, a reactivation).
    writes_once_closed: bool = False
    # Asked by someone whose access the cancellation removed (K9, U7): inactive members may ask.
    asked_by_former_members: bool = False
    # An open request of it, asked inside the window, holds the account's purge (U7).
    holds_purge: bool = False
    # Its numbers are in flight while it is open (porting out): marked at submission, freed when it closes
    # without completing; the owner is alerted at once, and the approval sets the day they move (FOC).
    ports_numbers: bool = False
    # Its open request ties up its numbers (no other request may take them): what is being done to them, in words.
    numbers_doing: str | None = None
    # The products page: links this kind offers beside an item; (section, item, facts) → (label, query) or None.
    product_link: Callable[[str, Any, Mapping], tuple[str, str] | None] | None = None

    REQUIRED = (
        "rules",
        "serializer",
        "desk_fields",
        "summary",
        "names",
        "applies",
        "route",
        "purge_blanks",
        "export_columns",
    )

    def missing(self) -> list[str]:
        """The parts this spec lacks: a required part that is None, or neither a form with its template nor a flow."""
        gaps = [name for name in self.REQUIRED if getattr(self, name) is None]
        if not self.flow and (self.form is None or not self.template):
            gaps.append("form and template (or flow)")
        return gaps

    @property
    def stops_with_the_account(self) -> bool:
        """Whether its tickets take no transition once their account is not active (account_still_active
        heads its guards): every kind but a reactivation."""
        return g.account_still_active in self.rules.guards.get("verify", ())


assert {f.name for f in fields(KindSpec)} >= set(KindSpec.REQUIRED)  # noqa: S101
