"""Ticket use cases: submit a request and move it through its state machine.

Every interface (portal, admin, API, Celery tasks) calls these functions; none of them changes a ticket's
state any other way. A refusal is a `Refusal` with a stable code.

Locks, in one order for every service here, in accounts/purge.py and tickets/effects.py (config/locking.py says
why): the account row first, then its tickets, then licenses and add-ons, then phone numbers. `submit_ticket`
locks the account; `transition_ticket` locks the account, then the ticket (a reactivation's completion and the
purge of the same account both start with the account, so they queue instead of deadlocking). A lock conflict the
database still reports is retried a bounded number of times (`config.locking.retrying`), then refused `busy`.
"""

import datetime as dt
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Case, Count, OuterRef, Q, Subquery, Sum, When
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from accounts.models import Account, AccountEvent, Membership, User
from billing.models import REQUIRED_INFO_FIELDS, AddOn, License, Plan, Policy, Route
from config.ids import as_id
from config.locking import BUSY_DETAIL, is_lock_conflict, retrying

from . import access, effects, sla
from .exceptions import Refusal
from .models import (
    ONE_OPEN_REQUEST_CONSTRAINTS,
    OPEN_STATES,
    PORT_OUT_REJECTION_CODES,
    TRANSITIONS,
    Channel,
    ExitReason,
    Kind,
    LogChannel,
    State,
    Ticket,
    TransitionLog,
    VerificationAttempt,
)

security_log = logging.getLogger("exitdesk.security")

# Free text a person writes, in characters: longer is refused (`invalid_request`) whatever the interface.
COMMENT_MAX = 5000  # an exit-survey comment, a comment on a case, a rejection reason
TEXT_LIMITS = {"full_name": 200, "company": 200, "contact": 200, "gaining_carrier": 120, "authorized_name": 200}
VERIFICATION_LOCK_ATTEMPTS = 5
VERIFICATION_LOCK_WINDOW = dt.timedelta(hours=1)
CANCELLATION_KINDS = {
    Kind.ACCOUNT_CANCELLATION,
    Kind.LICENSE_CANCELLATION,
    Kind.NUMBER_CANCELLATION,
    Kind.ADDON_CANCELLATION,
}
TARGETS = {
    "verify": State.VERIFIED,
    "approve": State.APPROVED,
    "complete": State.COMPLETED,
    "reject": State.REJECTED,
    "withdraw": State.WITHDRAWN,
}


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
    gaining_carrier: str = ""
    authorized_name: str = ""
    pin: str | None = None
    account_number: str | None = None
    priority: str = "normal"


# -- small helpers -----------------------------------------------------------------------------------------


def actor_label(actor: User | None) -> str:
    return actor.email if actor else "system"


def _log(ticket: Ticket, *, transition: str, source: str, actor: User | None, channel: str, note: str = ""):
    row = TransitionLog.objects.create(
        ticket=ticket,
        transition=transition,
        source=source,
        target=ticket.state,
        actor=actor,
        actor_label=actor_label(actor),
        channel=channel,
        note=note,
    )
    # A history already read into the ticket (prefetched, or started by submit_ticket) stays true without a re-read.
    cached = getattr(ticket, "_prefetched_objects_cache", {}).get("log")
    if cached is not None:
        cached._result_cache.append(row)
    return row


def _remember(ticket: Ticket, name: str, rows: list) -> None:
    """Hold `rows` as the ticket's `name` relation, as prefetch_related would, so reading it costs no query."""
    rows_qs = getattr(ticket, name).all()
    rows_qs._result_cache, rows_qs._prefetch_done = list(rows), True
    ticket.__dict__.setdefault("_prefetched_objects_cache", {})[name] = rows_qs


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


def _check_not_locked(account: Account) -> None:
    if verification_locked(account):
        raise Refusal(
            "verification_locked",
            "Verification is locked after 5 failed attempts in an hour. Try again later or contact support.",
        )


def _failed_verification(account: Account, user: User | None, method: str, detail: str, field: str) -> Refusal:
    refusal = Refusal("verification_failed", detail, field=field)
    refusal.failed_attempt = (account.pk, user.pk if user else None, method)
    return refusal


def _record_failed_attempt(refusal: Refusal) -> None:
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
        from .tasks import send_verification_locked

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


def _outstanding_balance(account: Account) -> bool:
    return account.invoices.outstanding().exists()


def port_outs_pending(account: Account) -> bool:
    """S10: a number in flight, or an open port-out request, blocks the account's cancellation."""
    in_flight = account.numbers.filter(status="porting_out").exists()
    open_request = account.tickets.filter(kind=Kind.PORT_OUT, state__in=OPEN_STATES).exists()
    return in_flight or open_request


def _instance(model, value, account: Account, what: str):
    if value is None or value == "":
        return None
    pk = value.pk if isinstance(value, model) else value
    try:
        return model.objects.get(pk=pk, account=account)
    except (model.DoesNotExist, ValueError, TypeError) as exc:
        raise Refusal("invalid_request", f"That {what} is not on this account.", field=what) from exc


