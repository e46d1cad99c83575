"""Ticket use cases: submit a request and move it through its state machine.

Every interface (portal, admin, API, Celery tasks) calls these functions; none of them changes a ticket's
state any other way. A refusal is a `Refusal` with a stable code.

Locks, in one order for every service here, in tickets/purge.py and tickets/effects.py (config/locking.py says
why): the account row first, then its tickets, then licenses and add-ons, then phone numbers. `submit_ticket`
locks the account; `transition_ticket` locks the account, then the ticket (a reactivation's completion and the
purge of the same account both start with the account, so they queue instead of deadlocking). A lock conflict the
database still reports is retried a bounded number of times (`config.locking.retrying`), then refused `busy`.
"""

import datetime as dt
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from accounts.exceptions import Code, Refusal
from accounts.lifecycle import cancelled_on
from accounts.models import Account, AccountEvent, Membership, User
from billing.models import Route
from config.locking import BUSY_DETAIL, is_lock_conflict, retrying

from . import access, effects, events, sla
from .models import (
    ONE_OPEN_REQUEST_CONSTRAINTS,
    OPEN_STATES,
    SETTLED_CODE,
    TRANSITIONS,
    Channel,
    Comment,
    Kind,
    LogChannel,
    State,
    Ticket,
    TransitionLog,
)
from .notifications import send_port_out_lock_off
from .rules.context import Move, Request, Submission
from .rules.guards import COMMENT_MAX
from .rules.objects import port_outs_pending
from .rules.submission import required_info_given
from .rules.table import RULES
from .rules.verification import (
    check_not_locked,
    count_failed_attempt,
    failed_verification,
    locked_accounts,
    port_out_authorized,
    record_failed_attempt,
    verification_locked,
)
from .withdraw_links import read_token

__all__ = [
    "COMMENT_MAX",
    "Request",
    "count_failed_attempt",
    "locked_accounts",
    "port_out_authorized",
    "port_outs_pending",
    "verification_locked",
]

# Free text a person writes, in characters: longer is refused (`invalid_request`) whatever the interface.
TEXT_LIMITS = {"full_name": 200, "company": 200, "contact": 200, "gaining_carrier": 120, "authorized_name": 200}
# The kinds whose request carries the policy's required information (A4): read from the rules table.
CANCELLATION_KINDS = frozenset(kind for kind, rules in RULES.items() if required_info_given in rules.submit)
TARGETS = {
    "verify": State.VERIFIED,
    "approve": State.APPROVED,
    "complete": State.COMPLETED,
    "reject": State.REJECTED,
    "withdraw": State.WITHDRAWN,
}


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
    # SPEC §6a: every transition logged here is told to the provider's systems, in the same transaction.
    events.ticket_moved(ticket, row)
    return row


def _remember(ticket: Ticket, name: str, rows: list) -> None:
    """Hold `rows` as the ticket's `name` relation, as prefetch_related would, so reading it costs no query."""
    rows_qs = getattr(ticket, name).all()
    rows_qs._result_cache, rows_qs._prefetch_done = list(rows), True
    ticket.__dict__.setdefault("_prefetched_objects_cache", {})[name] = rows_qs


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
        raise Refusal(
            Code.INVALID_REQUEST, "Only staff may date a request, and not in the future.", field="received_at"
        )

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
        record_failed_attempt(refusal)
        raise
    except IntegrityError as exc:
        if _violates_one_open_request(exc):
            # Only a request racing past the service's own check gets here: the same refusal, never a 500.
            raise Refusal(
                Code.ALREADY_REQUESTED, f"There is already an open {Kind(kind).label.lower()} request for this."
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
        raise Refusal(Code.BUSY, BUSY_DETAIL) from exc


def _submit(*, account, kind, requester, request: Request, channel, actor, received_at=None) -> Ticket:
    """The steps of submit_ticket, inside its transaction; the kind's rules come from tickets.rules.table."""
    # Lock the account row only: the plan and policy rows are read by every request of their customers. The
    # requester's role comes in the same statement.
    account = (
        Account.objects.select_for_update(of=("self",), no_key=True)
        .select_related("plan__policy")
        .annotate(requester_role=Subquery(requester.memberships.filter(account=OuterRef("pk")).values("role")[:1]))
        .get(pk=account.pk)
    )
    policy = account.plan.policy
    if kind not in Kind.values:
        raise Refusal(Code.INVALID_REQUEST, f"Unknown request kind {kind!r}.", field="kind")
    if channel not in Channel.values:
        raise Refusal(Code.INVALID_REQUEST, f"Unknown channel {channel!r}.", field="channel")
    rules = RULES[kind]
    created_at = received_at or timezone.now()

    # SPEC §4, S11: the account's rules first, whoever asks.
    for check in rules.account:
        check(account, policy, kind, created_at)
    _check_requester(account, policy, kind, requester)
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
        created_at=created_at,
    )
    submission = Submission(
        account=account,
        policy=policy,
        ticket=ticket,
        request=request,
        channel=channel,
        requester=requester,
        actor=actor,
    )
    for check in rules.submit:
        check(submission)
    numbers, addon, checks = submission.numbers, submission.addon, submission.checks

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

    if route == Route.SELF_SERVICE and rules.self_service_ready(checks):
        for name in ("verify", "approve", "complete"):
            _run(ticket, name, actor=requester, channel=channel, by_system=True, evidence={}, quiet=name != "complete")
    elif rules.verified_at_submission(policy, checks):
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


