"""The purge: a cancelled account's data goes once its retention period ends (U6, S6, K8), and a tombstone stays.

What goes: users who belong to no other account (never staff) and every membership, numbers, licenses,
add-ons, invoices, the credit ledger, the card on file, the subscription, verification attempts, ticket
comments and attachments (their files too); the email threaded into the account's cases and every email from
the leaving users (matched by member or by address) threaded to no other account's case; their sessions, API
tokens and sign-in lockout rows (django-axes). What stays: the account row (status purged, its name replaced by
its id), its tickets and their transition logs with the personal data redacted, the account's own moves (its
lifecycle events), and a `Tombstone` with the true count of each kind of row deleted. Nothing outside this
database is touched (S9). Afterwards mail to the account's cases stores nothing (tickets/inbound/services.py;
counted on the tombstone as `mail_refused_after_purge`), and a second purge of the account looks again and says
what it found: nothing, normally.

Safety, in the order the code meets it:

1. Claim: the account is locked where it is claimable (cancelled, past `purge_after`, no legal hold) and moved to
   purging with a random token (the machine's `start_purge`, accounts.lifecycle), so of two workers exactly one
   gets it. A purging account whose heartbeat is
   older than `settings.PURGE_CLAIM_TIMEOUT` belongs to a dead worker and is claimed again the same way.
2. Re-check under `select_for_update`: still ours, still past its date, no legal hold. A reactivation that
   committed first left the account active, so the claim matched nothing; one that comes after the claim
   finds the account purging and is refused (`reactivation_closed`).
3. Steps in primary-key batches, each batch in its own short transaction that first renews the claim
   (conditional UPDATE: stops at once if the claim was lost or a legal hold was set), then deletes or redacts
   the batch and adds its count to the tombstone. A crash loses at most one uncommitted batch, and the counts
   are exactly what was committed; the next run takes the claim over and goes on from what is left.

Locks follow the one order of config/locking.py: every transaction here takes the account row first (the claim,
the re-check, each batch's renewal), then tickets, then what hangs off the account, then the tombstone; a
transition (a reactivation's completion) also starts with the account, so the two queue and never deadlock. A lock
conflict the database still reports is retried a few times per transaction (`retrying`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import caches
from django.db import models, transaction
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.lifecycle import EVENTS, move_account
from accounts.models import Account, AccountEvent, Membership, Tombstone, User
from billing.models import AddOn, CardOnFile, CreditEntry, Invoice, License, Subscription
from config.locking import retrying
from numbers.models import PhoneNumber
from tickets.inbound.models import InboundMessage
from tickets.models import (
    OPEN_STATES,
    Attachment,
    Comment,
    EmailNotice,
    Kind,
    LogChannel,
    Ticket,
    TransitionLog,
    VerificationAttempt,
)

Progress = Callable[[str, int], None]
LIFECYCLE_EVENTS = set(EVENTS.values())


class PurgeStopped(Exception):
    """The claim was lost or a legal hold was set while the purge ran: stop before the next batch."""


@dataclass
class PurgeResult:
    account_id: int
    outcome: str  # purged | not_due | legal_hold | reactivation_pending | claimed_elsewhere | stopped | already_purged
    counts: dict[str, int] = field(default_factory=dict)
    detail: str = ""


@dataclass
class DuePurge:
    """What `purge_expired --dry-run` shows for one account."""

    account: Account
    counts: dict[str, int]
    blocked: str = ""  # why it will not be purged now, or ""


def batch_size() -> int:
    return max(1, int(getattr(settings, "PURGE_BATCH_SIZE", 10000)))


def claim_timeout() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "PURGE_CLAIM_TIMEOUT", 600)))


# -- the steps ------------------------------------------------------------------------------------------------


def deletable_users(account_id: int) -> QuerySet:
    """Members of this account with no membership anywhere else; staff are never deleted."""
    elsewhere = Membership.objects.exclude(account_id=account_id).values("user_id")
    return User.objects.filter(memberships__account_id=account_id, is_staff=False).exclude(pk__in=elsewhere)


@dataclass(frozen=True)
class Step:
    kind: str  # the tombstone's key
    rows: Callable[[int], QuerySet] | None  # what is left to do for an account (None: found by `find` alone)
    run: Callable[[int, list], dict[str, int]]  # do one batch, return counts by kind
    # What is left, in batches of keys, where SQL cannot select it (a session's user is inside its signed data).
    find: Callable[[int, int], Iterator[list]] | None = None

    def batches(self, account_id: int, size: int) -> Iterator[list]:
        if self.find is not None:
            return self.find(account_id, size)
        return _pk_batches(self.rows(account_id), size)

    def count(self, account_id: int) -> int:
        if self.find is not None:
            return sum(len(keys) for keys in self.find(account_id, batch_size()))
        return self.rows(account_id).count()

    def left(self, account_id: int) -> bool:
        if self.find is not None:
            return next(iter(self.find(account_id, batch_size())), None) is not None
        return self.rows(account_id).exists()


def _delete(model: type[models.Model], kind: str):
    """A batch action deleting one batch of rows (Django's collector: one DELETE where nothing points at them)."""

    def run(account_id: int, pks: list[int]) -> dict[str, int]:
        # The batch is the account's rows from pks[0] to pks[-1] (keyset order): a range, not a 10k-item IN list.
        rows = model._default_manager.filter(pk__gte=pks[0], pk__lte=pks[-1], **_owner_filter(model, account_id))
        _, by_model = rows.delete()
        return {kind: by_model.get(model._meta.label, 0)}

    return run


def _owner_filter(model: type[models.Model], account_id: int) -> dict[str, int]:
    # Re-states the account inside the batch's transaction: a batch never touches another account's rows.
    if model in (Attachment, Comment):
        return {"ticket__account_id": account_id}
    return {"account_id": account_id}


def _delete_attachments(account_id: int, pks: list[int]) -> dict[str, int]:
    attachments = Attachment.objects.filter(pk__in=pks, ticket__account_id=account_id).only("pk", "file")
    for attachment in attachments:
        # Inside the batch's transaction: if it rolls back, the next run deletes the row (the file is gone
        # already, and deleting a missing file is a no-op).
        if attachment.file:
            attachment.file.storage.delete(attachment.file.name)
    return _delete(Attachment, "attachments")(account_id, pks)


def _delete_numbers(account_id: int, pks: list[int]) -> dict[str, int]:
    """Numbers without Django's collector (it fetches every row): their add-ons, ticket links, then one DELETE."""
    rows = PhoneNumber.objects.filter(pk__gte=pks[0], pk__lte=pks[-1], account_id=account_id)
    _, addons = AddOn.objects.filter(number__in=rows.values("pk")).delete()  # normally gone at the add-ons step
    Ticket.numbers.through.objects.filter(phonenumber__in=rows.values("pk")).delete()
    return {"numbers": rows._raw_delete(rows.db), "addons": addons.get("billing.AddOn", 0)}


def _delete_users(account_id: int, pks: list[int]) -> dict[str, int]:
    users = deletable_users(account_id).filter(pk__in=pks)
    _, by_model = User.objects.filter(pk__in=list(users.values_list("pk", flat=True))).delete()
    return {"users": by_model.get("accounts.User", 0), "memberships": by_model.get("accounts.Membership", 0)}


REDACTED_TEXT = "(redacted)"


def _inbound_messages(account_id: int) -> QuerySet:
    """Emails kept whole (raw message, sender, text), U6, S6: every one threaded into the account's cases, and every
    one its leaving members sent that is threaded to no other account's case, matched by the member or by the
    address (a triage item, an auto-reply or a forged reply that came with no member, the owner being already
    inactive). A person who stays in another account keeps their mail but for what is threaded here."""
    leaving = deletable_users(account_id)
    theirs = Q(member__in=leaving) | Q(from_email__in=leaving.values("email"))
    return InboundMessage.objects.filter(
        Q(ticket__account_id=account_id) | (theirs & (Q(ticket__isnull=True) | Q(ticket__account_id=account_id)))
    )


def _delete_inbound_messages(account_id: int, pks: list[int]) -> dict[str, int]:
    _, by_model = _inbound_messages(account_id).filter(pk__in=pks).delete()
    return {"inbound_messages": by_model.get(InboundMessage._meta.label, 0)}


def _deleting(rows: Callable[[int], QuerySet], kind: str):
    """A batch action deleting the rows `rows` selects within one batch's key range (re-selected in the batch's
    transaction, so a batch never touches what is not this account's)."""

    def run(account_id: int, pks: list) -> dict[str, int]:
        matched = rows(account_id)
        _, by_model = matched.filter(pk__gte=pks[0], pk__lte=pks[-1]).delete()
        return {kind: by_model.get(matched.model._meta.label, 0)}

    return run


def _tokens(account_id: int) -> QuerySet:
    """The API tokens of the members who go (revoked at the cancellation already; any left go here)."""
    return Token.objects.filter(user__in=deletable_users(account_id))


def _lockout(model: type[models.Model]) -> Callable[[int], QuerySet]:
    """django-axes rows naming a leaving member's address (its username is the email, lowercased like ours)."""
    return lambda account_id: model.objects.filter(username__in=deletable_users(account_id).values("email"))


def _session_store():
    """The configured session engine's store class, where it keeps sessions in a table (db, cached_db)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store if hasattr(store, "get_model_class") else None


def _find_sessions(account_id: int, size: int) -> Iterator[list[str]]:
    """Keys of the sessions signed in as a leaving member, in batches. Django keeps the user inside the signed
    session data, not in a column: every session row is read once, in key order, `size` at a time, and decoded
    (memory stays flat whatever the table's size)."""
    store = _session_store()
    users = {str(pk) for pk in deletable_users(account_id).values_list("pk", flat=True)}
    if store is None or not users:
        return
    model, decoder = store.get_model_class(), store()
    found: list[str] = []
    last = ""
    while True:
        rows = list(
            model.objects.filter(session_key__gt=last)
            .order_by("session_key")
            .values_list("session_key", "session_data")[:size]
        )
        if not rows:
            break
        found += [key for key, data in rows if str(decoder.decode(data).get(SESSION_KEY)) in users]
        last = rows[-1][0]
        if len(found) >= size:
            yield found[:size]
            found = found[size:]
    if found:
        yield found


def _delete_sessions(account_id: int, keys: list[str]) -> dict[str, int]:
    store = _session_store()
    deleted, _ = store.get_model_class().objects.filter(session_key__in=keys).delete()
    if hasattr(store, "cache_key_prefix"):  # cached_db: the cached copy goes too
        caches[settings.SESSION_CACHE_ALIAS].delete_many([store.cache_key_prefix + key for key in keys])
    return {"sessions": deleted}


def _redact_tickets(account_id: int, pks: list[int]) -> dict[str, int]:
    """Keep the tickets and their logs; blank what names or reaches a person, mark them redacted."""
    tickets = Ticket.objects.filter(pk__in=pks, account_id=account_id, redacted_at__isnull=True)
    pks = list(tickets.values_list("pk", flat=True))
    exit_comments = tickets.exclude(comment="").count()
    roles: dict[str, list[int]] = {}
    for user_id, role in Membership.objects.filter(account_id=account_id).values_list("user_id", "role"):
        roles.setdefault(role, []).append(user_id)
    # The customer's own log rows lose the name; staff and system rows keep theirs.
    logs = TransitionLog.objects.filter(ticket_id__in=pks).exclude(actor_label="system").exclude(actor__is_staff=True)
    label = Case(
        *[When(actor_id__in=ids, then=Value(f"{role} (redacted)")) for role, ids in roles.items()],
        default=Value("redacted"),
        output_field=models.CharField(),
    )
    logs_redacted = logs.update(actor_label=label, actor=None)
    # Free text people wrote (a staff note, a rejection reason) may name the customer: it goes too. The system's
    # own notes are fixed sentences and stay; so does a port-out's rejection code, a word from the allow-list.
    TransitionLog.objects.filter(ticket_id__in=pks).exclude(note="").exclude(actor_label="system").update(
        note=REDACTED_TEXT
    )
    # An email rendered ahead and not yet out keeps its recipients: it is the confirmation the cancellation owes
    # (U10, S6), and its task blanks them once it is sent.
    EmailNotice.objects.filter(ticket_id__in=pks).exclude(sent_at__isnull=True, body__gt="").update(recipients=[])
    redacted = Ticket.objects.filter(pk__in=pks).update(
        full_name="",
        company="",
        contact="",
        comment="",
        authorized_name="",
        gaining_carrier="",
        rejection_reason=Case(When(rejection_reason="", then=Value("")), default=Value(REDACTED_TEXT)),
        requester=None,
        redacted_at=timezone.now(),
    )
    return {"tickets_redacted": redacted, "log_entries_redacted": logs_redacted, "exit_comments": exit_comments}


STEPS: list[Step] = [
    # Tickets first: the redaction reads the members' roles, which go last.
    Step("tickets_redacted", lambda a: Ticket.objects.filter(account_id=a, redacted_at__isnull=True), _redact_tickets),
    Step("attachments", lambda a: Attachment.objects.filter(ticket__account_id=a), _delete_attachments),
    Step("comments", lambda a: Comment.objects.filter(ticket__account_id=a), _delete(Comment, "comments")),
    # Before users: a deleted member's messages, sessions, tokens and lockout rows are found through the member.
    Step("inbound_messages", _inbound_messages, _delete_inbound_messages),
    Step("sessions", None, _delete_sessions, find=_find_sessions),
    Step("api_tokens", _tokens, _deleting(_tokens, "api_tokens")),
    Step("lockout_attempts", _lockout(AccessAttempt), _deleting(_lockout(AccessAttempt), "lockout_attempts")),
    Step("lockout_failures", _lockout(AccessFailureLog), _deleting(_lockout(AccessFailureLog), "lockout_failures")),
    Step("sign_in_logs", _lockout(AccessLog), _deleting(_lockout(AccessLog), "sign_in_logs")),
    Step("addons", lambda a: AddOn.objects.filter(account_id=a), _delete(AddOn, "addons")),
    Step(
        "numbers",
        lambda a: PhoneNumber.objects.filter(account_id=a),
        _delete_numbers,
    ),
    Step("licenses", lambda a: License.objects.filter(account_id=a), _delete(License, "licenses")),
    Step("invoices", lambda a: Invoice.objects.filter(account_id=a), _delete(Invoice, "invoices")),
    Step("credit_entries", lambda a: CreditEntry.objects.filter(account_id=a), _delete(CreditEntry, "credit_entries")),
    Step("card", lambda a: CardOnFile.objects.filter(account_id=a), _delete(CardOnFile, "card")),
    Step("subscription", lambda a: Subscription.objects.filter(account_id=a), _delete(Subscription, "subscription")),
    Step(
        "verification_attempts",
        lambda a: VerificationAttempt.objects.filter(account_id=a),
        _delete(VerificationAttempt, "verification_attempts"),
    ),
    Step(
        "account_events",
        # The account's own moves stay, as its tickets' transition logs do: when it was cancelled, reactivated,
        # purged (their actors go with the users; their notes name no one).
        lambda a: AccountEvent.objects.filter(account_id=a).exclude(kind__in=LIFECYCLE_EVENTS),
        _delete(AccountEvent, "account_events"),
    ),
    # Users before memberships: a user's membership here is how we know the user is ours to delete.
    Step("users", deletable_users, _delete_users),
    Step("memberships", lambda a: Membership.objects.filter(account_id=a), _delete(Membership, "memberships")),
]


def preview(account: Account) -> dict[str, int]:
    """How many rows of each kind a purge of this account would delete or redact now (the dry run)."""
    counts = {step.kind: step.count(account.pk) for step in STEPS}
    counts["log_entries_redacted"] = (
        TransitionLog.objects.filter(ticket__account_id=account.pk, ticket__redacted_at__isnull=True)
        .exclude(actor_label="system")
        .exclude(actor__is_staff=True)
        .count()
    )
    counts["exit_comments"] = (
        Ticket.objects.filter(account_id=account.pk, redacted_at__isnull=True).exclude(comment="").count()
    )
    counts["attachment_bytes"] = sum(
        Attachment.objects.filter(ticket__account_id=account.pk).values_list("size", flat=True).iterator()
    )
    return counts


def _pk_batches(rows: QuerySet, size: int) -> Iterator[list]:
    """Primary keys in ascending batches (keyset, so each row is read once whatever the size)."""
    last = None
    while True:
        after = rows if last is None else rows.filter(pk__gt=last)
        pks = list(after.order_by("pk").values_list("pk", flat=True)[:size])
        if not pks:
            return
        yield pks
        last = pks[-1]


# -- claim, re-check, run ---------------------------------------------------------------------------------------


def _reactivation_pending() -> Exists:
    """U7: an open reactivation request asked inside the window holds the purge until it is decided."""
    return Exists(
        Ticket.objects.filter(
            account_id=OuterRef("pk"),
            kind=Kind.REACTIVATION,
            state__in=OPEN_STATES,
            created_at__lt=OuterRef("purge_after"),
        )
    )


def _claimable(now: dt.datetime) -> Q:
    due = Q(status=Account.Status.CANCELLED, purge_after__lte=now, legal_hold=False) & ~Q(_reactivation_pending())
    abandoned = Q(status=Account.Status.PURGING, legal_hold=False) & (
        # Heartbeats are written with the clock, not with `now` (the date the purge is judged at).
        Q(purge_heartbeat_at__isnull=True) | Q(purge_heartbeat_at__lt=timezone.now() - claim_timeout())
    )
    return due | abandoned


def claim(account_id: int, now: dt.datetime) -> str | None:
    """Take the account for this run: lock it where it is claimable (the conditions are those of the row the lock
    returns, as a conditional UPDATE's would be) and run the machine's `start_purge`; None when it is not ours."""
    token = secrets.token_hex(16)
    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",), no_key=True)
            .select_related("plan__policy")
            .filter(Q(pk=account_id) & _claimable(now))
            .first()
        )
        if account is None:
            return None
        move_account(
            account=account, name="start_purge", actor=None, channel=LogChannel.SYSTEM, claim=token, at=timezone.now()
        )
    return token


def _renew(account_id: int, token: str) -> None:
    """Inside a batch's transaction: still ours and not held? Also locks the account row for the batch."""
    mine = Account.objects.filter(
        pk=account_id, status=Account.Status.PURGING, purge_claim=token, legal_hold=False
    ).update(purge_heartbeat_at=timezone.now())
    if not mine:
        raise PurgeStopped


def _batch(account_id: int, renew: Callable[[], None], step: Step, pks: list) -> dict[str, int]:
    """One batch in one transaction: the account (renewing the claim) first, then the step's rows, then the
    tombstone."""
    with transaction.atomic():
        renew()
        counts = step.run(account_id, pks)
        _add_counts(account_id, counts)
    return counts


def _add_counts(account_id: int, counts: dict[str, int]) -> None:
    tombstone = Tombstone.objects.select_for_update().get(account_id=account_id)
    for kind, n in counts.items():
        if n:
            tombstone.counts[kind] = tombstone.counts.get(kind, 0) + n
    tombstone.save(update_fields=["counts"])


MAIL_REFUSED = "mail_refused_after_purge"


def count_refused_mail(account_id: int) -> None:
    """Mail to a purged account's case stores nothing (U6, S6; tickets/inbound/services.py): it is only counted
    here, on the tombstone the admin shows (there is none yet in the instant between a claim and its re-check)."""
    with transaction.atomic():
        if Tombstone.objects.filter(account_id=account_id).exists():
            _add_counts(account_id, {MAIL_REFUSED: 1})


def _why_not(account: Account | None, now: dt.datetime) -> tuple[str, str]:
    if account is None:
        return "not_due", "No such account."
    if account.status == Account.Status.PURGED:
        return "already_purged", f"Purged on {account.purged_at:%Y-%m-%d %H:%M}."
    if account.legal_hold:
        return "legal_hold", f"Legal hold: {account.legal_hold_reason}"
    if account.status == Account.Status.PURGING:
        return "claimed_elsewhere", "Another worker is purging this account."
    if account.status != Account.Status.CANCELLED:
        return "not_due", f"The account is {account.get_status_display().lower()}."
    if account.purge_after is None or account.purge_after > now:
        when = f" until {account.purge_after:%Y-%m-%d %H:%M} UTC" if account.purge_after else ""
        return "not_due", f"Within its retention period{when}."
    if _held_by_reactivation(account.pk):
        return "reactivation_pending", REACTIVATION_PENDING
    return "not_due", "Not purgeable now."


REACTIVATION_PENDING = "A reactivation request asked within the retention period is open: the purge waits for it (U7)."


def _held_by_reactivation(account_id: int) -> bool:
    return Account.objects.filter(Q(pk=account_id) & Q(_reactivation_pending())).exists()


def purge_account(account_id: int, *, now: dt.datetime | None = None, progress: Progress | None = None) -> PurgeResult:
    """Purge one account if it is due; safe to call any number of times, from any number of workers.

    1. Claim the account (conditional UPDATE) or return why not.
    2. Under `select_for_update`, re-check the claim, the date and the legal hold; write the tombstone.
    3. Run every step in primary-key batches, each batch in its own transaction that renews the claim.
    4. If anything arrived meanwhile (a late comment), run the steps once more; then mark the account purged.
    """
    now = now or timezone.now()
    token = claim(account_id, now)
    if token is None:
        outcome, detail = _why_not(Account.objects.filter(pk=account_id).first(), now)
        if outcome == "already_purged":
            return _purge_again(account_id, detail, progress)
        return PurgeResult(account_id, outcome, detail=detail)

    held: list[bool] = []

    def recheck() -> bool:
        held.clear()
        with transaction.atomic():
            account = (
                Account.objects.select_for_update(of=("self",), no_key=True).select_related("plan").get(pk=account_id)
            )
            if (
                account.status != Account.Status.PURGING
                or account.purge_claim != token
                or account.legal_hold
                or account.purge_after is None
                or account.purge_after > now
            ):
                return False
            if _held_by_reactivation(account_id):
                # A request that committed while the claim ran (the claim's snapshot missed it): give it back.
                move_account(
                    account=account, name="hold_purge", actor=None, channel=LogChannel.SYSTEM, note=REACTIVATION_PENDING
                )
                held.append(True)
                return False
            Tombstone.objects.get_or_create(
                account=account,
                defaults={
                    "account_code": account.account_id,
                    "plan_name": account.plan.name,
                    "cancelled_at": account.cancelled_at,
                    "purge_after": account.purge_after,
                },
            )
            return True

    if not retrying(recheck):
        if held:
            return PurgeResult(account_id, "reactivation_pending", detail=REACTIVATION_PENDING)
        return PurgeResult(account_id, "stopped", detail="The account changed between the claim and the lock.")

    size = batch_size()
    try:

        def renew() -> None:
            _renew(account_id, token)

        for _ in range(2):
            for step in STEPS:
                for pks in step.batches(account_id, size):
                    retrying(lambda step=step, pks=pks: _batch(account_id, renew, step, pks))
                    if progress:
                        progress(step.kind, len(pks))
            if not any(step.left(account_id) for step in STEPS):
                break
        with transaction.atomic():  # one UPDATE of the account after the renewal's: nothing to deadlock with
            _renew(account_id, token)
            finished = timezone.now()
            account = Account.objects.select_related("plan__policy").get(pk=account_id)
            move_account(account=account, name="purge", actor=None, channel=LogChannel.SYSTEM, at=finished)
            Tombstone.objects.filter(account_id=account_id).update(finished_at=finished)
    except PurgeStopped:
        # Lost the claim (a newer run took it over) or a legal hold was set: the committed batches stand.
        account = Account.objects.filter(pk=account_id).first()
        outcome, detail = _why_not(account, now)
        if account is not None and account.legal_hold:
            # Let the purge resume as soon as the hold is released (the next run finds no live claim).
            Account.objects.filter(pk=account_id, purge_claim=token).update(purge_claim="", purge_heartbeat_at=None)
        return PurgeResult(account_id, "stopped" if outcome == "claimed_elsewhere" else outcome, detail=detail)
    tombstone = Tombstone.objects.get(account_id=account_id)
    return PurgeResult(account_id, "purged", counts=dict(tombstone.counts))


NOTHING_LEFT = "nothing left to delete"


def _still_purged(account_id: int) -> None:
    """A second purge's batch: the purged account's row, locked first as every batch does (config/locking.py)."""
    locked = Account.objects.select_for_update(of=("self",), no_key=True).filter(
        pk=account_id, status=Account.Status.PURGED
    )
    if not list(locked.values_list("pk", flat=True)):
        raise PurgeStopped


def _purge_again(account_id: int, purged_on: str, progress: Progress | None) -> PurgeResult:
    """A purge of a purged account looks again: it should find nothing (the data went, mail to it stores nothing)
    and says so; whatever it finds all the same is deleted in batches and added to the tombstone."""
    found: dict[str, int] = {}
    try:
        for step in STEPS:
            for pks in step.batches(account_id, batch_size()):
                counts = retrying(
                    lambda step=step, pks=pks: _batch(account_id, lambda: _still_purged(account_id), step, pks)
                )
                for kind, n in counts.items():
                    if n:
                        found[kind] = found.get(kind, 0) + n
                if progress:
                    progress(step.kind, len(pks))
    except PurgeStopped:
        return PurgeResult(account_id, "stopped", found, f"{purged_on} The account changed while it was looked at.")
    if not found:
        return PurgeResult(account_id, "already_purged", detail=f"{purged_on} Found {NOTHING_LEFT}.")
    listed = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in found.items())
    return PurgeResult(account_id, "already_purged", found, f"{purged_on} Found and deleted what was left: {listed}.")


