"""The transactional outbox (SPEC §6a): events are written with their change, numbered per account."""

import pytest
from django.db import transaction

from accounts.models import OutboxEvent
from accounts.outbox import EventType, event_recorded, record


@pytest.mark.django_db(transaction=True)
def test_an_event_commits_with_its_change_or_not_at_all(cast):
    account = cast("smrtphone").account
    heard = []

    def listener(sender, event, **kwargs):
        heard.append(event.public_id)

    event_recorded.connect(listener)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            record(account, EventType.ACCOUNT_CANCELLED, {"reason": "x"})
            raise RuntimeError("the change fails")
        assert not OutboxEvent.objects.filter(account=account).exists()
        assert heard == []

        with transaction.atomic():
            first = record(account, EventType.ACCOUNT_CANCELLED, {})
            assert heard == []  # not before the commit
        second = record(account, "account.reactivated", {})
    finally:
        event_recorded.disconnect(listener)

    assert heard == [first.public_id, second.public_id]
    assert [first.sequence, second.sequence] == [1, 2]
    body = second.body()
    assert body["id"].startswith("msg_") and body["account"] == account.account_id
    assert body["type"] == "account.reactivated" and body["sequence"] == 2
    other = record(cast("smrtphone").other_account, EventType.ACCOUNT_CANCELLED, {})
    assert other.sequence == 1  # per account


def test_an_unknown_event_type_is_refused(cast):
    with pytest.raises(ValueError):
        record(cast("smrtphone").account, "ticket.exploded", {})
