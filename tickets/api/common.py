"""What every API view shares: the error responses the schema documents, who sees which account, ids, throttles.

The `{"code", "detail"}` format itself is made in tickets/api/drf_hooks.py, which DRF's settings name. Refusals
keep the workflow's codes and statuses (`Refusal.http_status`: 403 role, 400 request content, 409 state or guard;
a submission's guard refusals are 400, as the fixed contract has it). Anything belonging to an account the caller
is not on is a 404, never a 403, so ids reveal nothing.
"""

import copy

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import Account
from config.ids import MAX_ID
from tickets import access

# -- errors ----------------------------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. invalid_state, role_not_allowed.")
    detail = serializers.CharField(help_text="A sentence for people.")
    field = serializers.CharField(required=False, help_text="The request field the refusal is about, if one.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="400 only: the messages for each request field.",
    )


_DESCRIPTIONS = {
    400: "The request's content is invalid (field errors in `errors`) or refused by a rule about its content.",
    401: "Not signed in: send `Authorization: Token <key>` or a session cookie.",
    403: "Signed in, but the caller's role may not do this.",
    404: "No such object among those the caller may see (another account's objects are 404, never 403).",
    409: "The ticket's state or one of the policy's guards refuses it; `code` says which.",
    429: "Too many requests; retry after the `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code]) for code in codes}


@csrf_exempt  # a 404 whatever the method: without this an unmatched POST would get the HTML CSRF page
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Unmatched paths under /api/ (a negative or oversized id, a typo) answer in the API's own format."""
    return JsonResponse({"code": "not_found", "detail": "No such API path."}, status=status.HTTP_404_NOT_FOUND)


# -- who sees what: tickets.access decides, these helpers turn its answers into 403 and 404 ------------------------


class DeskPermission(BasePermission):
    """The staff side of the API holds the admin's Django permissions: a view names the permission each method
    needs (`staff_permissions`), and staff without it get a 403 (staff in no group hold none). Customers pass
    here: what they see and do is decided object by object by tickets.access."""

    def has_permission(self, request, view) -> bool:
        if request.user.is_authenticated and not hasattr(view, request.method.lower()):
            return True  # a method the endpoint does not have: the view answers 405, as for anyone signed in
        return access.api_allows(request.user, getattr(view, "staff_permissions", {}), request.method)


def account_for(request, pk: int, *, part: str | None = None, provision: str | None = None) -> Account:
    """The account at `pk` if the caller may see it (else 404); 403 when they see it but may not read `part` of it
    (invoices and the card need a billing role, U1) or provision `provision` on it (staff with the permission)."""
    account = access.accounts_for(request.user).select_related("plan__policy").filter(pk=pk).first()
    if account is None:
        raise Http404
    if part is not None and not access.may_see_part(request.user, account, part):
        raise exceptions.PermissionDenied("Only members with access to billing & account info see this.")
    if provision is not None and not access.may_provision(request.user, provision):
        raise exceptions.PermissionDenied("You do not have permission to provision this.")
    return account


class FieldsBuiltOnce:
    """Mixed into a ModelSerializer: its fields are built from the model once per class, not once per instance.

    DRF's ModelSerializer reads the model's fields and builds a serializer field for each on every instance (a ticket
    has 33): on a ticket's creation that was about a sixth of the request. The fields built once are handed out as a
    deep copy, as DRF does with declared fields, so no instance shares a bound field with another. Only for
    serializers whose fields do not depend on the instance or the context.
    """

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built
        return copy.deepcopy(built)


class IdField(serializers.IntegerField):
    """A database id: a positive integer that fits a bigint, so no lookup overflows."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


@extend_schema_field(ID_SCHEMA)
class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to a row by its id, stated in the schema as a database id (a positive bigint)."""


class StrictFilterSet(filters.FilterSet):
    """A filter given with an empty value (`?created_before=`) is a 400, as the schema's types say, rather than
    no filter: leaving the parameter out is how a client asks for no filter. `ordering` is an array, which may be
    empty."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        data = self.data if self.is_bound else {}
        for name, filter_ in self.filters.items():
            if isinstance(filter_, filters.OrderingFilter):
                continue  # an array in the schema: empty is the default order
            values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)] if name in data else []
            if values and all(value == "" for value in values):
                self.form.add_error(name, "An empty value is not a filter: leave the parameter out.")
                valid = False
        return valid


class IdConverter:
    """`<id:pk>` in URLs: digits that fit a bigint; anything else does not match and falls to a JSON 404."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValueError(value)
        return number

    def to_url(self, value) -> str:
        return str(value)


# -- throttles -------------------------------------------------------------------------------------------------


class _SettingsRateThrottle(ScopedRateThrottle):
    """Reads its rate when asked, not at import, so settings changes (and tests) take effect."""

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}.")
        return rates[self.scope]


class TokenThrottle(_SettingsRateThrottle):
    """Token requests: counted by the client address (the caller is anonymous by definition)."""

    def allow_request(self, request, view) -> bool:
        view.throttle_scope = "auth_token"
        return super().allow_request(request, view)


class VerificationThrottle(_SettingsRateThrottle):
    """Requests carrying verification evidence (card digits, a typed word, a PIN): counted per user."""

    EVIDENCE = ("card_last4", "confirmation", "pin")

    def allow_request(self, request, view) -> bool:
        data = request.data if isinstance(request.data, dict) else {}
        carries = data.get("name") == "verify" or any(data.get(key) not in (None, "") for key in self.EVIDENCE)
        if request.method != "POST" or not carries:
            return True
        view.throttle_scope = "verification"
        return super().allow_request(request, view)


def require_request_bodies(result, generator, request, public):
    """drf-spectacular postprocessing hook: every POST and PUT body is required (an empty one is a 400). The
    polymorphic ticket body (a `oneOf` by kind) does not carry that on its own."""
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method in {"post", "put"} and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result


def business_rules(*rules: str, intro: str = "") -> str:
    """An operation's description listing the refusals a schema cannot state, one `- STATUS \\`code\\`[ on
    \\`field\\`]: rule` line each (the README's REST API section lists them too; tests/api/test_schema_fuzz.py
    excuses exactly these from positive_data_acceptance)."""
    lines = "\n".join(f"- {rule}" for rule in rules)
    return f"{intro}\n\nBusiness rules the schema cannot state (documented refusals):\n\n{lines}".lstrip()