# -- submission --------------------------------------------------------------------------------------------


def submit_ticket(
    *,
    account: Account,
    kind: str,
    requester: User,
    request: Request,
    channel: str = Channel.WEB,
    actor: User | None = None,
    received_at: dt.datetime | None = None,
) -> Ticket:
    """Record a customer's request and run it as far as the policy lets it go on its own.

    1. Lock the account and check the requester's role, the channel and the intake hours.
    2. Validate the kind's details and run the verification the policy asks for, storing each outcome.
    3. Create the ticket and its first log row.
    4. If the policy's verification was satisfied now, verify as the system; on a self-service route, run
       verify → approve → complete at once with the customer as actor.
    A refused verification is recorded (after the rollback) toward the lock. Staff recording an email or a
    call after the fact pass `received_at`: the intake hours are those of the moment the request arrived.
    Only `account.pk` is read from the account given: the account is read again under its lock. The ticket
    returned holds its history and numbers, so showing it costs no further query.
    """
    actor = actor or requester
    if received_at is not None and (not access.may_submit_for_others(actor) or received_at > timezone.now()):
        raise Refusal("invalid_request", "Only staff may date a request, and not in the future.", field="received_at")

    def attempt() -> Ticket:
        with transaction.atomic():
            return _submit(
                account=account,
                kind=kind,
                requester=requester,
                request=request,
                channel=channel,
                actor=actor,
                received_at=received_at,
            )

    try:
        return _retrying(attempt)
    except Refusal as refusal:
        _record_failed_attempt(refusal)
        raise
    except IntegrityError as exc:
        if _violates_one_open_request(exc):
            # Only a request racing past the service's own check gets here: the same refusal, never a 500.
            raise Refusal(
                "already_requested", f"There is already an open {Kind(kind).label.lower()} request for this."
            ) from exc
        raise


