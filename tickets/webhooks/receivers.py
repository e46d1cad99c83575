"""The seam with the outbox: accounts.outbox announces each committed event; this queues its fan-out."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def queue_fan_out(sender, event, **kwargs) -> None:
    """Queue the fan-out of a committed event. A broker that does not answer loses nothing: the event row is
    committed and the beat sweep (tasks.sweep_outbox) fans out every event left without deliveries."""
    from .tasks import fan_out_event  # the Celery app loads the tasks after the apps; receivers load with them

    try:
        fan_out_event.delay(event.pk)
    except Exception:  # noqa: BLE001 - any broker error; the sweep catches the event up
        logger.warning("Could not queue the fan-out of event %s; the sweep will.", event.public_id, exc_info=True)
