"""Reads the customer portal's pages share: which accounts and cases a user sees, what they may ask for,
and what an account cancellation would do to the account (the impact preview).

Only reads live here: every write goes through tickets.services.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import phonenumbers
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.formats import date_format

from accounts.exceptions import Code
from accounts.models import Account, Membership, User
from billing.models import AddOn, CreditEntry, License, Policy, Route
from billing.services import ComingBill, coming_bill, months_after
from numbers.models import PhoneNumber
from tickets import access
from tickets.models import CLOSED_STATES, OPEN_STATES, Kind, State, Ticket
from tickets.rules.objects import lower_plans, plans_back_up, plans_to_move_to, port_outs_pending
from tickets.rules.table import blockers

ROUTE_EXPLANATIONS = {
    Route.SELF_SERVICE: "It is completed at once, without waiting for an agent.",
    Route.SUPPORT_CASE: "An agent will verify it within business hours ({hours}) and keep you posted by email.",
    Route.ACCOUNT_MANAGER: "Your account manager takes it from here and will contact you.",
}


def memberships_of(user: User) -> QuerySet[Membership]:
    """The accounts the portal lists: tickets.access's memberships of active accounts."""
    return access.memberships_for(user)


def membership_or_404(user: User, account_id: str) -> Membership:
    """The user's membership of the active account with this public id; anything else is a 404."""
    membership = memberships_of(user).filter(account__account_id=account_id).first()
    if membership is None:
        raise Http404("No such account.")
    return membership


def dashboard_cases(user: User, account: Account, *, closed: bool = False) -> QuerySet[Ticket]:
    """A3: the open and pending cases the user sees (or, behind the filter, the closed ones), most recently
    updated first."""
    states = CLOSED_STATES if closed else OPEN_STATES
    tickets = access.visible_tickets(user).filter(account=account, state__in=states)
    # Each row's summary names its license, add-on, plan or numbers, and its next step reads the policy.
    related = ("requester", "account__plan__policy", "license", "addon__number", "target_plan")
    return tickets.select_related(*related).prefetch_related("numbers").order_by("-updated_at")


def ticket_for_user_or_404(user: User, pk: int) -> tuple[Ticket, Membership]:
    related = ("account__plan__policy", "requester", "license", "addon", "target_plan")
    ticket = access.visible_tickets(user).select_related(*related).filter(pk=pk).first()
    membership = memberships_of(user).filter(account_id=ticket.account_id).first() if ticket else None
    if ticket is None or membership is None:
        raise Http404("No such case.")
    return ticket, membership


def timeline(user: User, ticket: Ticket) -> list[dict]:
    """The history and the comments the user may read (tickets.access), in the order they happened."""
    entries = [{"at": row.at, "type": "transition", "row": row} for row in access.history_for(user, ticket)] + [
        {"at": comment.created_at, "type": "comment", "row": comment} for comment in access.comments_shown(user, ticket)
    ]
    return sorted(entries, key=lambda entry: entry["at"])


def route_explanation(policy: Policy, route: str) -> str:
    return ROUTE_EXPLANATIONS.get(route, "").format(hours=policy.intake_hours_text)


# -- one line per case: what, which object, when, next step ------------------------------------------------------


def national_number(number: str) -> str:
    """A number as its own country writes it ((415) 555-0100); the E.164 form where it does not parse."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def case_object(ticket: Ticket) -> str:
    """Which thing the case is about, in the customer's words."""
    if ticket.kind == Kind.LICENSE_CANCELLATION and ticket.license_id:
        return f"{ticket.quantity or ''} × {ticket.license.get_product_display()}".strip(" ×")
    if ticket.kind == Kind.ADDON_CANCELLATION and ticket.addon_id:
        addon = ticket.addon
        label = addon.name or addon.get_product_display()
        return f"{label} ({national_number(addon.number.number)})" if addon.number_id else label
    if ticket.kind == Kind.DOWNGRADE and ticket.target_plan_id:
        return f"to {ticket.target_plan.name}"
    if ticket.kind in {Kind.NUMBER_CANCELLATION, Kind.PORT_OUT}:
        numbers = ", ".join(national_number(n.number) for n in ticket.numbers.all())
        if ticket.kind == Kind.PORT_OUT and ticket.gaining_carrier:
            return f"{numbers} to {ticket.gaining_carrier}"
        return numbers
    return ticket.account.name if ticket.account.name != ticket.account.account_id else ticket.account.account_id


