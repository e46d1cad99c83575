"""Rules of issue 13: the reactivation window judged at the request (U7), add-on changes (A8, A9, A11) and the
worked example of "Adding a rule" (README)."""

import datetime as dt

import pytest
import time_machine

from accounts.models import Account
from tickets.exceptions import Refusal
from tickets.models import Kind, State
from tickets.services import transition_ticket

from .conftest import KUSTOMER_ACKS

pytestmark = pytest.mark.django_db


def refusal(callable_, *args, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as caught:
        callable_(*args, **kwargs)
    return caught.value


def test_a_restart_asked_on_day_59_completes_on_day_61(cast, submit):
    # rule U7: the window is judged when the request arrived, not when staff complete it
    desk = cast("kustomer")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    desk.account.refresh_from_db()
    cancelled_at = desk.account.cancelled_at
    with time_machine.travel(cancelled_at + dt.timedelta(days=59)):
        back = submit(desk, Kind.REACTIVATION)
        back = transition_ticket(ticket=back, name="verify", actor=desk.agent)
    with time_machine.travel(cancelled_at + dt.timedelta(days=61)):
        back = transition_ticket(ticket=back, name="approve", actor=desk.manager)
        back = transition_ticket(ticket=back, name="complete", actor=desk.agent)
    assert back.state == State.COMPLETED
    desk.account.refresh_from_db()
    assert desk.account.status == Account.Status.ACTIVE and desk.account.purge_after is None


def test_a_restart_asked_on_day_61_is_refused(cast, submit):
    # rule U7: asked after the 60 days, refused whatever happens next
    desk = cast("kustomer")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    desk.account.refresh_from_db()
    with time_machine.travel(desk.account.cancelled_at + dt.timedelta(days=61)):
        assert refusal(submit, desk, Kind.REACTIVATION).code == "reactivation_closed"
