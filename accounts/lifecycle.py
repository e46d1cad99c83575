"""The account's life as one machine (SPEC §4, "Account lifecycle"): `Account.status` is a protected django-fsm
field whose transitions live on the model; `move_account` is the one way to run them. It runs the transition,
saves what it changed and writes the `AccountEvent` (actor, channel, note) in the caller's transaction.

Callers: completing an account cancellation or a reactivation (tickets.effects), the purge (tickets.purge). Each
holds the account's row lock first (config/locking.py), so two moves of one account are decided one after the
other.

`python manage.py account_lifecycle` prints the machine as the README's table (`lifecycle_table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_fsm import can_proceed

from accounts.events import record_move
from accounts.exceptions import Code, Refusal
from accounts.models import Account, AccountEvent, User

# The event each move leaves: a move without one fails at import, not in a customer's request.
EVENTS: dict[str, str] = {
    "cancel": AccountEvent.Kind.CANCELLED,
    "reactivate": AccountEvent.Kind.REACTIVATED,
    "start_purge": AccountEvent.Kind.PURGE_STARTED,
    "hold_purge": AccountEvent.Kind.PURGE_HELD,
    "purge": AccountEvent.Kind.PURGED,
}


@dataclass(frozen=True)
class Move:
    """One transition of the account's machine, as the README shows it."""

    name: str
    sources: tuple[str, ...]
    target: str
    by: str
    settles: str
    fields: tuple[str, ...]


def moves() -> list[Move]:
    """Every transition of `Account.status`, read from the model (django-fsm)."""
    found: dict[str, Move] = {}
    for t in Account._meta.get_field("status").get_all_transitions(Account):
        known = found.get(t.name)
        sources = (*known.sources, t.source) if known else (t.source,)
        custom = t.custom
        found[t.name] = Move(t.name, sources, t.target, custom["by"], custom["settles"], tuple(custom["fields"]))
    return sorted(found.values(), key=lambda move: list(EVENTS).index(move.name))  # the order of a life


assert {m.name for m in moves()} == set(EVENTS)  # noqa: S101


def move_account(
    *, account: Account, name: str, actor: User | None, channel: str, note: str = "", **kwargs: Any
) -> AccountEvent:
    """Run the transition `name` on the account (locked by the caller), save it and log it.

    1. Refuse a move the machine does not allow from the account's status (`invalid_state`).
    2. Run the model's transition (it changes the instance only), save the status and the fields it wrote.
    3. Write the AccountEvent: the move's kind, who ran it (None: the system), the channel and the note.
    4. Cancel, reactivate and purge write their outbox event too (accounts.events), in the same transaction.
    """
    if name not in EVENTS:
        raise Refusal(Code.UNKNOWN_TRANSITION, f"Unknown account move {name!r}; one of {', '.join(EVENTS)}.")
    method = getattr(account, name)
    if not can_proceed(method):
        status = account.get_status_display().lower()
        article = "An" if status[0] in "aeiou" else "A"
        raise Refusal(Code.INVALID_STATE, f"{article} {status} account cannot be {_PAST[name]}.")
    method(**kwargs)
    move = next(m for m in moves() if m.name == name)
    account.save(update_fields=["status", *move.fields])
    logged = AccountEvent.objects.create(account=account, kind=EVENTS[name], actor=actor, channel=channel, note=note)
    record_move(account, name, actor=actor, channel=channel)
    return logged


def cancelled_on(account: Account) -> str:
    """The day the account was cancelled, as a customer reads it (in its policy's time zone): "7 December 2026"."""
    if account.cancelled_at is None:
        return "an unknown date"
    day = account.cancelled_at.astimezone(account.plan.policy.tz).date()
    return f"{day.day} {day:%B %Y}"


_PAST = {
    "cancel": "cancelled",
    "reactivate": "reactivated",
    "start_purge": "claimed by the purge",
    "hold_purge": "held back from the purge",
    "purge": "purged",
}


def _sources(move: Move) -> str:
    return ", ".join(Account.Status(s).label.lower() for s in move.sources)


def lifecycle_table() -> str:
    """The account's machine as a markdown table (states, transitions, who runs them, what each settles)."""
    states = ", ".join(f"{s.label.lower()} (`{s.value}`)" for s in Account.Status)
    lines = [
        f"States: {states}.",
        "",
        "| move | from | to | by | settles |",
        "| --- | --- | --- | --- | --- |",
    ]
    for move in moves():
        target = Account.Status(move.target).label.lower()
        lines.append(f"| `{move.name}` | {_sources(move)} | {target} | {move.by} | {move.settles} |")
    return "\n".join(lines) + "\n"
