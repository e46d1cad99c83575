"""Celery beat sends every scheduled job and a real worker runs it: the purge after retention (U6), the port-out
deadline and the SLA warnings, on PostgreSQL and Redis, with the README's own commands (`celery -A config beat`,
`celery -A config worker`) on the production schedule's entries made due every two seconds
(tests/settings_short_beat.py). When beat dies at start-up (issue 19) none of this ever happens."""

import datetime as dt
import re
import uuid

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Tombstone
from bench.stack import Processes
from tests.factories import TicketFactory
from tests.processes import CELERY, PRODUCTION, clean_env, suite_database_url
from tests.purge.conftest import account_state, cancel, wait_for
from tests.purge.test_jobs import MONDAY_9AM, verified_port_out
from tickets.models import Kind, LogChannel, Ticket

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),  # the processes see committed rows only
]


def test_beat_sends_the_purge_the_port_out_deadline_and_the_sla_warnings_and_a_worker_runs_them(
    cast, stock, settings, tmp_path
):
    # rule U6: a Kustomer account cancelled 61 days ago is purged by the scheduled job
    purged = cast("kustomer")
    with time_machine.travel(timezone.now() - dt.timedelta(days=61)):
        stock(purged)
        cancel(purged)
    # SPEC §4: a port-out staff left unanswered past the deadline is approved by the system
    kixie = cast("kixie")
    port_out = verified_port_out(kixie, MONDAY_9AM)
    # SLA: an assigned request long past its targets warns its assignee
    late = TicketFactory(
        account=kixie.account,
        kind=Kind.NUMBER_CANCELLATION,
        requester=kixie.owner,
        assignee=kixie.agent,
        created_at=MONDAY_9AM,
    )

    env = clean_env(
        **PRODUCTION,
        DJANGO_SETTINGS_MODULE="tests.settings_short_beat",
        DATABASE_URL=suite_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_QUEUE=f"beat-{uuid.uuid4().hex[:8]}",  # the suite's own worker thread consumes the default queue
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
    )
    with Processes(tmp_path / "logs") as processes:
        processes.start("worker", [*CELERY, "worker", "-P", "solo", "-n", "beat-test@%h", "-l", "INFO"], env)
        processes.start("beat", [*CELERY, "beat", "-s", str(tmp_path / "beat-schedule"), "-l", "INFO"], env)

        def done() -> bool:
            processes.require_alive()  # a process that died fails here, named, with the end of its log
            return (
                account_state(purged.account) == "purged"
                and port_out.log.filter(transition="approve").exists()
                and Ticket.objects.filter(pk=late.pk, sla_warned_at__isnull=False).exists()
            )

        wait_for(done, timeout=90, what="beat's jobs to run on the worker")
        beat_log, worker_log = processes.tail("beat", 400), processes.tail("worker", 400)

    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert f"Sending due task {name} ({entry['task']})" in beat_log
        assert re.search(rf"Task {re.escape(entry['task'])}\[[0-9a-f-]+\] succeeded", worker_log), entry["task"]
    approval = port_out.log.get(transition="approve")
    assert (approval.actor_label, approval.channel) == ("system", LogChannel.SYSTEM)
    assert Tombstone.objects.get(account=purged.account).finished_at is not None
