"""Logging for every process (web, worker, beat, commands): plain text by default, JSON lines with LOG_FORMAT=json.

JSON lines come from django-structlog: its request middleware binds a `request_id` to every line written while a
request is served (Django's own and the desk's log calls included), and its Celery integration carries that id in
the headers of each task the request queues, so the worker's lines for that task carry it too. Every line passes
`scrub_secrets` last but one, so no PIN, card digits, password, token, message body or email address reaches it
(config/redaction.py).
"""

import logging
import logging.config
from typing import Any

import structlog
from django.conf import settings

from config.redaction import redact

FORMATS = ("text", "json")


def scrub_secrets(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the event's values with every secret replaced (exceptions' text loses digit runs too)."""
    cleaned = redact(event_dict)
    if "exception" in cleaned:
        cleaned["exception"] = redact(cleaned["exception"], digits=True)
    return cleaned


def _shared_processors() -> list:
    # Run for the desk's structlog lines and for plain `logging` records alike (ProcessorFormatter's foreign chain):
    # merge_contextvars is what puts the request id on Django's and Celery's own lines.
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting: one console handler on the root logger, formatted as `log_format` asks."""
    if log_format == "json":
        formatter = {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # No local variables: a frame's locals may hold the PIN or a password being checked.
                structlog.processors.ExceptionRenderer(
                    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
                ),
                scrub_secrets,
                structlog.processors.JSONRenderer(),
            ],
            # Of the extras a library passes, only the status code: Celery passes a task's arguments.
            "foreign_pre_chain": [*_shared_processors(), structlog.stdlib.ExtraAdder(allow=("status_code",))],
        }
    else:
        formatter = {"format": "%(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"desk": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "desk"}},
        "root": {"handlers": ["console"], "level": level},
    }


def configure_structlog(log_format: str) -> None:
    """structlog's loggers (django-structlog's and the desk's) hand their events to `logging`'s handlers."""
    if log_format == "json":
        last = [structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
        logging.captureWarnings(True)  # Python's warnings as log lines (JSON), not raw text on stderr
    else:
        last = [scrub_secrets, structlog.dev.ConsoleRenderer(colors=False)]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            *last,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def use_desk_logging_in_celery(**kwargs: Any) -> None:
    """Celery's `setup_logging` signal: with JSON logs the worker and beat keep the LOGGING setting instead of
    Celery's own handlers, so their lines are JSON too."""
    logging.config.dictConfig(settings.LOGGING)


def level_name(value: str) -> str:
    name = value.strip().upper()
    if not isinstance(logging.getLevelName(name), int):
        raise ValueError(f"{value!r} is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return name
