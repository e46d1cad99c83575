import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("exitdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _json_logs() -> None:
    """LOG_FORMAT=json (config/logs.py): the worker and beat log through LOGGING, not Celery's own handlers, and each
    task's lines carry the request id its publisher sent in the task's headers (django-structlog)."""
    # Only with LOG_FORMAT=json: django-structlog's worker step and the desk's logging are loaded then.
    from django_structlog.celery.steps import DjangoStructLogInitStep

    from config.logs import use_desk_logging_in_celery

    # A receiver connected at all stops Celery from setting up its own logging.
    setup_logging.connect(use_desk_logging_in_celery, weak=False)
    app.steps["worker"].add(DjangoStructLogInitStep)


if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    _json_logs()
