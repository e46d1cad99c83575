"""Submission checks: what a request of each kind must carry, read after the requester's role. Each is a small
function of the `Submission` that refuses with its code or fills the ticket's details; `table.RULES` lists them
per kind, in the order they run."""

from __future__ import annotations

from accounts.exceptions import Code, Refusal
from billing.models import REQUIRED_INFO_FIELDS, AddOn, License, Plan, Policy
from config.ids import as_id

from ..models import Channel, ExitReason, Kind
from . import verification
from .context import Submission
from .objects import (
    check_license_minimum,
    check_one_open_request,
    instance,
    numbers_on_account,
    outstanding_balance,
    plans_back_up,
    plans_to_move_to,
)

_REQUIRED_INFO_ATTR = {"full_name": "full_name", "company_or_account_id": "company", "contact": "contact"}

# -- every cancellation -------------------------------------------------------------------------------------------


def required_info_given(s: Submission) -> None:
    """A4: what every cancellation request must carry."""
    ticket, policy, account = s.ticket, s.policy, s.account
    if "company_or_account_id" in policy.required_info and not ticket.company:
        # A4's "company name or account ID": the request is made on the account, so its id answers it (the
        # portal's form offers the same text); name and contact still have to come from the requester.
        ticket.company = f"{account.name} ({account.account_id})"
    missing = [
        key
        for key in REQUIRED_INFO_FIELDS
        if key in policy.required_info and not getattr(ticket, _REQUIRED_INFO_ATTR[key])
    ]
    if missing:
        raise Refusal(
            Code.MISSING_REQUIRED_INFO,
            "A cancellation request must include: " + ", ".join(REQUIRED_INFO_FIELDS[k] for k in missing) + ".",
            field=_REQUIRED_INFO_ATTR[missing[0]],
        )


# -- account cancellation -----------------------------------------------------------------------------------------


def channel_accepted(s: Submission) -> None:
    """K6: the channels the policy takes account cancellations by."""
    policy = s.policy
    if s.channel not in policy.intake_channels:
        ways = " or ".join(Channel(c).label.lower() for c in policy.intake_channels)
        raise Refusal(
            Code.CHANNEL_NOT_ACCEPTED, f"Account cancellations are taken by {ways} only, {policy.intake_hours_text}."
        )


def within_intake_hours(s: Submission) -> None:
    """K6: an email is taken at any hour and waits for the intake hours (its SLA clock counts them from arrival);
    the live channels are refused outside them."""
    policy = s.policy
    if (
        s.channel != Channel.EMAIL
        and policy.intake_hours_enforced
        and not policy.within_intake_hours(s.ticket.created_at)
    ):
        raise Refusal(
            Code.OUTSIDE_INTAKE_HOURS,
            f"Account cancellations are handled {policy.intake_hours_text}. Please contact us then.",
        )


def exit_survey_answered(s: Submission) -> None:
    """U8, S2: the reason is one of Stripe's eight; required where the policy asks."""
    reason = s.request.reason
    if s.policy.exit_survey_required and reason not in ExitReason.values:
        raise Refusal(Code.SURVEY_REQUIRED, "Tell us why you are cancelling.", field="reason")
    if reason and reason not in ExitReason.values:
        raise Refusal(Code.INVALID_REQUEST, "Choose one of the listed reasons.", field="reason")
    s.ticket.reason, s.ticket.comment = reason, s.request.comment.strip()


def acknowledged(s: Submission) -> None:
    """S5: every statement the policy lists is acknowledged."""
    required = s.policy.acknowledgements
    if any(key not in (s.request.acknowledgements or []) for key in required):
        raise Refusal(Code.ACKNOWLEDGEMENT_MISSING, "Please acknowledge every statement.", field="acknowledgements")
    s.ticket.acknowledgements = list(required)
    s.checks["acknowledgements"] = True


def confirmation_typed(s: Submission) -> None:
    """S3: the confirmation word typed exactly (no trimming, no case folding), where the policy asks for it."""
    policy = s.policy
    if policy.verification_method != Policy.Verification.TYPED_CONFIRMATION:
        return
    verification.check_not_locked(s.account)
    if s.request.confirmation != policy.confirmation_word:
        raise verification.failed_verification(
            s.account,
            s.requester,
            policy.verification_method,
            f"Type {policy.confirmation_word} exactly to confirm.",
            "confirmation",
        )
    s.checks["confirmation"] = True


def card_digits_match(s: Submission) -> None:
    """K7: the card's last four, when given with the request (otherwise an agent asks for them at verify)."""
    if s.policy.verification_method == Policy.Verification.CARD_LAST4 and s.request.card_last4 not in (None, ""):
        s.checks["card_last4"] = verification.check_card(s.account, s.request.card_last4, s.requester)


def verified_by_policy(policy: Policy, checks: dict) -> bool:
    """The policy's verification was satisfied at submission: the system verifies the ticket at once."""
    method = policy.verification_method
    if method == Policy.Verification.TYPED_CONFIRMATION:
        return checks.get("confirmation") is True
    if method == Policy.Verification.CARD_LAST4:
        return checks.get("card_last4") is True
    return False


# -- license, number and add-on cancellations ---------------------------------------------------------------------