def _violates_one_open_request(exc: IntegrityError) -> bool:
    """Is this the violation of a one-open-request constraint? PostgreSQL names the constraint; SQLite names the
    columns of the unique index, and these are the only unique indexes on a ticket's license and add-on."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:
        return getattr(diag, "constraint_name", None) in ONE_OPEN_REQUEST_CONSTRAINTS
    message = str(exc)
    return message in {
        "UNIQUE constraint failed: tickets_ticket.license_id",
        "UNIQUE constraint failed: tickets_ticket.addon_id",
    } or any(name in message for name in ONE_OPEN_REQUEST_CONSTRAINTS)


def _retrying(work):
    """`work` run again on a deadlock or a lock the database gave up on (config.locking); past that, `busy`."""
    try:
        return retrying(work)
    except DatabaseError as exc:
        if not is_lock_conflict(exc):
            raise
        raise Refusal("busy", BUSY_DETAIL) from exc


def _submit(*, account, kind, requester, request: Request, channel, actor, received_at=None) -> Ticket:
    # Lock the account row only: the plan and policy rows are read by every request of their customers. The
    # requester's role comes in the same statement.
    account = (
        Account.objects.select_for_update(of=("self",), no_key=True)
        .select_related("plan__policy")
        .annotate(requester_role=Subquery(requester.memberships.filter(account=OuterRef("pk")).values("role")[:1]))
        .get(pk=account.pk)
    )
    policy: Policy = account.plan.policy
    if kind not in Kind.values:
        raise Refusal("invalid_request", f"Unknown request kind {kind!r}.", field="kind")
    if channel not in Channel.values:
        raise Refusal("invalid_request", f"Unknown channel {channel!r}.", field="channel")

    role = account.requester_role
    # A reactivation is asked for by someone whose access the cancellation removed (K9, U7).
    if role is None or not (requester.is_active or kind == Kind.REACTIVATION):
        raise Refusal("role_not_allowed", "You are not a member of this account.")
    if not policy.allows_role(kind, role):
        allowed = ", ".join(Membership.Role(r).label for r in policy.roles_for(kind)) or "nobody"
        raise Refusal(
            "role_not_allowed",
            f"Your role ({Membership.Role(role).label}) may not request a {Kind(kind).label.lower()}; "
            f"allowed: {allowed}.",
        )

    if kind == Kind.REACTIVATION:
        if not policy.reactivation_open(account):
            raise Refusal("reactivation_closed", _reactivation_closed_sentence(policy, account))
        _check_one_open_request(kind, account=account)
    elif account.status != Account.Status.ACTIVE:
        raise Refusal("account_not_active", "This account is not active.")

    _check_lengths(request)
    ticket = Ticket(
        kind=kind,
        account=account,
        requester=requester,
        channel=channel,
        full_name=request.full_name.strip(),
        company=request.company.strip(),
        contact=request.contact.strip(),
        priority=request.priority or "normal",
        created_at=received_at or timezone.now(),
    )
    checks: dict[str, bool] = {}

    if kind in CANCELLATION_KINDS:
        if "company_or_account_id" in policy.required_info and not ticket.company:
            # A4's "company name or account ID": the request is made on the account, so its id answers it (the
            # portal's form offers the same text); name and contact still have to come from the requester.
            ticket.company = f"{account.name} ({account.account_id})"
        missing = [
            label
            for key, label in REQUIRED_INFO_FIELDS.items()
            if key in policy.required_info and not getattr(ticket, _REQUIRED_INFO_ATTR[key])
        ]
        if missing:
            raise Refusal(
                "missing_required_info",
                "A cancellation request must include: " + ", ".join(missing) + ".",
                field=_REQUIRED_INFO_ATTR[next(k for k, v in REQUIRED_INFO_FIELDS.items() if v == missing[0])],
            )

    numbers: list = []
    addon = None
    if kind == Kind.ACCOUNT_CANCELLATION:
        _check_account_cancellation(account, policy, ticket, request, channel, requester, checks)
    elif kind == Kind.LICENSE_CANCELLATION:
        license_ = _instance(License, request.license, account, "license")
        if license_ is None:
            raise Refusal("invalid_request", "Choose the license to cancel.", field="license")
        quantity = request.quantity
        if not isinstance(quantity, int) or quantity < 1 or quantity > license_.quantity:
            raise Refusal(
                "invalid_request",
                f"Quantity must be between 1 and {license_.quantity}.",
                field="quantity",
            )
        _check_one_open_request(kind, license=license_)
        _check_license_minimum(policy, license_, quantity)
        ticket.license, ticket.quantity = license_, quantity
    elif kind == Kind.NUMBER_CANCELLATION:
        numbers = _numbers_on_account(account, request.numbers[:1] if request.numbers else [], kind=kind)
        if not numbers:
            raise Refusal("invalid_request", "Choose the number to cancel.", field="number")
    elif kind == Kind.ADDON_CANCELLATION:
        addon = _instance(AddOn, request.addon, account, "addon")
        if addon is None or addon.status != AddOn.Status.ACTIVE:
            raise Refusal("invalid_request", "Choose an active add-on to cancel.", field="addon")
        _check_one_open_request(kind, addon=addon)
        ticket.addon = addon
    elif kind == Kind.PORT_OUT:
        numbers = _numbers_on_account(account, request.numbers, kind=kind)
        if not numbers:
            raise Refusal("invalid_request", "Choose at least one number to port out.", field="numbers")
        for name in ("gaining_carrier", "authorized_name"):
            if not getattr(request, name).strip():
                raise Refusal(
                    "missing_required_info", f"{name.replace('_', ' ').capitalize()} is required.", field=name
                )
        ticket.gaining_carrier = request.gaining_carrier.strip()
        ticket.authorized_name = request.authorized_name.strip()
        if account.port_out_locked:  # the customer's own choice: not a denial under K10
            raise Refusal(
                "port_out_locked",
                "The account's owner has switched on the port-out lock: no number can be ported out until the owner "
                "switches it off in the portal.",
            )
        _check_not_locked(account)
        checks.update(_port_out_checks(account, ticket.authorized_name, request))
        checks["numbers_on_account"] = True
        failed = [key for key, passed in checks.items() if not passed]
        if failed:
            # The request is kept (staff reject it with the matching code); the failure counts toward the lock
            # in this transaction, which commits with the ticket.
            count_failed_attempt(
                account_id=account.pk, user_id=actor.pk if actor else None, method="port_out:" + "+".join(failed)
            )
        if policy.port_out_balance_rule != Policy.PortOutBalanceRule.IGNORE and _outstanding_balance(account):
            ticket.needs_manager_review = True  # K10: a manager decides
    elif kind == Kind.DOWNGRADE:
        _check_one_open_request(kind, account=account)
        plan = request.plan
        plan = Plan.objects.filter(pk=plan.pk if isinstance(plan, Plan) else plan).first() if plan else None
        if plan is None or plan.product_line != account.plan.product_line or plan.rank >= account.plan.rank:
            raise Refusal("invalid_plan", "Choose a lower plan of the same product line.", field="plan")
        ticket.target_plan = plan

    route = policy.route_for(kind, addon.route_key if addon else None)
    ticket.route = route
    if route == Route.ACCOUNT_MANAGER and account.account_manager_id:
        ticket.assignee_id = account.account_manager_id  # U3, A11
    ticket.checks = checks
    ticket.save()
    if numbers:
        ticket.numbers.add(*numbers)
        if kind == Kind.PORT_OUT:
            account.numbers.filter(pk__in=[n.pk for n in numbers]).update(status="porting_out")
            for number in numbers:
                number.status = "porting_out"
    # The ticket is new: its history and numbers are known without reading them back.
    _remember(ticket, "log", [])
    _remember(ticket, "numbers", numbers)
    _log(ticket, transition="submit", source="", actor=actor, channel=channel)
    if ticket.assignee_id:
        _log_assignment(ticket, None, account.account_manager, actor=None, channel=LogChannel.SYSTEM)
    effects.notify(ticket, "submitted")
    if kind == Kind.PORT_OUT:
        effects.alert_port_out(ticket)  # SPEC §4: the owner and billing admins hear of it, whoever asked

    # A port-out whose authorization failed waits for staff even on a self-service route: its failure is already
    # counted in this transaction, which a refused verify would roll back.
    if route == Route.SELF_SERVICE and (kind != Kind.PORT_OUT or port_out_authorized(checks)):
        for name in ("verify", "approve", "complete"):
            _run(ticket, name, actor=requester, channel=channel, by_system=True, evidence={}, quiet=name != "complete")
    elif _verified_at_submission(policy, ticket):
        _run(
            ticket,
            "verify",
            actor=None,
            channel=LogChannel.SYSTEM,
            by_system=True,
            evidence={},
            note="Verification satisfied at submission.",
        )
    return ticket


def _check_lengths(request: Request) -> None:
    limits = {**TEXT_LIMITS, "comment": COMMENT_MAX}
    for name, limit in limits.items():
        if len(getattr(request, name) or "") > limit:
            raise Refusal(
                "invalid_request",
                f"{name.replace('_', ' ').capitalize()} is longer than {limit} characters.",
                field=name,
            )


_REQUIRED_INFO_ATTR = {"full_name": "full_name", "company_or_account_id": "company", "contact": "contact"}


def _reactivation_closed_sentence(policy: Policy, account: Account) -> str:
    if policy.reactivation == Policy.Reactivation.NEVER:
        return "A cancelled account cannot be reactivated; a returning customer starts a new account."
    if account.status != Account.Status.CANCELLED:
        return "Only a cancelled account can be reactivated."
    return "The reactivation window has closed; the account's data is deleted and a new account is needed."


def _check_account_cancellation(account, policy: Policy, ticket: Ticket, request: Request, channel, requester, checks):
    if channel not in policy.intake_channels:
        ways = " or ".join(Channel(c).label.lower() for c in policy.intake_channels)
        raise Refusal(
            "channel_not_accepted",
            f"Account cancellations are taken by {ways} only, {policy.intake_hours_text}.",
        )
    # K6: an email is taken at any hour and waits for the intake hours (its SLA clock counts them from arrival);
    # the live channels are refused outside them.
    if channel != Channel.EMAIL and policy.intake_hours_enforced and not policy.within_intake_hours(ticket.created_at):
        raise Refusal(
            "outside_intake_hours",
            f"Account cancellations are handled {policy.intake_hours_text}. Please contact us then.",
        )
    _check_one_open_request(Kind.ACCOUNT_CANCELLATION, account=account)
    if policy.require_port_outs_complete and port_outs_pending(account):
        raise Refusal("port_outs_pending", "All port-outs must be complete before the account can be cancelled.")
    if policy.exit_survey_required and request.reason not in ExitReason.values:
        raise Refusal("survey_required", "Tell us why you are cancelling.", field="reason")
    if request.reason and request.reason not in ExitReason.values:
        raise Refusal("invalid_request", "Choose one of the listed reasons.", field="reason")
    ticket.reason, ticket.comment = request.reason, request.comment.strip()
    missing = [key for key in policy.acknowledgements if key not in (request.acknowledgements or [])]
    if missing:
        raise Refusal("acknowledgement_missing", "Please acknowledge every statement.", field="acknowledgements")
    ticket.acknowledgements = list(policy.acknowledgements)
    checks["acknowledgements"] = True

    method = policy.verification_method
    if method == Policy.Verification.TYPED_CONFIRMATION:
        _check_not_locked(account)
        # S3: exact comparison: no trimming, no case folding.
        if request.confirmation != policy.confirmation_word:
            raise _failed_verification(
                account, requester, method, f"Type {policy.confirmation_word} exactly to confirm.", "confirmation"
            )
        checks["confirmation"] = True
    elif method == Policy.Verification.CARD_LAST4 and request.card_last4 not in (None, ""):
        checks["card_last4"] = _check_card(account, request.card_last4, requester)


def _check_card(account: Account, last4: str, user: User | None) -> bool:
    """K7: the last four digits against the card on file; only the outcome is kept."""
    _check_not_locked(account)
    card = getattr(account, "card", None)
    if card is None:
        raise Refusal("verification_failed", "There is no card on file to verify against.", field="card_last4")
    if str(last4) != card.last4:
        raise _failed_verification(
            account, user, "card_last4", "The last four digits do not match the card on file.", "card_last4"
        )
    return True


def _check_license_minimum(policy: Policy, license_: License, quantity: int, *, exclude: int | None = None) -> None:
    """A10: what would remain once this and every other open request on the license is done."""
    minimum = max(license_.minimum, policy.license_minimum(license_.product))
    pending = (
        Ticket.objects.filter(kind=Kind.LICENSE_CANCELLATION, license=license_, state__in=OPEN_STATES)
        .exclude(pk=exclude)
        .aggregate(total=Sum("quantity"))["total"]
        or 0
    )
    if license_.quantity - pending - quantity < minimum:
        raise Refusal(
            "license_minimum",
            f"At least {minimum} {license_.get_product_display()}s must remain; "
            f"you can cancel at most {max(license_.quantity - pending - minimum, 0)}"
            + (f" ({pending} already requested)." if pending else "."),
            field="quantity",
        )


# -- one open request per object (SPEC §4) ------------------------------------------------------------------------
#
# A second open request of the same kind for the same account (account cancellation, downgrade, reactivation),
# license, add-on or number is refused `already_requested`; a number in an open port-out cannot be cancelled, nor a
# number being cancelled ported (`number_busy`). The checks run under the account's row lock (PostgreSQL; on SQLite
# every write transaction holds the database's write lock from BEGIN IMMEDIATE), so two simultaneous requests for
# one object are decided one after the other. The license and add-on rules are also partial unique constraints
# (tickets.models.ONE_OPEN_REQUEST_CONSTRAINTS); a violation of one is the same refusal (`submit_ticket`).

ACCOUNT_LEVEL_KINDS = {Kind.ACCOUNT_CANCELLATION, Kind.DOWNGRADE, Kind.REACTIVATION}
NUMBER_KINDS = {Kind.NUMBER_CANCELLATION, Kind.PORT_OUT}


def _already_requested(kind: str, what: str, pk: int) -> Refusal:
    return Refusal("already_requested", f"{what} already has an open {Kind(kind).label.lower()} request (#{pk}).")


def _check_one_open_request(kind: str, *, account=None, license=None, addon=None) -> None:
    open_tickets = Ticket.objects.filter(kind=kind, state__in=OPEN_STATES)
    if account is not None:
        rows, what = open_tickets.filter(account=account), "This account"
    elif license is not None:
        rows, what = open_tickets.filter(license=license), "This license"
    else:
        rows, what = open_tickets.filter(addon=addon), "This add-on"
    pk = rows.values_list("pk", flat=True).first()
    if pk is not None:
        raise _already_requested(kind, what, pk)


def _numbers_on_account(account: Account, values: list, *, kind: str) -> list:
    """The numbers chosen, each on this account and free for a request of `kind`, read in one query."""
    wanted = {v.pk if hasattr(v, "pk") else v for v in values}
    statuses = ["active", "porting_out"] if kind == Kind.NUMBER_CANCELLATION else ["active"]
    # Per number, the first open request of a number kind it is in (the same kind first).
    busy = Ticket.objects.filter(numbers=OuterRef("pk"), kind__in=NUMBER_KINDS, state__in=OPEN_STATES).order_by(
        Case(When(kind=kind, then=0), default=1), "pk"
    )
    found = list(
        account.numbers.filter(Q(pk__in=[w for w in wanted if as_id(w)])).annotate(
            busy_kind=Subquery(busy.values("kind")[:1]), busy_ticket=Subquery(busy.values("pk")[:1])
        )
    )
    for number in found:
        if number.busy_kind == kind:
            raise _already_requested(kind, f"The number {number}", number.busy_ticket)
        if number.busy_kind:
            doing = "ported out" if number.busy_kind == Kind.PORT_OUT else "cancelled"
            raise Refusal(
                "number_busy",
                f"The number {number} is being {doing} (request #{number.busy_ticket}); "
                "it can be requested again once that request is closed.",
                field="numbers",
            )
    found = [number for number in found if number.status in statuses]
    if len(found) != len(wanted):
        raise Refusal(
            "number_not_on_account", "A number you chose is not an active number on this account.", field="numbers"
        )
    return found


def _port_out_checks(account: Account, authorized_name: str, request: Request) -> dict[str, bool]:
    """The port-out's authorization (SPEC §4): the PIN where the account has one, else its account number; and
    the authorized person's name. Only the outcomes are kept, and only staff see them."""
    admins = account.memberships.exclude(role=Membership.Role.MEMBER).values_list("user__full_name", flat=True)
    name_ok = authorized_name.strip().casefold() in {n.strip().casefold() for n in admins if n}
    if account.port_out_pin:
        return {"pin": account.check_port_out_pin(request.pin), "name": name_ok}
    # Without a PIN the account number authorizes: the API's `account_number`, or the portal's one field.
    given = (request.account_number or request.pin or "").strip().upper()
    number_ok = bool(given) and hmac.compare_digest(given.encode(), account.account_id.encode())
    return {"account_number": number_ok, "name": name_ok}


