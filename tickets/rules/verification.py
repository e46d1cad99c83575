"""Proving a request is the account's (K7, S3, SPEC §4 port-outs) and the lockout after repeated failures.

Five failed verifications of an account within an hour lock its verifications (`verification_locked`); the
failure that locks it is logged and emailed to the owner. Only the outcome of a check is kept, never the digits.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.exceptions import Code, Refusal
from accounts.models import Account, AccountEvent, Membership, User

from ..models import VerificationAttempt
from ..notifications import send_verification_locked

security_log = logging.getLogger("exitdesk.security")

VERIFICATION_LOCK_ATTEMPTS = 5
VERIFICATION_LOCK_WINDOW = dt.timedelta(hours=1)
AUTHORIZATION_LABELS = {"pin": "PIN", "account_number": "account number", "name": "authorized name"}


def verification_locked(account: Account, now: dt.datetime | None = None) -> bool:
    since = (now or timezone.now()) - VERIFICATION_LOCK_WINDOW
    failures = VerificationAttempt.objects.filter(account=account, succeeded=False, at__gte=since).count()
    return failures >= VERIFICATION_LOCK_ATTEMPTS


def locked_accounts(now: dt.datetime | None = None) -> set[int]:
    """Ids of the accounts whose verification is locked now: one query, for the jobs."""
    since = (now or timezone.now()) - VERIFICATION_LOCK_WINDOW
    return set(
        VerificationAttempt.objects.filter(succeeded=False, at__gte=since)
        .values("account_id")
        .annotate(failures=Count("pk"))
        .filter(failures__gte=VERIFICATION_LOCK_ATTEMPTS)
        .values_list("account_id", flat=True)
    )


def check_not_locked(account: Account) -> None:
    if verification_locked(account):
        raise Refusal(
            Code.VERIFICATION_LOCKED,
            "Verification is locked after 5 failed attempts in an hour. Try again later or contact support.",
        )


def failed_verification(account: Account, user: User | None, method: str, detail: str, field: str) -> Refusal:
    refusal = Refusal(Code.VERIFICATION_FAILED, detail, field=field)
    refusal.failed_attempt = (account.pk, user.pk if user else None, method)
    return refusal


def record_failed_attempt(refusal: Refusal) -> None:
    """Written after the refused transaction rolled back, so the failure still counts toward the lock."""
    if refusal.failed_attempt:
        account_id, user_id, method = refusal.failed_attempt
        count_failed_attempt(account_id=account_id, user_id=user_id, method=method)


def count_failed_attempt(*, account_id: int, user_id: int | None, method: str) -> None:
    """Record one failed verification; the one that locks the account is logged and emailed to its owner."""
    attempt = VerificationAttempt.objects.create(account_id=account_id, user_id=user_id, method=method, succeeded=False)
    since = attempt.at - VERIFICATION_LOCK_WINDOW
    failures = VerificationAttempt.objects.filter(account_id=account_id, succeeded=False, at__gte=since).count()
    # `>=` and "not told yet": failures recorded at the same moment (card checks are counted outside the account's
    # lock) may jump past the fifth; the owner is told at least once.
    already_told = AccountEvent.objects.filter(
        account_id=account_id, kind=AccountEvent.Kind.VERIFICATION_LOCKED, at__gte=since
    ).exists()
    if failures >= VERIFICATION_LOCK_ATTEMPTS and not already_told:
        AccountEvent.objects.create(
            account_id=account_id,
            kind=AccountEvent.Kind.VERIFICATION_LOCKED,
            actor_id=user_id,
            note=f"{failures} failed verifications within an hour; the last: {method}.",
        )
        security_log.warning(
            "verification_locked: account %s locked after %s failed verifications (last: %s by user %s)",
            account_id,
            failures,
            method,
            user_id,
        )
        transaction.on_commit(lambda: send_verification_locked.delay(account_id, attempt.pk))


def check_card(account: Account, last4: str, user: User | None) -> bool:
    """K7: the last four digits against the card on file; only the outcome is kept."""
    check_not_locked(account)
    card = getattr(account, "card", None)
    if card is None:
        raise Refusal(Code.VERIFICATION_FAILED, "There is no card on file to verify against.", field="card_last4")
    if str(last4) != card.last4:
        raise failed_verification(
            account, user, "card_last4", "The last four digits do not match the card on file.", "card_last4"
        )
    return True


def port_out_checks(account: Account, authorized_name: str, pin: str | None, account_number: str | None) -> dict:
    """The port-out's authorization (SPEC §4): the PIN where the account has one, else its account number; and
    the authorized person's name. Only the outcomes are kept, and only staff see them."""
    admins = account.memberships.exclude(role=Membership.Role.MEMBER).values_list("user__full_name", flat=True)
    name_ok = authorized_name.strip().casefold() in {n.strip().casefold() for n in admins if n}
    if account.port_out_pin:
        return {"pin": account.check_port_out_pin(pin), "name": name_ok}
    # Without a PIN the account number authorizes: the API's `account_number`, or the portal's one field.
    given = (account_number or pin or "").strip().upper()
    number_ok = bool(given) and hmac.compare_digest(given.encode(), account.account_id.encode())
    return {"account_number": number_ok, "name": name_ok}


def port_out_authorized(checks: dict) -> bool:
    """Every check stored at submission passed: a PIN or the account number, the name, the numbers."""
    has_secret = checks.get("pin") is True or checks.get("account_number") is True
    return has_secret and checks.get("name") is True and all(value is True for value in checks.values())