def license_and_quantity(s: Submission) -> None:
    license_ = instance(License, s.request.license, s.account, "license")
    if license_ is None:
        raise Refusal(Code.INVALID_REQUEST, "Choose the license to cancel.", field="license")
    quantity = s.request.quantity
    if not isinstance(quantity, int) or quantity < 1 or quantity > license_.quantity:
        raise Refusal(Code.INVALID_REQUEST, f"Quantity must be between 1 and {license_.quantity}.", field="quantity")
    s.ticket.license, s.ticket.quantity = license_, quantity


def one_open_request_per_license(s: Submission) -> None:
    check_one_open_request(s.ticket.kind, license=s.ticket.license)


def license_minimum_kept(s: Submission) -> None:
    """A10."""
    check_license_minimum(s.policy, s.ticket.license, s.ticket.quantity)


def one_number(s: Submission) -> None:
    s.numbers = numbers_on_account(s.account, s.request.numbers[:1] if s.request.numbers else [], kind=s.ticket.kind)
    if not s.numbers:
        raise Refusal(Code.INVALID_REQUEST, "Choose the number to cancel.", field="number")


def active_addon(s: Submission) -> None:
    addon = instance(AddOn, s.request.addon, s.account, "addon")
    if addon is None or addon.status != AddOn.Status.ACTIVE:
        doing = "change" if s.ticket.kind == Kind.ADDON_CHANGE else "cancel"
        raise Refusal(Code.INVALID_REQUEST, f"Choose an active add-on to {doing}.", field="addon")
    s.ticket.addon = s.addon = addon


def new_tier(s: Submission) -> None:
    """A8, A9, A11: the tier or package the add-on moves to: one its policy lists for the product, other than the one
    it has."""
    tier = (s.request.tier or "").strip()
    if not tier:
        raise Refusal(Code.MISSING_REQUIRED_INFO, "Name the tier or package to move to.", field="tier")
    tiers = s.policy.tiers_for(s.addon.product)
    if not tiers:
        raise Refusal(Code.INVALID_REQUEST, f"{s.addon} has no tiers or packages to move between.", field="tier")
    if tier not in tiers:
        raise Refusal(Code.INVALID_REQUEST, f"{s.addon} comes in {', '.join(tiers)}: choose one of them.", field="tier")
    if tier == s.addon.tier:
        raise Refusal(Code.INVALID_REQUEST, f"{s.addon} is already on {tier}.", field="tier")
    s.ticket.tier = tier


def one_open_request_per_addon(s: Submission) -> None:
    check_one_open_request(s.ticket.kind, addon=s.ticket.addon)


# -- port-out -----------------------------------------------------------------------------------------------------


def numbers_to_port(s: Submission) -> None:
    s.numbers = numbers_on_account(s.account, s.request.numbers, kind=s.ticket.kind)
    if not s.numbers:
        raise Refusal(Code.INVALID_REQUEST, "Choose at least one number to port out.", field="numbers")


def carrier_and_authorized_name(s: Submission) -> None:
    for name in ("gaining_carrier", "authorized_name"):
        if not getattr(s.request, name).strip():
            raise Refusal(Code.MISSING_REQUIRED_INFO, f"{name.replace('_', ' ').capitalize()} is required.", field=name)
    s.ticket.gaining_carrier = s.request.gaining_carrier.strip()
    s.ticket.authorized_name = s.request.authorized_name.strip()


def port_out_lock_off(s: Submission) -> None:
    """SPEC §4 fraud protection: the customer's own choice, so not a denial under K10."""
    if s.account.port_out_locked:
        raise Refusal(
            Code.PORT_OUT_LOCKED,
            "The account's owner has switched on the port-out lock: no number can be ported out until the owner "
            "switches it off in the portal.",
        )


def port_out_authorization(s: Submission) -> None:
    """SPEC §4: the PIN or account number and the authorized name, stored as outcomes. The request is kept when
    they fail (staff reject it with the matching code); the failure counts toward the lock in this transaction,
    which commits with the ticket."""
    verification.check_not_locked(s.account)
    s.checks.update(
        verification.port_out_checks(s.account, s.ticket.authorized_name, s.request.pin, s.request.account_number)
    )
    s.checks["numbers_on_account"] = True
    failed = [key for key, passed in s.checks.items() if not passed]
    if failed:
        verification.count_failed_attempt(
            account_id=s.account.pk, user_id=s.actor.pk if s.actor else None, method="port_out:" + "+".join(failed)
        )


def balance_review(s: Submission) -> None:
    """K10: with money owed, under manager_review or deny, a manager decides."""
    if s.policy.port_out_balance_rule != Policy.PortOutBalanceRule.IGNORE and outstanding_balance(s.account):
        s.ticket.needs_manager_review = True


# -- downgrade ----------------------------------------------------------------------------------------------------


def plan_offered(s: Submission) -> None:
    """K2: a lower plan of the same product line; K1, K2: or back up to the plan a downgrade left, where the policy
    says so (objects.plans_to_move_to)."""
    plan = s.request.plan
    plan_pk = plan.pk if isinstance(plan, Plan) else as_id(plan) if plan is not None else None
    chosen = plans_to_move_to(s.account).filter(pk=plan_pk).first() if plan_pk is not None else None
    if chosen is None:
        back_up = plans_back_up(s.account).last()
        also = f", or back up to {back_up.name}" if back_up else ""
        raise Refusal(Code.INVALID_PLAN, f"Choose a lower plan of the same product line{also}.", field="plan")
    s.ticket.target_plan = chosen
