import datetime as dt

import pytest
import time_machine

from accounts import services as provisioning
from tickets.services import Request, submit_ticket

# Monday 23 November 2026, 10:00 Pacific: inside every preset's intake hours.
BUSINESS_HOURS = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """Emails are sent in-process here, broker or not: these tests read the outbox."""


@pytest.fixture
def in_business_hours():
    with time_machine.travel(BUSINESS_HOURS, tick=True):
        yield


@pytest.fixture
def submit():
    """submit(desk, kind, requester=None, channel="web", **request fields) → Ticket."""

    def run(desk, kind, *, requester=None, channel="web", actor=None, received_at=None, **fields):
        return submit_ticket(
            account=desk.account,
            kind=kind,
            requester=requester or desk.owner,
            request=Request(**fields),
            channel=channel,
            actor=actor,
            received_at=received_at,
        )

    return run


@pytest.fixture
def number(db):
    def make(account, value="+12025550143", **kwargs):
        return provisioning.add_number(account=account, number=value, **kwargs)

    return make


SMRTPHONE_ACKS = ["numbers_lost", "data_deleted", "credit_forfeited", "no_reactivation"]
KUSTOMER_ACKS = ["access_removed", "data_saved", "data_deleted_after_retention"]