def _check_requester(account: Account, policy, kind: str, requester: User) -> None:
    """The requester is a member of the account whose role the policy allows for the kind (S4, A5, U1)."""
    role = account.requester_role
    # A reactivation is asked for by someone whose access the cancellation removed (K9, U7).
    if role is None or not (requester.is_active or kind == Kind.REACTIVATION):
        raise Refusal(Code.ROLE_NOT_ALLOWED, "You are not a member of this account.")
    if not access.may_request(policy, role, kind):
        allowed = access.requesting_roles(policy, kind)
        raise Refusal(
            Code.ROLE_NOT_ALLOWED,
            f"Your role ({Membership.Role(role).label}) may not request a {Kind(kind).label.lower()}; "
            f"allowed: {allowed}.",
        )


def _check_lengths(request: Request) -> None:
    limits = {**TEXT_LIMITS, "comment": COMMENT_MAX}
    for name, limit in limits.items():
        if len(getattr(request, name) or "") > limit:
            raise Refusal(
                Code.INVALID_REQUEST,
                f"{name.replace('_', ' ').capitalize()} is longer than {limit} characters.",
                field=name,
            )


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
        raise Refusal(Code.UNKNOWN_TRANSITION, f"Unknown transition {name!r}; one of {', '.join(TRANSITIONS)}.")
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
        record_failed_attempt(refusal)
        raise


def check_may_ask(*, ticket: Ticket, name: str, actor: User) -> None:
    """Who may ask for a transition at all, before the policy's guards and before any of the request's fields are
    read: nobody without the role can probe a verification (a card's last four), learn why the policy would refuse,
    or learn which evidence a transition they may not run would take (role_not_allowed, 403)."""
    if not access.may_ask(actor, name, ticket):
        raise Refusal(Code.ROLE_NOT_ALLOWED, access.why_not(actor, name))


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
    ticket: Ticket,
    name: str,
    *,
    actor,
    channel,
    by_system: bool,
    evidence: dict,
    note: str = "",
    quiet: bool = False,
    settling: bool = False,
) -> None:
    method = getattr(ticket, name)
    if not can_proceed(method):
        raise Refusal(
            Code.INVALID_STATE,
            f"A {ticket.get_state_display().lower()} ticket cannot be {_past(name)}.",
        )
    if not by_system:
        check_may_ask(ticket=ticket, name=name, actor=actor)
    _guard(ticket, name, actor, evidence, by_system=by_system, settling=settling)
    if not by_system and not has_transition_perm(method, actor):
        raise Refusal(Code.ROLE_NOT_ALLOWED, access.why_not(actor, name))

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


def withdraw_with_link(*, token: str) -> Ticket:
    """Withdraw the port-out a link names, as the person it was sent to (logged as a withdraw transition)."""
    ticket, user = read_token(token)
    return run_authorized(
        ticket=ticket.pk,
        name="withdraw",
        actor=user,
        channel=LogChannel.WEB,
        note="Withdrawn with the link in the port-out alert email.",
    )


def _past(name: str) -> str:
    return {
        "verify": "verified",
        "approve": "approved",
        "complete": "completed",
        "reject": "rejected",
        "withdraw": "withdrawn",
    }[name]


def _guard(ticket: Ticket, name: str, actor, evidence: dict, *, by_system: bool, settling: bool = False) -> None:
    """The policy's guards for this transition and kind (tickets.rules.table), each refusing with its own code."""
    move = Move(ticket=ticket, name=name, actor=actor, evidence=evidence, by_system=by_system, settling=settling)
    for guard in RULES[ticket.kind].guards[name]:
        guard(move)