def next_step(ticket: Ticket) -> str:
    """What happens next, for the state the case is in now (never "an agent will verify it" once it is verified)."""
    policy = ticket.account.plan.policy
    if ticket.state == State.SUBMITTED:
        if ticket.route == Route.ACCOUNT_MANAGER:
            return "Your account manager takes it from here and will contact you."
        return f"An agent will verify it within business hours ({policy.intake_hours_text})."
    if ticket.state == State.VERIFIED:
        if ticket.route == Route.ACCOUNT_MANAGER:
            return "Verified: waiting for your account manager's approval."
        if ticket.kind == Kind.PORT_OUT:
            return "Verified: a support manager approves it and sets the day the numbers move."
        return "Verified: waiting for a support manager's approval."
    if ticket.state == State.APPROVED:
        if ticket.kind == Kind.PORT_OUT and ticket.foc_date:
            return f"Approved: the numbers move on {ticket.foc_date:%-d %b %Y}."
        return "Approved: an agent completes it next."
    if ticket.state == State.COMPLETED:
        if ticket.route == Route.SELF_SERVICE:
            return "It was completed at once, without waiting for an agent."
        when = timezone.localtime(ticket.closed_at, policy.tz) if ticket.closed_at else None
        return f"Completed on {when:%-d %b %Y}." if when else "Completed."
    if ticket.state == State.REJECTED:
        return "Rejected: open the case to read why."
    return "Withdrawn: nothing was changed."


def case_summary(ticket: Ticket) -> str:
    """The one line of a case row: "License cancellation: 2 × Contact Center license"."""
    thing = case_object(ticket)
    return f"{ticket.get_kind_display()}: {thing}" if thing else ticket.get_kind_display()


# -- what a role may ask for -----------------------------------------------------------------------------------


def kind_link_label(account: Account, kind: str) -> str:
    """The words of the link to a kind's form: a plan change that can go back up says so (K1, K2)."""
    if kind == Kind.DOWNGRADE:
        back_up = plans_back_up(account).last()
        if back_up is not None:
            return "Change the plan" if lower_plans(account).exists() else f"Move back up to {back_up.name}"
    return Kind(kind).label


def kind_applies(account: Account, kind: str) -> bool:
    """Whether the account has anything this kind of request could be about right now."""
    policy = account.plan.policy
    if kind == Kind.REACTIVATION:
        return policy.reactivation_open(account)
    if account.status != Account.Status.ACTIVE:
        return False
    if kind == Kind.LICENSE_CANCELLATION:
        return account.licenses.filter(quantity__gt=0).exists()
    if kind in {Kind.NUMBER_CANCELLATION, Kind.PORT_OUT}:
        return account.numbers.filter(status=PhoneNumber.Status.ACTIVE).exists()
    if kind in (Kind.ADDON_CANCELLATION, Kind.ADDON_CHANGE):
        return account.addons.filter(status=AddOn.Status.ACTIVE).exists()
    if kind == Kind.DOWNGRADE:
        return plans_to_move_to(account).exists()
    return True


def requestable_kinds(account: Account, role: str) -> list[str]:
    """S4, A5, U1: the kinds this role may request on this account now, in the order of Kind."""
    policy = account.plan.policy
    return [kind for kind in Kind.values if access.may_request(policy, role, kind) and kind_applies(account, kind)]


def takes_cancellations_on_the_web(policy: Policy) -> bool:
    """K6: whether the policy accepts account cancellations through the portal at all."""
    return "web" in policy.intake_channels


# -- the impact preview ---------------------------------------------------------------------------------------


@dataclass
class CancellationImpact:
    numbers_released: list[PhoneNumber]
    numbers_porting_out: list[PhoneNumber]
    port_outs_block: bool
    credit_forfeited: Decimal  # S7: what the policy forfeits at completion (0 where it keeps the credit)
    refunds_text: str
    next_billing_date: dt.date | None
    seats: int
    next_bill: Decimal
    misses_billing_cutoff: bool
    bill: ComingBill | None  # K5: the coming bill as a request made now meets it (the admin asks the same)
    completes_now: bool
    purge_date: dt.date | None
    retention_days: int
    reactivation_text: str
    addons_ended: list[AddOn] = field(default_factory=list)
    licenses_ended: list[License] = field(default_factory=list)
    cancellation_fee: Decimal = Decimal("0")
    minimum_term_ends: dt.date | None = None  # set while the policy's minimum term still runs (A1)
    credit_kept: Decimal = Decimal("0")  # U7: credit the policy keeps on the ledger until the purge
    data_text: str = ""  # what happens to the account's data, from the policy (K8, U6, S6, K9)


