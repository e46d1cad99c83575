"""What DRF's settings name (`REST_FRAMEWORK` in config/settings.py): the JSON parser, the paginator and the
exception handler, and nothing else.

DRF imports these while it is still importing itself: `APIView` reads `DEFAULT_PARSER_CLASSES` when its class is
created, DRF's pagination system check reads `DEFAULT_PAGINATION_CLASS`. So this module may import only DRF
modules that resolve no named class at import time (exceptions, pagination, parsers, settings); a module that
imported `rest_framework.views` here would be half imported when DRF asked it for its parser, and whichever
process imported DRF in that order (Celery beat, whose Django fixup runs the system checks first) would die at
start-up. tests/test_processes.py imports each named class first, in a fresh interpreter, and starts the processes.
"""

import json

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, parsers
from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings

from accounts.exceptions import Refusal

# -- parsing ---------------------------------------------------------------------------------------------------


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with a 400 (not a 500) what it lets through: nesting deep enough to exhaust
    Python's recursion limit, and text with lone surrogates (`"\\ud800"`), which no response can echo as UTF-8."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
        except UnicodeEncodeError as exc:
            raise exceptions.ParseError("JSON parse error - text must be valid Unicode (no lone surrogates).") from exc
        return data


# -- pages -----------------------------------------------------------------------------------------------------


class Pagination(PageNumberPagination):
    """DRF's page numbers, but `?page=` must be a page number when given (an empty one is not page 1)."""

    def paginate_queryset(self, queryset, request, view=None):
        page = request.query_params.get(self.page_query_param)
        if page is not None and not (page.isascii() and page.isdigit() and int(page) >= 1):
            raise exceptions.NotFound("Invalid page: give a page number from 1.")
        return super().paginate_queryset(queryset, request, view)


# -- errors ----------------------------------------------------------------------------------------------------

# The key of a request still being processed: a conflict with that request, whatever the endpoint.
IN_FLIGHT_CODES = {"idempotency_key_in_use", "busy"}


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, messages in _flatten(value).items():
                    out[f"{key}.{sub}"] = messages
            else:
                out[str(key)] = [str(m) for m in (value if isinstance(value, list) else [value])]
        return out
    return {api_settings.NON_FIELD_ERRORS_KEY: [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def _first_message(errors: dict[str, list[str]]) -> str:
    for key, messages in errors.items():
        for message in messages:
            return message if key == api_settings.NON_FIELD_ERRORS_KEY else f"{key}: {message}"
    return "Invalid request."


def _status_of(refusal: Refusal, view) -> int:
    """The refusal's own status, except on a view that submits requests (`refusals_are_bad_requests`): the fixed
    contract answers a submission with 201 or 400/403 (SPEC §5), so a guard's 409 (`license_minimum`,
    `already_requested`, ...) is a 400 there, with the same code."""
    status = refusal.http_status
    if status == 409 and getattr(view, "refusals_are_bad_requests", False) and refusal.code not in IN_FLIGHT_CODES:
        return 400
    return status


def exception_handler(exc, context):
    """Every error the API returns has the same shape: `{"code", "detail"}`, plus `errors` on a 400."""
    # DRF's own handler lives in rest_framework.views, which resolves the parser classes above when it is
    # imported: it is read here, when a request has failed and DRF is long since loaded.
    from rest_framework.response import Response
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, Refusal):
        body = exc.as_dict()
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=_status_of(exc, context.get("view")))
    if isinstance(exc, DjangoValidationError):  # the provisioning services refuse bad input this way
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        response.data = {"code": "invalid_request", "detail": _first_message(errors), "errors": errors}
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "detail": str(exc.detail),
        }
    return response