AUTHORIZATION_LABELS = {"pin": "PIN", "account_number": "account number", "name": "authorized name"}


def port_out_authorized(checks: dict) -> bool:
    """Every check stored at submission passed: a PIN or the account number, the name, the numbers."""
    has_secret = checks.get("pin") is True or checks.get("account_number") is True
    return has_secret and checks.get("name") is True and all(value is True for value in checks.values())


def _verified_at_submission(policy: Policy, ticket: Ticket) -> bool:
    if ticket.kind != Kind.ACCOUNT_CANCELLATION:
        return False
    method = policy.verification_method
    if method == Policy.Verification.TYPED_CONFIRMATION:
        return ticket.checks.get("confirmation") is True
    if method == Policy.Verification.CARD_LAST4:
        return ticket.checks.get("card_last4") is True
    return False


# -- transitions -------------------------------------------------------------------------------------------


def transition_ticket(
    *,
    ticket: Ticket | int,
    name: str,
    actor: User | None,
    channel: str = LogChannel.ADMIN,
    note: str = "",
    replay_ok: bool = False,
    **evidence: Any,
) -> Ticket:
    """Run one transition under a row lock: guards, state change, log row, side effects.

    `actor=None` is the system (deadline and purge jobs). With `replay_ok` (jobs that may be redelivered),
    asking for the state the ticket is already in is a no-op success; interactive callers get a refusal,
    so of N concurrent approvals exactly one succeeds.
    """
    if name not in TRANSITIONS:
        raise Refusal("unknown_transition", f"Unknown transition {name!r}; one of {', '.join(TRANSITIONS)}.")
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket

    def attempt() -> Ticket:
        with transaction.atomic():
            # The account first, then the ticket (the lock order above: a reactivation and the purge meet on the
            # account row); the plan and policy are only read, so transitions of different accounts never wait on
            # each other.
            account = (
                Account.objects.select_for_update(of=("self",), no_key=True)
                .select_related("plan__policy")
                .filter(pk=Subquery(Ticket.objects.filter(pk=pk).values("account_id")[:1]))
                .first()
            )
            if account is None:
                raise Ticket.DoesNotExist("No ticket matches the given query.")
            locked = Ticket.objects.select_for_update(no_key=True).get(pk=pk)
            locked.account = account
            if replay_ok and locked.state == TARGETS[name]:
                return locked
            _run(locked, name, actor=actor, channel=channel, by_system=actor is None, evidence=evidence, note=note)
            return locked

    try:
        return _retrying(attempt)
    except Refusal as refusal:
        _record_failed_attempt(refusal)
        raise


