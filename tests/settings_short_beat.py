"""The project's settings with every beat entry due every two seconds, for tests/purge/test_beat.py: the same
entries, task names and arguments as production's CELERY_BEAT_SCHEDULE, on a short clock."""

from config.settings import *  # noqa: F403

SHORT_INTERVAL = 2.0
CELERY_BEAT_SCHEDULE = {
    name: {**entry, "schedule": SHORT_INTERVAL}
    for name, entry in CELERY_BEAT_SCHEDULE.items()  # noqa: F405
}
