"""The purge and the ticket jobs on a real Celery worker, the real Redis broker and PostgreSQL.

Rows are committed (transaction=True) so the worker, in its own thread or process, sees them. Set-ups that
need time to pass run in the past with time-machine, so the worker runs at the real present.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.models import Account, Tombstone
from tests.factories import TicketFactory
from tests.purge.conftest import account_state, cancel, footprint, late_reactivation, wait_for
from tests.purge.test_jobs import MONDAY_9AM, FlakySMTPBackend, verified_port_out
from tests.purge.test_purge import EXPECTED_COUNTS
from tickets import purge
from tickets.models import EmailNotice, Kind, LogChannel
from tickets.purge_tasks import purge_account, purge_expired
from tickets.services import transition_ticket
from tickets.tasks import approve_overdue_port_outs, send_ticket_email

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),  # presets and groups come back through tests/conftest.py
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _worker_idle_before_teardown():
    """Let the worker thread finish what the test queued (emails, mostly) before the tables are flushed:
    a task still writing while the flush truncates every table deadlocks the two."""
    yield
    from celery.worker import state

    from config.celery import app

    with app.connection_for_write() as broker:
        queue = app.conf.task_default_queue

        def idle() -> bool:
            waiting = broker.default_channel.client.llen(queue)
            return not state.active_requests and not waiting

        wait_for(idle, what="the worker to be idle")


def test_worker_purges_after_the_retention_period_not_before(cast, stock, celery_worker):
    # rule U6: deleted 60 days after cancellation, by the daily job on a real worker
    desk = cast("kustomer")
    with time_machine.travel(timezone.now() - dt.timedelta(days=61)):
        stock(desk)
        cancel(desk)
    desk.account.refresh_from_db()
    bystander = footprint(desk.other_account)
    assert desk.account.purge_after < timezone.now()
    with time_machine.travel(desk.account.purge_after - dt.timedelta(minutes=5)):
        assert purge.purgeable_account_ids() == []  # the same question the daily task asks, a moment too early
    purge_expired.delay()
    wait_for(lambda: account_state(desk.account) == "purged", what="the worker's purge")
    assert Tombstone.objects.get(account=desk.account).counts == EXPECTED_COUNTS
    assert footprint(desk.other_account) == bystander


def test_retention_zero_purges_on_completion_on_the_worker(cast, stock, celery_worker):
    # rule S6: completing a smrtPhone cancellation queues the purge on commit; the worker deletes everything
    desk = cast("smrtphone")
    stock(desk)
    cancel(desk)
    wait_for(lambda: account_state(desk.account) == "purged", what="the purge queued on completion")
    counts = Tombstone.objects.get(account=desk.account).counts
    assert counts["numbers"] == 3 and counts["users"] == 4 and counts["tickets_redacted"] == 2


def test_reactivation_racing_the_purge_wins_when_it_holds_the_lock_first(cast, stock, tasks_in_process):
    # rule U7: a reactivation that lands first always wins, even against a purge already waiting for the row
    desk = cast("kustomer")
    stock(desk)
    cancel(desk)
    account = Account.objects.get(pk=desk.account.pk)
    reactivation = late_reactivation(desk, account)
    before = footprint(account)
    outcome: list[str] = []

    def purge_at_the_deadline() -> None:
        try:
            outcome.append(purge.purge_account(account.pk, now=account.purge_after + dt.timedelta(seconds=1)).outcome)
        except Exception as exc:  # shown by the assertion below
            outcome.append(repr(exc))
        finally:
            connections.close_all()

    with time_machine.travel(account.purge_after - dt.timedelta(seconds=1)):
        with transaction.atomic():
            transition_ticket(ticket=reactivation, name="complete", actor=desk.agent)  # locks the account row
            racer = threading.Thread(target=purge_at_the_deadline)
            racer.start()

            def purge_is_waiting() -> bool:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_stat_clear_snapshot()")  # statistics are cached per transaction
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s",
                        [connection.settings_dict["NAME"]],
                    )
                    return cursor.fetchone()[0] > 0

            wait_for(lambda: purge_is_waiting() or outcome, what="the purge to wait for the reactivation's lock")
        racer.join(timeout=30)
    assert outcome == ["not_due"]
    assert account_state(account) == "active"
    assert footprint(account) == before and not Tombstone.objects.filter(account=account).exists()


def test_worker_killed_mid_purge_then_the_next_run_finishes(cast, stock, celery_worker):
    desk = cast("kustomer")
    with time_machine.travel(timezone.now() - dt.timedelta(days=61)):
        stock(desk, extra_invoices=3000)
        cancel(desk)
    bystander = footprint(desk.other_account)
    queue = f"purge-crash-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PURGE_BATCH_SIZE": "1",  # one row per transaction: slow enough to be killed mid-way
        "SECRET_KEY": "insecure-test-key-only-for-the-test-suite",
    }
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-c", "1", "-Q", queue]
        + ["--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        purge_account.apply_async((desk.account.pk,), queue=queue)

        def progress() -> int:
            tombstone = Tombstone.objects.filter(account=desk.account).first()
            return sum(tombstone.counts.values()) if tombstone else 0

        wait_for(lambda: progress() >= 40, timeout=60, what="the subprocess worker's first batches")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    partial = Tombstone.objects.get(account=desk.account)
    assert account_state(desk.account) == "purging" and partial.finished_at is None
    assert sum(partial.counts.values()) < sum(EXPECTED_COUNTS.values()) + 3000

    # The next run, once the dead worker's claim has timed out, takes over and finishes with true counts.
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.PURGE_CLAIM_TIMEOUT + 60)):
        purge_expired.delay()
        wait_for(lambda: account_state(desk.account) == "purged", timeout=60, what="the re-run")
    assert Tombstone.objects.get(account=desk.account).counts == {
        **EXPECTED_COUNTS,
        "invoices": EXPECTED_COUNTS["invoices"] + 3000,
    }
    assert footprint(desk.other_account) == bystander


def test_worker_approves_a_port_out_left_unanswered_past_the_deadline(cast, celery_worker):
    desk = cast("kixie")
    ticket = verified_port_out(desk, MONDAY_9AM)  # long past: the deadline was Tuesday 3 March 2026, 14:00 Pacific
    approve_overdue_port_outs.delay()
    wait_for(lambda: ticket.log.filter(transition="approve").exists(), what="the system's approval")
    row = ticket.log.get(transition="approve")
    assert (row.actor_label, row.channel) == ("system", LogChannel.SYSTEM)


def test_worker_retries_an_email_until_smtp_takes_it_and_sends_it_once(cast, settings, celery_worker):
    # rule U10: a flaky SMTP server delays the email; the worker retries with backoff; one email goes out
    settings.EMAIL_BACKEND = "tests.purge.test_jobs.FlakySMTPBackend"
    desk = cast("kixie")
    ticket = TicketFactory(account=desk.account, kind=Kind.PORT_OUT, requester=desk.owner)
    key = f"ticket:{ticket.pk}:submitted"
    FlakySMTPBackend.failures = 2
    send_ticket_email.delay(ticket.pk, "submitted", key)
    wait_for(lambda: EmailNotice.objects.filter(key=key, sent_at__isnull=False).exists(), what="the retried email")
    send_ticket_email.delay(ticket.pk, "submitted", key)  # a redelivery of the same email
    # The solo worker takes tasks in order: once a later email is out, the redelivery has been handled.
    later = TicketFactory(account=desk.account, kind=Kind.PORT_OUT, requester=desk.super_admin)
    send_ticket_email.delay(later.pk, "submitted", f"ticket:{later.pk}:submitted")
    wait_for(lambda: EmailNotice.objects.filter(ticket=later, sent_at__isnull=False).exists(), what="the later email")
    assert [m.to for m in mail.outbox] == [[desk.owner.email], [desk.super_admin.email]]
    assert EmailNotice.objects.get(key=key).attempts == 3  # two refusals by the SMTP server, one success


def test_smrtphone_owner_gets_the_confirmation_from_the_worker_although_the_purge_follows_at_once(
    cast, stock, celery_worker
):
    # rule U10, S6: a real broker and worker: the data is deleted at once, the owner is confirmed all the same
    desk = cast("smrtphone")
    stock(desk)
    mail.outbox.clear()
    ticket = cancel(desk)
    key = f"ticket:{ticket.pk}:completed"
    wait_for(lambda: account_state(desk.account) == "purged", what="the purge queued on completion")
    wait_for(lambda: EmailNotice.objects.filter(key=key, sent_at__isnull=False).exists(), what="the confirmation")
    # One copy per recipient (each with its own reply address, issue 24): the owner's.
    cancelled = "Your account has been cancelled"
    confirmation = [m for m in mail.outbox if cancelled in m.subject and m.to == [desk.owner.email]]
    assert len(confirmation) == 1
    assert "permanently deleted now" in confirmation[0].body
