"""Row locks without deadlocks, and what happens when the database still gives up on a lock.

The lock order (every service that locks more than one row takes them in this order, so two of them can wait
for each other but never in a circle):

    1. the account row            (submit_ticket, transition_ticket, the purge's claim and batches, cancel_account,
                                   reactivate_account)
    2. its tickets, by id         (transition_ticket; the purge's redaction batches)
    3. licenses, add-ons          (reduce_license, end_addon, the completion guards)
    4. phone numbers              (submit_ticket's port-out, release_numbers, port_out, the purge)
    5. the tombstone              (the purge's counts)

Locks are `FOR NO KEY UPDATE` where the key is not changed (`select_for_update(no_key=True)`): inserting a log row,
a comment or a number that points at the locked row then does not wait for it. SQLite has no row locks: there,
every write transaction begins with BEGIN IMMEDIATE (config/settings.py), so writes take turns on one lock.

If the database still gives up (PostgreSQL detects a deadlock, a lock or statement timeout, a serialization
failure; SQLite's busy timeout runs out), `retrying` runs the whole transaction again a bounded number of times;
past that the caller answers 409 `busy`. `BusyMiddleware` is the net under every view: such an error that
reaches it is a 409 `busy`, never a 500.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

T = TypeVar("T")
ATTEMPTS = 3
BUSY_DETAIL = "The desk is busy with this record right now; please try again in a moment."
# SQLSTATEs: deadlock_detected, lock_not_available, serialization_failure, query_canceled (statement_timeout).
_PG_CODES = {"40P01", "55P03", "40001", "57014"}


def is_lock_conflict(exc: BaseException) -> bool:
    """A deadlock, a lock the database gave up waiting for, or a serialization failure: worth trying again."""
    if not isinstance(exc, DatabaseError):
        return False
    code = getattr(exc.__cause__, "sqlstate", None)
    if code is not None:
        return code in _PG_CODES
    message = str(exc).lower()
    return isinstance(exc, OperationalError) and ("database is locked" in message or "table is locked" in message)


def retrying(work: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Run `work` (which opens its own transaction); on a lock conflict run it again, at most `attempts` times.

    Inside someone else's transaction it cannot be run again (the outer transaction is already lost), so the
    error goes up at once. The error of the last attempt goes up as it is; callers turn it into `busy`.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DatabaseError as exc:
            if not is_lock_conflict(exc) or connection.in_atomic_block or attempt == attempts:
                raise
            time.sleep(random.uniform(0.02, 0.1) * attempt)  # noqa: S311 - jitter, not security
    raise AssertionError("unreachable")


class BusyMiddleware:
    """A lock conflict that reached the view's caller is a 409 `busy` (JSON for the API), never a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_lock_conflict(exc):
            return None
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            return JsonResponse({"code": "busy", "detail": BUSY_DETAIL}, status=409)
        return HttpResponse(BUSY_DETAIL, status=409, content_type="text/plain; charset=utf-8")