def cancellation_impact(account: Account, now: dt.datetime | None = None) -> CancellationImpact:
    """What cancelling the account would do, computed from its data and its policy (K5, K8, S5–S8, S10, U6, U7)."""
    now = now or timezone.now()
    policy = account.plan.policy
    completes_now = policy.route == Route.SELF_SERVICE
    bill = coming_bill(account, asked_at=now)
    today = now.astimezone(policy.tz).date()

    if policy.reactivation == Policy.Reactivation.NEVER:
        reactivation_text = "A cancelled account cannot be reactivated: coming back means starting a new account."
    elif policy.reactivation == Policy.Reactivation.WITHIN_RETENTION:
        reactivation_text = (
            f"You can ask to restart the account within {policy.retention_days} days of the cancellation; "
            "after that only a new account is possible."
        )
    elif not policy.purge_scheduled:
        reactivation_text = "You can ask to reactivate the account at any time."  # K9
    else:
        reactivation_text = "You can ask to reactivate the account at any time until its data is deleted."
    credit = max(CreditEntry.balance_of(account), Decimal("0"))
    forfeits = policy.credit_at_cancellation == Policy.CreditAtCancellation.FORFEIT
    purge_date = (today + dt.timedelta(days=policy.retention_days)) if completes_now else None

    refunds_text = {
        Policy.Refunds.NONE: "Charges already made are not refunded, and credit balances are not paid out.",
    }.get(policy.refunds, "")
    term_ends = (
        months_after(account.created_at.astimezone(policy.tz).date(), policy.minimum_term_months)
        if policy.minimum_term_months
        else None
    )
    return CancellationImpact(
        cancellation_fee=policy.cancellation_fee,
        minimum_term_ends=term_ends if term_ends and term_ends > today else None,
        numbers_released=list(account.numbers.filter(status=PhoneNumber.Status.ACTIVE)),
        numbers_porting_out=list(account.numbers.filter(status=PhoneNumber.Status.PORTING_OUT)),
        port_outs_block=policy.require_port_outs_complete and port_outs_pending(account),
        credit_forfeited=credit if forfeits else Decimal("0"),
        credit_kept=Decimal("0") if forfeits else credit,
        data_text=_data_text(policy, purge_date),
        refunds_text=refunds_text,
        next_billing_date=bill.date if bill else None,
        seats=bill.seats if bill else 0,
        next_bill=bill.amount if bill else Decimal("0"),
        misses_billing_cutoff=bool(bill and bill.too_late),
        bill=bill,
        completes_now=completes_now,
        purge_date=purge_date,
        retention_days=policy.retention_days,
        reactivation_text=reactivation_text,
        addons_ended=list(account.addons.filter(status=AddOn.Status.ACTIVE)),
        licenses_ended=list(account.licenses.filter(quantity__gt=0)),
    )


def _data_text(policy: Policy, purge_date: dt.date | None) -> str:
    """K8, U6, S6, K9: what happens to the account's data, in the customer's words."""
    erased = (
        "Users and settings are erased when the cancellation is completed. " if policy.erase_users_at_completion else ""
    )
    if not policy.purge_scheduled:
        return erased + "The account and its history are kept."
    if policy.retention_days == 0:
        return "Deleted permanently when the cancellation is completed."
    if purge_date:
        when = date_format(purge_date, "j M Y")
        return erased + f"Deleted on {when}, {policy.retention_days} days after cancelling."
    return erased + f"Deleted {policy.retention_days} days after the cancellation is completed."


@dataclass
class Blocker:
    """Why the flow cannot start, in the customer's words, with the cases that block it (to open them)."""

    sentence: str
    cases: list[Ticket] = field(default_factory=list)


def _open_cancellations(account: Account) -> list[Ticket]:
    return list(account.tickets.filter(kind=Kind.ACCOUNT_CANCELLATION, state__in=OPEN_STATES).order_by("pk"))


# The cases behind a refusal, by its code, so the page links what blocks the customer.
BLOCKING_CASES = {
    Code.ALREADY_REQUESTED: _open_cancellations,
    Code.PORT_OUTS_PENDING: lambda account: pending_port_outs(account),
}


def cancellation_blockers(account: Account) -> list[Blocker]:
    """Reasons the flow cannot even start, in the customer's words: the refusals of the account-level checks the
    service runs on an account cancellation (S10, one open request at a time), from tickets.rules, each with the
    cases that block it (U3: one with the account manager says so)."""
    found = []
    for refusal in blockers(account, Kind.ACCOUNT_CANCELLATION):
        cases = BLOCKING_CASES.get(refusal.code, lambda account: [])(account)
        sentence = refusal.detail
        if any(case.route == Route.ACCOUNT_MANAGER for case in cases):
            sentence += " It is with your account manager."
        found.append(Blocker(sentence, cases))
    return found


def pending_port_outs(account: Account) -> list[Ticket]:
    """S10: the open port-out cases, and the ones that moved the numbers still porting out."""
    return list(
        account.tickets.filter(kind=Kind.PORT_OUT)
        .filter(Q(state__in=OPEN_STATES) | Q(numbers__status=PhoneNumber.Status.PORTING_OUT))
        .distinct()
        .order_by("pk")
    )


def retention_offers(account: Account, role: str, reason: str | None = None) -> list[str]:
    """U9, S2, K1: the offers the policy gives for this exit-survey answer that this role could take up ("keep"
    is always possible). Without an answer yet: every offer some answer could lead to."""
    policy = account.plan.policy
    offers = policy.offers_for_reason(reason)
    if "downgrade" in offers and not (
        access.may_request(policy, role, Kind.DOWNGRADE) and lower_plans(account).exists()
    ):
        offers.remove("downgrade")
    return offers


def cancellation_steps(account: Account, role: str, reason: str | None = None) -> list[str]:
    """The pages of the account-cancellation flow for this policy (and, once given, the survey answer), in order."""
    policy = account.plan.policy
    steps = ["survey"]
    if retention_offers(account, role, reason):
        steps.append("offers")
    steps.append("preview")
    if policy.acknowledgements:
        steps.append("acknowledge")
    steps.append("verify")
    return steps
