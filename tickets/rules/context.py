"""What a rule reads: the request as every interface parses it, and the situation a check or a guard looks at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accounts.models import Account, User
from billing.models import AddOn, License, Plan, Policy

from ..models import Ticket


@dataclass
class Request:
    """What a requester asks for: the ticket's kind-specific details, as every interface parses them."""

    full_name: str = ""
    company: str = ""
    contact: str = ""
    reason: str = ""
    comment: str = ""
    acknowledgements: list[str] = field(default_factory=list)
    confirmation: str | None = None
    card_last4: str | None = None
    license: License | int | None = None
    quantity: int | None = None
    numbers: list[Any] = field(default_factory=list)
    addon: AddOn | int | None = None
    plan: Plan | int | None = None
    tier: str = ""
    gaining_carrier: str = ""
    authorized_name: str = ""
    pin: str | None = None
    account_number: str | None = None
    priority: str = "normal"


@dataclass
class Submission:
    """A request being submitted: the account (locked), its policy, the ticket being built and what was asked.

    Checks read it and fill the ticket's details (`ticket.license`, `numbers`, `addon`, `checks`); a check that
    refuses raises `Refusal`."""

    account: Account
    policy: Policy
    ticket: Ticket
    request: Request
    channel: str
    requester: User
    actor: User | None
    checks: dict[str, bool] = field(default_factory=dict)
    numbers: list = field(default_factory=list)
    addon: AddOn | None = None


@dataclass
class Move:
    """A transition being run on a ticket (its account locked): who asks, with what evidence."""

    ticket: Ticket
    name: str
    actor: User | None
    evidence: dict
    by_system: bool
    # The system closing the other open cases of an account whose cancellation completes (services.settle_account).
    settling: bool = False

    @property
    def account(self) -> Account:
        return self.ticket.account

    @property
    def policy(self) -> Policy:
        return self.ticket.account.plan.policy
