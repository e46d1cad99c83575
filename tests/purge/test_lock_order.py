"""One lock order (config/locking.py): a reactivation's completion racing the purge of the same account queues on
the account row instead of deadlocking (PostgreSQL gave 15 x "deadlock detected" in 17 rounds before)."""

import datetime as dt
import threading

import pytest
from django.db import connections

from accounts.exceptions import Refusal
from accounts.models import Account
from tests.purge.conftest import account_state, cancel, late_reactivation
from tickets import purge
from tickets.models import Ticket
from tickets.services import transition_ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_reactivation_and_purge_released_together_never_deadlock(cast, stock, tasks_in_process):
    # rule U7 with the purge (U6) at the same moment, many rounds: each ends one way, never with an error.
    outcomes = []
    for _ in range(8):
        desk = cast("kustomer")
        stock(desk)
        cancel(desk)
        account = Account.objects.get(pk=desk.account.pk)
        reactivation = late_reactivation(desk, account)
        barrier = threading.Barrier(2)
        errors: list[str] = []
        result: dict[str, str] = {}

        def complete(ticket=reactivation, agent=desk.agent, barrier=barrier, errors=errors, result=result):
            barrier.wait(timeout=30)
            try:
                transition_ticket(ticket=ticket, name="complete", actor=agent)
                result["reactivation"] = "completed"
            except Refusal as refusal:
                result["reactivation"] = refusal.code
            except Exception as exc:  # shown by the assertion below
                errors.append(repr(exc))
            finally:
                connections.close_all()

        def purge_now(account=account, barrier=barrier, errors=errors, result=result):
            barrier.wait(timeout=30)
            try:
                result["purge"] = purge.purge_account(
                    account.pk, now=account.purge_after + dt.timedelta(seconds=1)
                ).outcome
            except Exception as exc:
                errors.append(repr(exc))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=complete), threading.Thread(target=purge_now)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        state = account_state(account)
        reactivated = Ticket.objects.get(pk=reactivation.pk).state == "completed"
        # Exactly one wins: a reactivated account is active and not purged; a purged one was not reactivated.
        assert (state == "active" and reactivated and result["purge"] == "not_due") or (
            state == "purged" and not reactivated and result["reactivation"] == "reactivation_closed"
        ), (state, result)
        outcomes.append(state)
    assert len(outcomes) == 8
