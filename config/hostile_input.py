"""Query strings and form posts that no page can use are refused with a 400 before any view reads them.

- A NUL byte in the path (`/a/AC-1%00/`): a 404, whatever the page. The portal's account pages, the request
  kinds and steps, the emailed links' tokens and the admin's object ids take path text to the database, where
  PostgreSQL cannot compare it (a DataError, so a 500) and SQLite finds nothing (a 404): no path holding one names
  anything, so it is answered before any view runs, the same on both databases.
- A NUL byte in a query string or a form post: PostgreSQL cannot store or compare it (a DataError, so a 500, on
  any filter that reaches the database, e.g. `?account=%00` on the queues or `?channel=%00` on an admin list).
  Form fields already refuse it; list filters, sorts and actions did not.
- A date hierarchy part (`<field>__year`, `__month`, `__day`) that is not a date the admin can step through:
  Django's admin computes the next year or month itself and fails past 9998 or on a number too large for a C
  integer (`?due_date__year=9999`), on our lists and on third-party ones (django-axes) alike.
- An empty `_to_field` (Django's admin looks up a field named ""): dropped, as if it were not given.
- An admin list action posted with ids that are not ids of the list's model: those select nothing.
- A cookie holding a NUL byte (PostgreSQL cannot compare a session key holding one): dropped, as if not sent, by
  `CookieMiddleware` before the session is read.
Form bodies are checked once the view is known (`process_view`), after the upload limits. The API validates its
own query strings and JSON bodies (DRF refuses a NUL in a text field), with the 400s its schema documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from config.ids import as_id

_DATE_PART = re.compile(r"__(year|month|day)$")
_RANGES = {"year": (1, 9998), "month": (1, 12), "day": (1, 31)}


def _bad_date_part(name: str, value: str) -> bool:
    match = _DATE_PART.search(name)
    if match is None:
        return False
    low, high = _RANGES[match.group(1)]
    return not (value.isascii() and value.isdigit() and len(value) <= 4 and low <= int(value) <= high)


def problem(query) -> str | None:
    """Why this QueryDict cannot be used, or None."""
    for name, values in query.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return "A NUL character is not allowed in a request."
        if any(_bad_date_part(name, value) for value in values):
            return f"{name} is not a date part this list can show."
    return None


class RequestSizeMiddleware:
    """A request whose Content-Length says it is larger than `REQUEST_MAX_MB` is answered 413 before its body is
    read: a 60 MB upload used to be read in full before the form said the file was too large."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads an unparsable length as an empty body
        limit = settings.REQUEST_MAX_MB * 1024 * 1024
        if length > limit:
            detail = (
                f"The request is larger than {settings.REQUEST_MAX_MB} MB; attach files of 5 MB at most, one at a time."
            )
            if request.path.startswith("/api/"):
                response = JsonResponse({"code": "too_large", "detail": detail}, status=413)
            else:
                response = HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
            # No `Connection: close`: a WSGI application may not set a hop-by-hop header (PEP 3333); Django's own
            # server (`make run`) failed the response with a 500 over it, and gunicorn drops it. The server decides
            # what becomes of the unread body; the application reads none of it.
            return response
        return self.get_response(request)


class CookieMiddleware:
    """Drops every cookie whose name or value holds a NUL byte, before sessions, CSRF or anything else reads them: a
    forged session cookie then reads as no session (sign in again), never as a database error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.META.get("HTTP_COOKIE", ""):
            request.COOKIES = {
                name: value for name, value in request.COOKIES.items() if "\x00" not in name and "\x00" not in value
            }
        return self.get_response(request)


class HostileInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return _not_found(request)
        # The API validates its own parameters, with the 400s its schema documents (tickets/api).
        reason = None if request.path.startswith("/api/") else problem(request.GET)
        if reason is not None:
            return _refuse(request, reason)
        if request.GET.get("_to_field", None) == "":
            request.GET = request.GET.copy()
            del request.GET["_to_field"]
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        """Form posts, once the view is known (CSRF reads the same parsed body; the upload limits came first)."""
        if request.method != "POST" or request.content_type not in FORM_TYPES or request.path.startswith("/api/"):
            return None  # the API takes JSON only and validates it itself
        reason = problem(request.POST)
        if reason is not None:
            return _refuse(request, reason)
        model_admin = getattr(view_func, "model_admin", None)
        if model_admin is not None and ACTION_CHECKBOX_NAME in request.POST:
            # A list action on values that are not ids of this model: they select nothing (Django's admin would
            # compare them with the primary key and fail with a ValueError).
            pk = model_admin.model._meta.pk
            values = request.POST.getlist(ACTION_CHECKBOX_NAME)
            kept = [value for value in values if _is_key(pk, value)]
            if kept != values:
                request.POST = request.POST.copy()
                request.POST.setlist(ACTION_CHECKBOX_NAME, kept)
        return None


FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def _is_key(pk, value: str) -> bool:
    if isinstance(pk, models.AutoField | models.BigAutoField | models.IntegerField):
        return as_id(value) is not None
    try:
        pk.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    return len(value) <= (pk.max_length or 1000)


def _refuse(request: HttpRequest, reason: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "invalid_request", "detail": reason}, status=400)
    return HttpResponseBadRequest(reason, content_type="text/plain; charset=utf-8")


def _not_found(request: HttpRequest) -> HttpResponse:
    """The site's own 404: the API's JSON error, or the 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "No such API path."}, status=404)
    raise Http404("No such page.")
