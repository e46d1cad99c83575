"""The account's data as one archive (SPEC §6; Kustomer: "save any necessary information before canceling").

A zip holding, for each part of the account (cases, their public comments, invoices, numbers, licenses, add-ons,
members), a CSV and a JSON file of the same rows, and `account.json` saying what the archive holds. Only the
account-wide roles download it (tickets.access.may_export_account_data), and it holds only what they already see
(SPEC §5): no check results (PIN, name), no private comments, no staff notes or staff emails ("Support"), no
priority or assignee, never the PIN.

Memory stays flat whatever the account's size: rows are read with `.iterator()` in chunks and written straight into
the zip's entries, and the zip is a SpooledTemporaryFile (in memory while small, on disk past SPOOL_BYTES) that the
view streams with FileResponse. Every download is logged as an AccountEvent (who, when, which account).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.exceptions import Code, Refusal
from accounts.models import Account, AccountEvent, User

from . import access
from .models import Comment

security_log = logging.getLogger("exitdesk.security")

CHUNK = 500
SPOOL_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    """One part of the archive: its rows and, per column, how a row gives its value."""

    name: str
    rows: Callable[[User, Account], QuerySet]
    columns: dict[str, Callable[[Any], Any]]
    access_part: str | None = None  # tickets.access.ACCOUNT_PARTS key the reader must see, where there is one


def _when(value) -> str:
    return value.isoformat() if value else ""


def _cases(user: User, account: Account) -> QuerySet:
    return (
        access.visible_tickets(user)
        .filter(account=account)
        .select_related("requester", "license", "addon", "target_plan")
        .prefetch_related("numbers")
        .order_by("pk")
    )


def _comments(user: User, account: Account) -> QuerySet:
    comments = Comment.objects.filter(ticket__in=_cases(user, account).values("pk")).select_related("author")
    return access.comments_readable(user, comments).order_by("ticket_id", "created_at", "pk")


def _comment_author(user: User, policy) -> Callable[[Comment], str]:
    def author(comment: Comment) -> str:
        if comment.author is None:
            return "system"
        return access.actor_name(user, comment.author, comment.author.email, policy)

    return author


CASE_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "case": lambda t: t.pk,
    "kind": lambda t: t.kind,
    "state": lambda t: t.state,
    "created_at": lambda t: _when(t.created_at),
    "updated_at": lambda t: _when(t.updated_at),
    "closed_at": lambda t: _when(t.closed_at),
    "channel": lambda t: t.channel,
    "requester": lambda t: t.requester.email if t.requester else "",
    "full_name": lambda t: t.full_name,
    "company": lambda t: t.company,
    "contact": lambda t: t.contact,
    "numbers": lambda t: " ".join(n.number for n in t.numbers.all()),
    "license": lambda t: t.license.get_product_display() if t.license else "",
    "quantity": lambda t: t.quantity,
    "addon": lambda t: str(t.addon) if t.addon else "",
    "target_plan": lambda t: t.target_plan.name if t.target_plan else "",
    "gaining_carrier": lambda t: t.gaining_carrier,
    "authorized_name": lambda t: t.authorized_name,
    "foc_date": lambda t: _when(t.foc_date),
    "exit_reason": lambda t: t.reason,
    "exit_comment": lambda t: t.comment,
    "acknowledgements": lambda t: list(t.acknowledgements or []),
    "rejection_code": lambda t: t.rejection_code,
    "rejection_reason": lambda t: t.rejection_reason,
}

PARTS: list[Part] = [
    Part("cases", _cases, CASE_COLUMNS),
    Part(
        "case_comments",
        _comments,
        {
            "case": lambda c: c.ticket_id,
            "at": lambda c: _when(c.created_at),
            "author": None,  # the reader's view of the author: filled per archive (tickets.access.actor_name)
            "body": lambda c: c.body,
        },
    ),
    Part(
        "invoices",
        lambda user, account: account.invoices.order_by("due_date", "pk"),
        {
            "invoice": lambda i: i.pk,
            "amount": lambda i: str(i.amount),
            "due_date": lambda i: _when(i.due_date),
            "status": lambda i: i.status,
            "created_at": lambda i: _when(i.created_at),
        },
        access_part="invoices",
    ),
    Part(
        "numbers",
        lambda user, account: account.numbers.order_by("pk"),
        {
            "number": lambda n: n.number,
            "status": lambda n: n.status,
            "inbound_recording": lambda n: n.inbound_recording,
            "created_at": lambda n: _when(n.created_at),
            "released_at": lambda n: _when(n.released_at),
            "ported_out_at": lambda n: _when(n.ported_out_at),
        },
        access_part="numbers",
    ),
    Part(
        "licenses",
        lambda user, account: account.licenses.order_by("pk"),
        {"product": lambda x: x.product, "quantity": lambda x: x.quantity, "minimum": lambda x: x.minimum},
        access_part="licenses",
    ),
    Part(
        "addons",
        lambda user, account: account.addons.select_related("number").order_by("pk"),
        {
            "product": lambda a: a.product,
            "name": lambda a: a.name,
            "number": lambda a: a.number.number if a.number else "",
            "status": lambda a: a.status,
            "cancelled_at": lambda a: _when(a.cancelled_at),
        },
        access_part="addons",
    ),
    Part(
        "members",
        lambda user, account: account.memberships.select_related("user").order_by("role", "user__email"),
        {
            "email": lambda m: m.user.email,
            "full_name": lambda m: m.user.full_name,
            "role": lambda m: m.role,
            "since": lambda m: _when(m.created_at),
        },
        access_part="members",
    ),
]


def ensure_may_export(*, account: Account, user: User) -> None:
    if not access.may_export_account_data(user, account):
        raise Refusal(Code.ROLE_NOT_ALLOWED, "Only the account's owner and admins may download the account's data.")


def export_account_data(*, account: Account, user: User) -> tuple[tempfile.SpooledTemporaryFile, str]:
    """The account's archive for this person, and its file name; logged as an AccountEvent.

    1. Ask tickets.access: the account-wide roles of an active account only (`role_not_allowed` otherwise).
    2. Write each part's rows, read in chunks, as CSV and JSON entries of a zip in a SpooledTemporaryFile.
    3. Write account.json last (it counts the rows), log the download, and hand back the file at its start.
    """
    ensure_may_export(account=account, user=user)
    policy = account.plan.policy
    now = timezone.now()
    archive = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b")  # the response closes it
    counts: dict[str, int] = {}
    with zipfile.ZipFile(archive, mode="w", compression=zipfile.ZIP_DEFLATED) as zf:
        for part in PARTS:
            if part.access_part and not access.may_see_part(user, account, part.access_part):
                continue
            columns = {name: (getter or _comment_author(user, policy)) for name, getter in part.columns.items()}
            counts[part.name] = _write_csv(zf, f"{part.name}.csv", part.rows(user, account), columns)
            _write_json(zf, f"{part.name}.json", part.rows(user, account), columns)
        manifest = {
            "account_id": account.account_id,
            "name": account.name,
            "plan": account.plan.name,
            "status": account.status,
            "exported_at": now.isoformat(),
            "exported_by": user.email,
            "files": {name: {"csv": f"{name}.csv", "json": f"{name}.json", "rows": n} for name, n in counts.items()},
        }
        zf.writestr("account.json", json.dumps(manifest, indent=2))
    with transaction.atomic():
        AccountEvent.objects.create(
            account=account,
            kind=AccountEvent.Kind.DATA_EXPORTED,
            actor=user,
            note="Archive of " + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items()) + ".",
        )
    security_log.info("data_exported: account %s by user %s", account.pk, user.pk)
    archive.seek(0)
    return archive, f"{account.account_id}-data-{now:%Y-%m-%d}.zip"


def _rows(queryset: QuerySet) -> Iterable:
    return queryset.iterator(chunk_size=CHUNK)


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value)
    return "" if value is None else value


def _write_csv(zf: zipfile.ZipFile, name: str, queryset: QuerySet, columns: dict) -> int:
    count = 0
    with zf.open(name, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        writer = csv.writer(text)
        writer.writerow(columns)
        for row in _rows(queryset):
            writer.writerow([_csv_safe(_cell(get(row))) for get in columns.values()])
            count += 1
    return count


def _csv_safe(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula (=, +, -, @) is written as text (OWASP's CSV injection advice);
    phone numbers and amounts (only digits, signs, dots and spaces: no function to call) stay as they are."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and not set(value) <= PLAIN_NUMBER_CHARS:
        return "'" + value
    return value


FORMULA_STARTS = frozenset("=+-@\t\r")
PLAIN_NUMBER_CHARS = frozenset("+-0123456789. ")


def _write_json(zf: zipfile.ZipFile, name: str, queryset: QuerySet, columns: dict) -> None:
    with zf.open(name, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
        text.write("[")
        for n, row in enumerate(_rows(queryset)):
            text.write(",\n " if n else "\n ")
            text.write(json.dumps({column: get(row) for column, get in columns.items()}, default=str))
        text.write("\n]\n")