# -- the sweep ------------------------------------------------------------------------------------------------


def due_accounts(now: dt.datetime | None = None) -> QuerySet:
    """Accounts past their purge date that are not purged yet, held or not (the dry run lists them all)."""
    now = now or timezone.now()
    return (
        Account.objects.filter(status__in=[Account.Status.CANCELLED, Account.Status.PURGING], purge_after__lte=now)
        .select_related("plan")
        .order_by("purge_after", "pk")
    )


OVERDUE_AFTER = dt.timedelta(days=1)


def overdue_accounts(now: dt.datetime | None = None) -> QuerySet:
    """Accounts the purge should have finished more than a day ago (SPEC §6b, /readyz's `purge` and the metric
    exitdesk_purge_overdue_accounts): past their purge date by more than OVERDUE_AFTER, not purged, under no legal
    hold and not held by a reactivation asked in time (U7). The daily job runs once a day, so one day is its slack."""
    now = now or timezone.now()
    cancelled = Q(status=Account.Status.CANCELLED) & ~Q(_reactivation_pending())
    return Account.objects.filter(
        cancelled | Q(status=Account.Status.PURGING), purge_after__lt=now - OVERDUE_AFTER, legal_hold=False
    )


def purgeable_account_ids(now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(Account.objects.filter(_claimable(now)).order_by("purge_after", "pk").values_list("pk", flat=True))


def dry_run(now: dt.datetime | None = None) -> list[DuePurge]:
    """Every due account with what a purge would delete, and why it will not be purged now if it won't."""
    now = now or timezone.now()
    found = []
    for account in due_accounts(now):
        blocked = ""
        if account.legal_hold:
            blocked = f"legal hold: {account.legal_hold_reason}"
        elif account.status == Account.Status.CANCELLED and _held_by_reactivation(account.pk):
            blocked = "an open reactivation request asked within the retention period (U7)"
        elif (
            account.status == Account.Status.PURGING
            and account.purge_heartbeat_at
            and account.purge_heartbeat_at >= timezone.now() - claim_timeout()
        ):
            blocked = f"being purged by another worker (last progress {account.purge_heartbeat_at:%H:%M:%S} UTC)"
        found.append(DuePurge(account, preview(account), blocked))
    return found
