"""What the desk never writes to a log line or an error report: PINs, card digits, passwords, tokens, message bodies
and email addresses (SPEC §6b). One set of rules, read by the JSON logs (config/logs.py) and the error reports
(config/errors.py).

Secrets reach a log or a report in three ways, each handled here:
1. under a telling name (a form field `pin`, a header `Authorization`, a task's `body`): the value is replaced
   whatever it is;
2. inside a URL: the one-time links (password reset, port-out withdrawal, owner confirmation) carry their token in
   the path, and any query string may carry anything: both are replaced;
3. inside free text (an exception's message, a log message): email addresses are replaced; error reports also
   replace every run of four digits or more, since a PIN or card digits written into a message cannot be told from
   a number.
"""

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# A key holding any of these words holds a secret or a person's words, whatever its value.
SECRET_NAME = re.compile(
    r"pin|pass(word|wd)?|secret|token|card|last4|authorization|cookie|csrf|session|signature|api[_-]?key|otp|"
    r"body|message|comment|subject|email|address|full_name|contact",
    re.IGNORECASE,
)
# Keys whose values the logs need and that can never hold a secret (django-structlog's and Celery's own).
SAFE_NAMES = frozenset(
    {
        "event",
        "level",
        "logger",
        "timestamp",
        "request_id",
        "correlation_id",
        "task_id",
        "parent_task_id",
        "task",
        "child_task_id",
        "child_task_name",
        "code",
        "duration_ms",
        "user_id",
        "routing_key",
        "exception",
        "exc_info",
    }
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# The one-time links of the desk: /accounts/reset/<uid>/<token>/, /port-out/withdraw/<token>/, /verify/confirm/<token>/.
LINK_TOKEN = re.compile(r"(/(?:reset|withdraw|confirm)/)[^\s\"'?#]+")
QUERY_VALUE = re.compile(r"([?&][^=&\s\"'#]+=)[^&\s\"'#]*")
AUTH_HEADER_VALUE = re.compile(r"\b(Token|Bearer|Basic)\s+[\w.~+/=-]+", re.IGNORECASE)
# `pin=2468`, `password: hunter2` written into a message.
NAMED_VALUE = re.compile(r"\b(pin|password|passwd|secret|token|last4)(\s*[=:]\s*)[^\s,;&\"']+", re.IGNORECASE)
DIGIT_RUN = re.compile(r"(?<![\w-])\d{4,}(?![\w-])")


def redact_text(text: str, *, digits: bool = False) -> str:
    """Free text with its links' tokens, query values, credentials and email addresses replaced (and with
    `digits`, every run of four digits or more)."""
    text = LINK_TOKEN.sub(rf"\1{REDACTED}", text)
    text = QUERY_VALUE.sub(rf"\1{REDACTED}", text)
    text = AUTH_HEADER_VALUE.sub(rf"\1 {REDACTED}", text)
    text = NAMED_VALUE.sub(rf"\1\2{REDACTED}", text)
    text = EMAIL.sub("[email]", text)
    if digits:
        text = DIGIT_RUN.sub("[digits]", text)
    return text


def is_secret_name(name: object) -> bool:
    return isinstance(name, str) and name not in SAFE_NAMES and bool(SECRET_NAME.search(name))


def redact(value: Any, *, digits: bool = False, depth: int = 0) -> Any:
    """A copy of `value` (mappings, lists and strings, nested) with every secret replaced."""
    if depth > 12:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value, digits=digits)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_secret_name(key) and item is not None else redact(item, digits=digits, depth=depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(item, digits=digits, depth=depth + 1) for item in value)
    return value
