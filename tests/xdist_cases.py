"""Cases for tests/test_two_processes.py, which runs this file in a pytest of its own under pytest-xdist.

Not named test_*.py: the suite itself never collects it (a file named on pytest's command line is collected
whatever its name)."""

import os

import pytest


def _own_queue() -> str:
    from config.celery import app

    # Where a task is sent: the queue Celery's router picks for it when nothing else routes it.
    return app.amqp.router.route({}, "tickets.tasks.send_ticket_email")["queue"].name


@pytest.mark.parametrize("n", range(4))
def test_tasks_go_to_this_workers_own_queue(n):
    assert _own_queue() == f"exitdesk-{os.environ['PYTEST_XDIST_WORKER']}"


@pytest.mark.celery_workers
@pytest.mark.parametrize("n", range(3))
def test_in_the_celery_workers_group(n):
    assert os.environ["PYTEST_XDIST_WORKER"]


def test_skipped():
    pytest.skip("a skip that CI=true turns into a failure")
