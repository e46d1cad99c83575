"""schemathesis over the whole OpenAPI schema: no server error, every response as the schema documents it.

Runs as a support manager (every operation is open to them) and as an account owner (the customer's side), on
SQLite and on PostgreSQL.
"""

import datetime as dt
import re

import pytest
import schemathesis
import time_machine
from django.core import signals
from django.db import close_old_connections
from django.db.models import Min
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts import services as provisioning
from accounts.models import Account, User
from billing.models import AddOn, License, Plan
from config.wsgi import application
from numbers.models import PhoneNumber
from tests.factories import PIN
from tickets import services
from tickets.inbound.models import InboundMessage
from tickets.models import Ticket
from tickets.webhooks.models import WebhookEndpoint


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # The raw WSGI handler closes the connection at the end of each request, which on PostgreSQL drops the test's
    # transaction; Django's own test client disconnects the same receivers.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    # A throttled request answers 429 before its content is checked; throttles have their own tests.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth_token": "100000/minute", "verification": "100000/minute"},
    }


# A fixed clock (a Tuesday morning in every preset's intake hours): a generated date is in the past or not whatever
# the day the suite runs on.
FUZZ_CLOCK = dt.datetime(2026, 6, 2, 16, 0, tzinfo=dt.UTC)


@pytest.fixture
def fuzz_world(cast):
    """The fuzz's own world, at a fixed time. Generated ids are read relative to it (`rebase_ids`), so they hit its
    rows as well as missing ones whatever ids the tests before it used up."""
    with time_machine.travel(FUZZ_CLOCK):
        people = _build_world(cast)
        people.id_bases = {model: (model.objects.aggregate(low=Min("pk"))["low"] or 1) - 1 for model in ID_MODELS}
        yield people


def _build_world(cast):
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+14155550161")
    provisioning.add_license(account=people.account, product="agent_seat", quantity=3)
    provisioning.set_card(account=people.account, brand="Visa", last4="4242")
    services.submit_ticket(
        account=people.account,
        kind="port_out",
        requester=people.owner,
        channel="api",
        request=services.Request(
            numbers=[number.pk], gaining_carrier="Telnyx", authorized_name=people.owner.full_name, pin=PIN
        ),
    )
    # A webhook endpoint to read, change, rotate and resend (a literal address: nothing is resolved or connected to).
    WebhookEndpoint.objects.create(url="https://203.0.113.10/hooks", events=["*"], created_by=people.manager)
    return people


ID_MODELS = (Account, Ticket, InboundMessage, User, License, PhoneNumber, AddOn, Plan, WebhookEndpoint)
# Which table an id names: the path's `{id}` by the path's collection, a body or query field by its name.
PATH_MODELS = {
    "/api/v1/accounts/": Account,
    "/api/v1/tickets/": Ticket,
    "/api/v1/inbound/": InboundMessage,
    "/api/v1/webhook-endpoints/": WebhookEndpoint,
}
FIELD_MODELS = {
    "account": Account,
    "requester": User,
    "assignee": User,
    "license": License,
    "number": PhoneNumber,
    "numbers": PhoneNumber,
    "addon": AddOn,
    "plan": Plan,
}


# Larger ids name no row whatever the sequences; left as drawn, they keep the schema's bounds (a 64-bit integer).
REBASED_UP_TO = 1_000_000


def rebase_ids(case, bases: dict) -> None:
    """Read every generated id n ≥ 1 as the n-th row of its table in the fuzz's world (rows before it are gone, rolled
    back or flushed, but the sequences they used up are not), so the same draw meets the same rows in any order."""

    def rebased(value, model):
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= REBASED_UP_TO:
            return bases[model] + value
        if isinstance(value, list):
            return [rebased(item, model) for item in value]
        return value

    if isinstance(case.path_parameters, dict) and "id" in case.path_parameters:
        model = next(m for prefix, m in PATH_MODELS.items() if case.path.startswith(prefix))
        case.path_parameters["id"] = rebased(case.path_parameters["id"], model)
    for fields in (case.body, case.query):
        if isinstance(fields, dict):
            for key, model in FIELD_MODELS.items():
                if key in fields:
                    fields[key] = rebased(fields[key], model)


# Loaded at collection: the schema view needs no database. The coverage phase spends minutes building boundary
# cases for this schema's string formats; the examples and fuzzing phases run in seconds.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    application,
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}),
)

# A refusal the schema cannot state, as the operation's description lists it: "- 400 `code`: ..." for a rule with its
# own code, "- 400 `invalid_request` on `field`, `field`: ..." for a field's rule (README, REST API).
DOCUMENTED_RULE = re.compile(r"^- (?P<status>\d{3}) `(?P<code>\w+)`(?: on (?P<fields>`\w+`(?:, `\w+`)*))?:", re.M)


NUL_REFUSED = "Null characters are not allowed."


def _documented_refusal(case, response) -> bool:
    """Whether the response is a refusal its operation's description lists as a business rule, or the API-wide one
    its schema's description states: text holding a NUL character is refused (a JSON schema cannot say so)."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    errors = body.get("errors") or {}
    api_wide = case.operation.schema.raw_schema.get("info", {}).get("description", "")
    if response.status_code == 400 and "NUL character" in api_wide:
        # The API-wide refusal excuses the fields it alone refused; any other field's refusal must be documented.
        nul_only = {field for field, messages in errors.items() if messages and set(messages) == {NUL_REFUSED}}
        if nul_only and nul_only == set(errors):
            return True
        errors = {field: messages for field, messages in errors.items() if field not in nul_only}
    fields = set(errors) | ({body["field"]} if body.get("field") else set())
    for rule in DOCUMENTED_RULE.finditer(case.operation.definition.raw.get("description", "")):
        if int(rule["status"]) != response.status_code or rule["code"] != body.get("code"):
            continue
        if rule["fields"] is None or (fields and fields <= set(re.findall(r"`(\w+)`", rule["fields"]))):
            return True
    return False


@schemathesis.check
def positive_data_acceptance_but_documented_rules(ctx, response, case):
    """positive_data_acceptance, except for a refusal the operation documents as a business rule."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if not _documented_refusal(case, response):
            raise
    return None


# Every check schemathesis has, with positive_data_acceptance narrowed to undocumented refusals.
schemathesis.checks.load_all_checks()


def as_form(case) -> None:
    """A multipart body (a file upload) is a form: names and values. A negative draw of another JSON type (a list, a
    number) is no form any client could send, and werkzeug's test client fails building it before any request: it is
    sent as an empty form, just as invalid (the file is required)."""
    if case.media_type == "multipart/form-data" and not isinstance(case.body, dict):
        case.body = {}


CHECKS = schemathesis.checks.CHECKS.get_by_names(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance_but_documented_rules",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
        "use_after_free",
        "ensure_resource_availability",
    ]
)


def _token(user) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


FUZZ = settings(
    max_examples=15,
    derandomize=True,  # the same examples every run: CI must not turn red on a lucky draw
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_schema_for_staff(case, fuzz_world):
    rebase_ids(case, fuzz_world.id_bases)
    as_form(case)
    case.call_and_validate(headers={"Authorization": f"Token {_token(fuzz_world.manager)}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_schema_for_a_customer(case, fuzz_world):
    rebase_ids(case, fuzz_world.id_bases)
    as_form(case)
    case.call_and_validate(headers={"Authorization": f"Token {_token(fuzz_world.owner)}"}, checks=CHECKS)
