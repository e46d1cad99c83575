"""Fixtures of the probes' and metrics' tests: a desk whose beat has just written its heartbeat."""

import pytest

from tickets.ops.tasks import beat_heartbeat


@pytest.fixture
def beat_alive(db, tasks_in_process):
    """Beat's heartbeat written now; tasks in-process, so the broker and workers checks say so and pass."""
    beat_heartbeat()
