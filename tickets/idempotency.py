"""A request made once whatever the retries (the API's Idempotency-Key): the first request with a key claims it and
records the ticket it made; the same key with the same request returns that ticket instead of a new one; the key
with a different request is refused (`idempotency_key_reused`), and while the first is in flight the second is
refused too (`idempotency_key_in_use`, a 409).

The claim is a row (IdempotencyKey, unique per person and key), so two simultaneous requests cannot both make a
ticket; a refusal releases the key (the request may be corrected and sent again), and a claim left by a request that
died before making its ticket is taken over once STALE_CLAIM has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.exceptions import Code, Refusal

from .models import IdempotencyKey, Ticket

if TYPE_CHECKING:
    from accounts.models import User

STALE_CLAIM = dt.timedelta(minutes=5)


def fingerprint(values: dict) -> str:
    """A hash of the request as validated (whitespace trimmed, ids as numbers), so a reformatted body is the same."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_once(*, user: User, key: str | None, values: dict, submit: Callable[[], Ticket]) -> tuple[Ticket, bool]:
    """Make the ticket with `submit` once per key: (the ticket, whether it is an earlier request's, replayed).

    1. No key: submit, as any request.
    2. Claim the key, or find the ticket an earlier request with it (and the same values) made: that one is returned.
    3. Submit; anything raised (a Refusal included) releases the key, the ticket made settles it.
    """
    if key is None:
        return submit(), False
    earlier = claim(user, key, fingerprint(values))
    if earlier is not None:
        return earlier, True
    try:
        ticket = submit()
    except BaseException:
        release(user, key)
        raise
    IdempotencyKey.objects.filter(user=user, key=key).update(ticket=ticket)
    return ticket, False


def claim(user: User, key: str, print_: str) -> Ticket | None:
    """Claim the key, or return the ticket an earlier request with it (and the same fields) created."""
    try:
        with transaction.atomic():  # a savepoint: a lost race must not break the caller's transaction
            IdempotencyKey.objects.create(user=user, key=key, fingerprint=print_)
        return None
    except IntegrityError:
        pass
    earlier = IdempotencyKey.objects.filter(user=user, key=key).select_related("ticket").first()
    if earlier is not None and earlier.fingerprint not in ("", print_):
        raise Refusal(
            Code.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was used for a different request; use a new key for a new request.",
            field="Idempotency-Key",
        )
    if earlier is not None and earlier.ticket is None:
        # A claim left by a request that died before creating its ticket is taken over once it is stale.
        now = timezone.now()
        taken = IdempotencyKey.objects.filter(
            pk=earlier.pk, ticket__isnull=True, created_at__lt=now - STALE_CLAIM
        ).update(created_at=now, fingerprint=print_)
        if taken:
            return None
    if earlier is None or earlier.ticket is None:
        raise Refusal(Code.IDEMPOTENCY_KEY_IN_USE, "A request with this Idempotency-Key is still being processed.")
    return earlier.ticket


def release(user: User, key: str) -> None:
    """The request with this key made nothing: the key is free again."""
    IdempotencyKey.objects.filter(user=user, key=key, ticket__isnull=True).delete()