def run_authorized(*, ticket: int, name: str, actor: User, channel: str, note: str = "") -> Ticket:
    """Run a transition for someone whose right to it the caller established (a signed link): the state and the
    policy's guards still apply, under the same row lock as transition_ticket."""
    with transaction.atomic():
        locked = (
            Ticket.objects.select_for_update(of=("self", "account"))
            .select_related("account__plan__policy")
            .get(pk=ticket)
        )
        _run(locked, name, actor=actor, channel=channel, by_system=True, evidence={}, note=note)
        return locked


def _run(
    ticket: Ticket, name: str, *, actor, channel, by_system: bool, evidence: dict, note: str = "", quiet: bool = False
) -> None:
    method = getattr(ticket, name)
    if not can_proceed(method):
        raise Refusal(
            "invalid_state",
            f"A {ticket.get_state_display().lower()} ticket cannot be {_past(name)}.",
        )
    # Who may ask at all comes before the policy's guards, so nobody without the role can probe a verification
    # (a card's last four) or learn why the policy would refuse; the finer, per-ticket checks come after.
    if not by_system and not access.may_ask(actor, name, ticket):
        raise Refusal("role_not_allowed", access.why_not(actor, name))
    _guard(ticket, name, actor, evidence, by_system=by_system)
    if not by_system and not has_transition_perm(method, actor):
        raise Refusal("role_not_allowed", access.why_not(actor, name))

    source = ticket.state
    kwargs: dict[str, Any] = {"by": actor}
    if name == "approve":
        kwargs["foc_date"] = evidence.get("foc_date") or (
            effects.next_business_day(ticket.account.plan.policy) if ticket.kind == Kind.PORT_OUT else None
        )
    if name == "reject":
        kwargs.update(reason=evidence.get("reason", "").strip(), code=evidence.get("code", "") or "")
    method(**kwargs)
    if actor is not None and actor.is_staff and ticket.first_response_at is None:
        ticket.first_response_at = timezone.now()
    ticket.save()
    log_note = note or (kwargs.get("reason") if name == "reject" else "")
    row = _log(ticket, transition=name, source=source, actor=actor, channel=channel, note=log_note)
    effects.after_transition(ticket, name, source, log_id=row.pk, quiet=quiet)


