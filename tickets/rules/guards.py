"""Transition guards: the policy's rules for moving a ticket on, each a small function of the `Move` that refuses
with its own code. `table.RULES` lists them per kind and transition; who may run a transition at all is
tickets.access's call (checked by the service before these)."""

from __future__ import annotations

from accounts.exceptions import Code, Refusal
from accounts.models import Account
from billing.models import License, Policy

from .. import access
from ..models import PORT_OUT_REJECTION_CODES
from . import verification
from .account import PORT_OUTS_PENDING, not_active_sentence, reactivation_closed_sentence
from .context import Move
from .objects import check_license_minimum, outstanding_balance, port_outs_pending

COMMENT_MAX = 5000  # an exit-survey comment, a comment on a case, a rejection reason


# -- every transition ---------------------------------------------------------------------------------------------


def account_still_active(m: Move) -> None:
    """SPEC §4, "Account lifecycle" (K8, U5): a ticket of an account that is not active takes no transition, whoever
    runs it (portal, API, admin, email, the jobs); only the system settling the account's cancellation closes them.
    A reactivation's tickets do not have this guard (table.RULES): their own rules decide."""
    if m.settling or m.account.status == Account.Status.ACTIVE:
        return
    raise Refusal(Code.ACCOUNT_NOT_ACTIVE, not_active_sentence(m.account))


# -- verify -------------------------------------------------------------------------------------------------------


def system_not_guessed_at(m: Move) -> None:
    """Someone is guessing the account's secrets: the system authorizes nothing on it."""
    if m.by_system:
        verification.check_not_locked(m.account)


def account_cancellation_verified(m: Move) -> None:
    """K7, S3: the policy's verification, done at submission or now with the card's last four (or, with no card on
    file, the owner's confirmation by the emailed link: K7's fallback, tickets.verification_links)."""
    ticket, method = m.ticket, m.policy.verification_method
    card_checked = ticket.checks.get("card_last4") or ticket.checks.get("owner_link")
    if method == Policy.Verification.CARD_LAST4 and not card_checked:
        last4 = m.evidence.get("card_last4")
        if not last4:
            raise Refusal(
                Code.VERIFICATION_FAILED,
                "Verify the last four digits of the card on file with the customer first.",
                field="card_last4",
            )
        ticket.checks = {**ticket.checks, "card_last4": verification.check_card(m.account, last4, m.actor)}
    if method == Policy.Verification.TYPED_CONFIRMATION and not ticket.checks.get("confirmation"):
        raise Refusal(Code.VERIFICATION_FAILED, "The customer has not typed the confirmation word.")


def port_out_matches_account(m: Move) -> None:
    """SPEC §4: the PIN or account number, the authorized name and the numbers all matched the account."""
    ticket = m.ticket
    failed = [label for key, label in verification.AUTHORIZATION_LABELS.items() if ticket.checks.get(key) is False]
    if not verification.port_out_authorized(ticket.checks) and not failed:
        failed = ["authorization"]
    on_account = ticket.numbers.exclude(account=m.account).count() == 0
    if failed or not on_account:
        raise Refusal(
            Code.VERIFICATION_FAILED,
            "The port-out request does not match the account ("
            + ", ".join(failed + ([] if on_account else ["numbers"]))
            + "); reject it with the matching code.",
        )


# -- approve ------------------------------------------------------------------------------------------------------


def manager_reviews_balance(m: Move) -> None:
    """K10: with an outstanding balance under manager_review or deny, only a manager approves; the deadline job's
    automatic approval does not either."""
    if m.ticket.needs_manager_review and not access.is_manager(m.actor):
        raise Refusal(
            Code.OUTSTANDING_BALANCE,
            "Payments are outstanding on this account: a support manager must review this port-out.",
        )


def account_manager_approves(m: Move) -> None:
    """U3, A11: a request routed to the account manager is approved by them (or a support manager): the one rule,
    tickets.access.may_approve_on_route, which the buttons ask too."""
    if not m.by_system and not access.may_approve_on_route(m.actor, m.ticket):
        raise Refusal(
            Code.REQUIRES_ACCOUNT_MANAGER,
            f"This request goes through the account manager ({m.account.account_manager}).",
        )


def verifier_may_approve(m: Move) -> None:
    if not m.policy.verifier_may_approve and m.actor is not None and m.ticket.verified_by_id == m.actor.pk:
        raise Refusal(Code.SAME_VERIFIER, "The agent who verified this request may not also approve it.")


# -- complete -----------------------------------------------------------------------------------------------------


def port_outs_finished(m: Move) -> None:
    """S10: no port-out in flight when the account's cancellation completes."""
    if m.policy.require_port_outs_complete and port_outs_pending(m.account, exclude=m.ticket.pk):
        raise Refusal(Code.PORT_OUTS_PENDING, PORT_OUTS_PENDING)


def license_minimum_still_kept(m: Move) -> None:
    """A10, read again under the license's lock."""
    if m.ticket.license_id:
        license_ = License.objects.select_for_update().get(pk=m.ticket.license_id)
        check_license_minimum(m.policy, license_, m.ticket.quantity or 0, exclude=m.ticket.pk)


def reactivation_asked_in_time(m: Move) -> None:
    """U7, K9, S11: the window is judged when the request was received, not when it is completed."""
    if not m.policy.reactivation_open(m.account, m.ticket.created_at):
        raise Refusal(Code.REACTIVATION_CLOSED, reactivation_closed_sentence(m.policy, m.account))


# -- reject -------------------------------------------------------------------------------------------------------


def reason_given(m: Move) -> None:
    reason = (m.evidence.get("reason") or "").strip()
    if not reason:
        raise Refusal(Code.REASON_REQUIRED, "A rejection needs a reason the customer will read.", field="reason")
    if len(reason) > COMMENT_MAX:
        raise Refusal(Code.INVALID_REQUEST, f"A reason is at most {COMMENT_MAX} characters.", field="reason")


def port_out_rejection_code_allowed(m: Move) -> None:
    """US rules: a port-out is rejected only with a code of the allow-list; `outstanding_balance` only where the
    policy's balance rule is deny, money is owed, and a manager decides (K10)."""
    if m.settling:
        # The system closing the port-out because the account's cancellation completed is not a refusal of the
        # port-out (US rules): the numbers leave with the account (K8, S8). Only this settling skips the allow-list.
        return
    code = m.evidence.get("code") or ""
    if code not in PORT_OUT_REJECTION_CODES:
        raise Refusal(
            Code.REJECTION_CODE_NOT_ALLOWED,
            "A port-out may be rejected only with one of: " + ", ".join(PORT_OUT_REJECTION_CODES) + ".",
            field="code",
        )
    if code == "outstanding_balance" and not (
        m.policy.port_out_balance_rule == Policy.PortOutBalanceRule.DENY and outstanding_balance(m.account)
    ):
        raise Refusal(
            Code.REJECTION_CODE_NOT_ALLOWED,
            "A port-out cannot be refused because money is owed unless the policy's balance rule is deny "
            "and payments are outstanding.",
            field="code",
        )
    if code == "outstanding_balance" and m.actor is not None and not access.is_manager(m.actor):
        raise Refusal(Code.ROLE_NOT_ALLOWED, "Only a support manager may reject a port-out for a balance.")