def settle_account(account: Account, *, cancellation: Ticket) -> list[Ticket]:
    """SPEC §4, "Account lifecycle" (K8, U5): the account's cancellation completes, so every other open case of the
    account is closed by the system, in the cancellation's transaction (tickets.effects.cancel_account).

    1. Lock the open tickets (after the account, which the cancellation holds: config/locking.py's order).
    2. Reject each as the system through the ordinary transition, so it leaves a log row whose note says why, and
       carries SETTLED_CODE; no email each (`quiet`): the cancellation's confirmation lists them.
    """
    note = settled_note(account)
    closed = []
    open_tickets = (
        Ticket.objects.select_for_update(of=("self",), no_key=True)
        .filter(account_id=account.pk, state__in=OPEN_STATES)
        .exclude(pk=cancellation.pk)
        .order_by("pk")
    )
    for ticket in open_tickets:
        ticket.account = account
        _run(
            ticket,
            "reject",
            actor=None,
            channel=LogChannel.SYSTEM,
            by_system=True,
            evidence={"reason": note, "code": SETTLED_CODE},
            note=note,
            quiet=True,
            settling=True,
        )
        closed.append(ticket)
    return closed


def settled_note(account: Account) -> str:
    return f"Closed: the account was cancelled on {cancelled_on(account)}."


def available_transitions(ticket: Ticket, user) -> list[str]:
    """The transitions this user may run now: django-fsm's state and permission checks, in TRANSITIONS order."""
    names = {t.name for t in ticket.get_available_user_state_transitions(user)}
    return [n for n in TRANSITIONS if n in names]


# -- other use cases -----------------------------------------------------------------------------------------


def add_comment(*, ticket: Ticket, author: User, body: str, public: bool = True):
    """A comment on the ticket: customers' are public (asking for an internal note is refused); staff choose. Who
    may comment is tickets.access's call."""
    body = (body or "").strip()
    if not body:
        raise Refusal(Code.INVALID_REQUEST, "A comment cannot be empty.", field="body")
    if len(body) > COMMENT_MAX:
        raise Refusal(Code.INVALID_REQUEST, f"A comment is at most {COMMENT_MAX} characters.", field="body")
    if not public and not author.is_staff:
        # Said, not dropped: a customer who asked for a private note must not find it published (issue 24).
        raise Refusal(
            Code.INVALID_REQUEST,
            "Only support staff write internal notes: a customer's comment is public.",
            field="public",
        )
    if not access.may_comment(author, ticket, public=public):
        raise Refusal(Code.ROLE_NOT_ALLOWED, "You may not comment on this ticket.")
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


def port_out_lock_needs_password(account: Account, *, locked: bool) -> bool:
    """Whether switching the port-out lock to `locked` asks the owner's password (set_port_out_lock, 3.): always,
    but for switching it on while the account's verification is locked."""
    return not locked or not verification_locked(account)


def set_port_out_lock(*, account: Account, user: User, password: str, locked: bool) -> Account:
    """The owner switches the port-out lock on or off, re-entering their password (SPEC §4, fraud protection).

    1. Only the owner, and only where the policy offers the lock (switching off is always possible, so a lock
       outlives a policy change without trapping the owner's numbers).
    2. A wrong password counts toward the verification lockout, like a wrong PIN: guessing it here locks the
       account's port-outs rather than opening them.
    3. While the account's verification is locked (someone is guessing), switching the lock on asks no password:
       it only protects the numbers, and the owner the lockout email warned must be able to do it at once, while a
       password checked then would be an oracle the lockout no longer limits. Switching off still needs both.
    4. The change is logged as an AccountEvent; switching off is emailed to the owner and billing admins.
    """
    try:
        with transaction.atomic():
            account = Account.objects.select_for_update(of=("self",)).select_related("plan__policy").get(pk=account.pk)
            if not access.may_switch_port_out_lock(user, account):
                raise Refusal(Code.ROLE_NOT_ALLOWED, "Only the account's owner may switch the port-out lock.")
            if locked and not account.plan.policy.port_out_lock_offered:
                raise Refusal(Code.PORT_OUT_LOCK_NOT_OFFERED, "This plan does not offer a port-out lock.")
            if not locked:
                check_not_locked(account)  # switching on needs no wait; switching off waits for the lockout's end
            if port_out_lock_needs_password(account, locked=locked):
                if not user.check_password(password or ""):
                    raise failed_verification(account, user, "password", "That is not your password.", "password")
            if account.port_out_locked == locked:
                return account
            account.port_out_locked = locked
            account.save(update_fields=["port_out_locked"])
            kind = AccountEvent.Kind.PORT_OUT_LOCK_ON if locked else AccountEvent.Kind.PORT_OUT_LOCK_OFF
            event = AccountEvent.objects.create(account=account, kind=kind, actor=user)
            if not locked:
                transaction.on_commit(lambda: send_port_out_lock_off.delay(event.pk))
            return account
    except Refusal as refusal:
        record_failed_attempt(refusal)
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
    if assignee is not None and not access.may_be_assigned(assignee):
        raise Refusal(Code.INVALID_REQUEST, "Tickets are assigned to active staff only.", field="assignee")
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    with transaction.atomic():
        locked = Ticket.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=pk)
        if actor is not None and not access.may_assign(actor, locked, assignee):
            raise Refusal(
                Code.ROLE_NOT_ALLOWED,
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