def _past(name: str) -> str:
    return {
        "verify": "verified",
        "approve": "approved",
        "complete": "completed",
        "reject": "rejected",
        "withdraw": "withdrawn",
    }[name]


def _guard(ticket: Ticket, name: str, actor, evidence: dict, *, by_system: bool) -> None:
    """The policy's rules for this transition, each refusing with its own code."""
    account = ticket.account
    policy = account.plan.policy
    if by_system and ticket.kind == Kind.PORT_OUT and name in {"verify", "approve"}:
        _check_not_locked(account)  # someone is guessing: the system authorizes nothing on this account
    if name == "verify":
        _guard_verify(ticket, policy, actor, evidence)
    elif name == "approve":
        # K10: with an outstanding balance under manager_review or deny, only a manager approves; the deadline
        # job's automatic approval does not either.
        if ticket.kind == Kind.PORT_OUT and ticket.needs_manager_review:
            if not access.is_manager(actor):
                raise Refusal(
                    "outstanding_balance",
                    "Payments are outstanding on this account: a support manager must review this port-out.",
                )
        if ticket.route == Route.ACCOUNT_MANAGER and not by_system and account.account_manager_id:
            if actor is None or (actor.pk != account.account_manager_id and not access.is_manager(actor)):
                raise Refusal(
                    "requires_account_manager",
                    f"This request goes through the account manager ({account.account_manager}).",
                )
        if not policy.verifier_may_approve and actor is not None and ticket.verified_by_id == actor.pk:
            raise Refusal("same_verifier", "The agent who verified this request may not also approve it.")
    elif name == "complete":
        if ticket.kind == Kind.ACCOUNT_CANCELLATION and policy.require_port_outs_complete:
            if (
                account.numbers.filter(status="porting_out").exists()
                or account.tickets.filter(kind=Kind.PORT_OUT, state__in=OPEN_STATES).exclude(pk=ticket.pk).exists()
            ):
                raise Refusal(
                    "port_outs_pending", "All port-outs must be complete before the account can be cancelled."
                )
        if ticket.kind == Kind.LICENSE_CANCELLATION and ticket.license_id:
            _check_license_minimum(
                policy,
                License.objects.select_for_update().get(pk=ticket.license_id),
                ticket.quantity or 0,
                exclude=ticket.pk,
            )
        if ticket.kind == Kind.REACTIVATION and not policy.reactivation_open(account):
            raise Refusal("reactivation_closed", _reactivation_closed_sentence(policy, account))
    elif name == "reject":
        reason = (evidence.get("reason") or "").strip()
        if not reason:
            raise Refusal("reason_required", "A rejection needs a reason the customer will read.", field="reason")
        if len(reason) > COMMENT_MAX:
            raise Refusal("invalid_request", f"A reason is at most {COMMENT_MAX} characters.", field="reason")
        if ticket.kind == Kind.PORT_OUT:
            code = evidence.get("code") or ""
            if code not in PORT_OUT_REJECTION_CODES:
                raise Refusal(
                    "rejection_code_not_allowed",
                    "A port-out may be rejected only with one of: " + ", ".join(PORT_OUT_REJECTION_CODES) + ".",
                    field="code",
                )
            if code == "outstanding_balance" and not (
                policy.port_out_balance_rule == Policy.PortOutBalanceRule.DENY and _outstanding_balance(account)
            ):
                raise Refusal(
                    "rejection_code_not_allowed",
                    "A port-out cannot be refused because money is owed unless the policy's balance rule is deny "
                    "and payments are outstanding.",
                    field="code",
                )
            if code == "outstanding_balance" and actor is not None and not access.is_manager(actor):
                raise Refusal("role_not_allowed", "Only a support manager may reject a port-out for a balance.")


