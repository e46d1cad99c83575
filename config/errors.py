"""Error reports (SPEC §6b): SENTRY_DSN turns on sentry-sdk for the web processes, the workers and beat, with no
personal data in what it sends.

sentry-sdk's `send_default_pii=False` keeps the user's email, address and cookies out; the desk adds:
- no local variables and no request bodies at all: a form's locals and body hold the PIN, the card digits, a password
  or a message the customer wrote;
- `scrub_event` (before_send) and `scrub_breadcrumb` (before_breadcrumb): every value under a secret's name, every
  link token, query value, email address and run of four digits or more in what is left (config/redaction.py), and
  no SQL parameters in the query breadcrumbs.
"""

from typing import Any

from config.redaction import REDACTED, redact, redact_text

# The parts of an event that may carry a secret, redacted in free text (digits included); the rest of the event
# (ids, timestamps, the SDK's own fields, stack frames' file names and line numbers) is the SDK's and kept as it is.
FREE_TEXT_PARTS = ("message", "logentry", "exception", "threads", "extra", "contexts", "tags", "transaction")


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """before_send: the event without the desk's secrets (see the module's docstring)."""
    for part in FREE_TEXT_PARTS:
        if part in event:
            event[part] = redact(event[part], digits=True)
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        if isinstance(request.get("url"), str):
            request["url"] = redact_text(request["url"], digits=True)
        if request.get("query_string"):
            request["query_string"] = REDACTED
        if isinstance(request.get("headers"), dict):
            request["headers"] = redact(request["headers"], digits=True)
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {key: value for key, value in user.items() if key == "id"}
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict) and isinstance(breadcrumbs.get("values"), list):
        breadcrumbs["values"] = [scrub_breadcrumb(crumb) for crumb in breadcrumbs["values"]]
    return event


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """before_breadcrumb: a log line's or a query's breadcrumb without its secrets (SQL parameters dropped)."""
    if isinstance(crumb.get("data"), dict):
        crumb["data"] = {key: value for key, value in crumb["data"].items() if key not in {"params", "db.params"}}
    return redact(crumb, digits=True)


def start_error_reports(dsn: str, *, environment: str, release: str | None) -> None:
    """sentry_sdk.init with the Django and Celery integrations and the scrubbers above."""
    # Only with SENTRY_DSN set: sentry-sdk loads for error reports alone.
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=0,
    )