def _guard_verify(ticket: Ticket, policy: Policy, actor, evidence: dict) -> None:
    account = ticket.account
    if ticket.kind == Kind.ACCOUNT_CANCELLATION:
        method = policy.verification_method
        # K7's fallback (tickets.verification_links): the owner confirmed by the emailed link stands for the card.
        if (
            method == Policy.Verification.CARD_LAST4
            and not ticket.checks.get("card_last4")
            and not ticket.checks.get("owner_link")
        ):
            last4 = evidence.get("card_last4")
            if not last4:
                raise Refusal(
                    "verification_failed",
                    "Verify the last four digits of the card on file with the customer first.",
                    field="card_last4",
                )
            ticket.checks = {**ticket.checks, "card_last4": _check_card(account, last4, actor)}
        if method == Policy.Verification.TYPED_CONFIRMATION and not ticket.checks.get("confirmation"):
            raise Refusal("verification_failed", "The customer has not typed the confirmation word.")
    elif ticket.kind == Kind.PORT_OUT:
        failed = [label for key, label in AUTHORIZATION_LABELS.items() if ticket.checks.get(key) is False]
        if not port_out_authorized(ticket.checks) and not failed:
            failed = ["authorization"]
        on_account = ticket.numbers.exclude(account=account).count() == 0
        if failed or not on_account:
            raise Refusal(
                "verification_failed",
                "The port-out request does not match the account ("
                + ", ".join(failed + ([] if on_account else ["numbers"]))
                + "); reject it with the matching code.",
            )


def available_transitions(ticket: Ticket, user) -> list[str]:
    """The transitions this user may run now: django-fsm's state and permission checks, in TRANSITIONS order."""
    names = {t.name for t in ticket.get_available_user_state_transitions(user)}
    return [n for n in TRANSITIONS if n in names]


# -- other use cases -----------------------------------------------------------------------------------------


def add_comment(*, ticket: Ticket, author: User, body: str, public: bool = True):
    """A comment on the ticket: customers' are public; staff choose. Who may comment is tickets.access's call."""
    from .models import Comment

    body = (body or "").strip()
    if not body:
        raise Refusal("invalid_request", "A comment cannot be empty.", field="body")
    if len(body) > COMMENT_MAX:
        raise Refusal("invalid_request", f"A comment is at most {COMMENT_MAX} characters.", field="body")
    if not author.is_staff:
        public = True
    if not access.may_comment(author, ticket, public=public):
        raise Refusal("role_not_allowed", "You may not comment on this ticket.")
    with transaction.atomic():
        comment = Comment.objects.create(ticket=ticket, author=author, body=body, public=public)
        if author.is_staff and ticket.first_response_at is None and public:
            Ticket.objects.filter(pk=ticket.pk, first_response_at__isnull=True).update(
                first_response_at=comment.created_at
            )
        if not author.is_staff and ticket.waiting_on_customer_since is not None:
            # The customer answered: the SLA clock runs again from where it stopped.
            sla.resume_clock(ticket, ticket.account.plan.policy, when=comment.created_at)
    return comment


def set_port_out_lock(*, account: Account, user: User, password: str, locked: bool) -> Account:
    """The owner switches the port-out lock on or off, re-entering their password (SPEC §4, fraud protection).

    1. Only the owner, and only where the policy offers the lock (switching off is always possible, so a lock
       outlives a policy change without trapping the owner's numbers).
    2. A wrong password counts toward the verification lockout, like a wrong PIN: guessing it here locks the
       account's port-outs rather than opening them.
    3. The change is logged as an AccountEvent; switching off is emailed to the owner and billing admins.
    """
    try:
        with transaction.atomic():
            account = Account.objects.select_for_update(of=("self",)).select_related("plan__policy").get(pk=account.pk)
            if not access.may_switch_port_out_lock(user, account):
                raise Refusal("role_not_allowed", "Only the account's owner may switch the port-out lock.")
            if locked and not account.plan.policy.port_out_lock_offered:
                raise Refusal("port_out_lock_not_offered", "This plan does not offer a port-out lock.")
            _check_not_locked(account)
            if not user.check_password(password or ""):
                raise _failed_verification(account, user, "password", "That is not your password.", "password")
            if account.port_out_locked == locked:
                return account
            account.port_out_locked = locked
            account.save(update_fields=["port_out_locked"])
            kind = AccountEvent.Kind.PORT_OUT_LOCK_ON if locked else AccountEvent.Kind.PORT_OUT_LOCK_OFF
            event = AccountEvent.objects.create(account=account, kind=kind, actor=user)
            if not locked:
                from .tasks import send_port_out_lock_off

                transaction.on_commit(lambda: send_port_out_lock_off.delay(event.pk))
            return account
    except Refusal as refusal:
        _record_failed_attempt(refusal)
        raise


def _assignee_label(user: User | None) -> str:
    return user.email if user else "nobody"


def assign_ticket(
    *, ticket: Ticket | int, assignee: User | None, actor: User | None, channel: str = LogChannel.ADMIN
) -> Ticket:
    """Give the ticket to a member of staff (or to nobody), and log it.

    1. Lock the ticket, so two claims of one unassigned ticket cannot both win.
    2. Ask tickets.access: agents claim unassigned tickets for themselves only; managers assign, reassign and
       unassign. `actor=None` is the system (the account manager's route at submission).
    3. Write the assignee and a log row (transition `assign`, note "from → to") the history shows; assigning
       the ticket to whoever already holds it changes nothing and logs nothing.
    """
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise Refusal("invalid_request", "Tickets are assigned to active staff only.", field="assignee")
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    with transaction.atomic():
        locked = Ticket.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=pk)
        if actor is not None and not access.may_assign(actor, locked, assignee):
            raise Refusal(
                "role_not_allowed",
                "Agents claim unassigned tickets for themselves; a support manager assigns and reassigns.",
                field="assignee",
            )
        target_id = assignee.pk if assignee else None
        if locked.assignee_id != target_id:
            previous = locked.assignee
            Ticket.objects.filter(pk=pk).update(assignee=assignee, updated_at=timezone.now())
            locked.assignee = assignee
            _log_assignment(locked, previous, assignee, actor=actor, channel=channel)
    if isinstance(ticket, Ticket):
        ticket.assignee = assignee
        return ticket
    return locked


def _log_assignment(ticket: Ticket, previous: User | None, assignee: User | None, *, actor, channel) -> None:
    _log(
        ticket,
        transition="assign",
        source=ticket.state,
        actor=actor,
        channel=channel if actor is not None else LogChannel.SYSTEM,
        note=f"{_assignee_label(previous)} → {_assignee_label(assignee)}",
    )
