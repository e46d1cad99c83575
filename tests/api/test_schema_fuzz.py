"""schemathesis over the whole OpenAPI schema: no server error, every response as the schema documents it.

Runs as a support manager (every operation is open to them) and as an account owner (the customer's side), on
SQLite and on PostgreSQL.
"""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from accounts import services as provisioning
from config.wsgi import application
from tests.factories import PIN
from tickets import services


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


@pytest.fixture
def fuzz_world(cast):
    """Objects with low ids, so generated ids sometimes hit real rows as well as missing ones."""
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
    return people


# Loaded at collection: the schema view needs no database. The coverage phase spends minutes building boundary
# cases for this schema's string formats; the examples and fuzzing phases run in seconds.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    application,
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}),
)

# Every check but the stateful ones (use_after_free, ensure_resource_availability: no DELETE here) and
# positive_data_acceptance (a schema-valid request may still be refused by a rule, e.g. 409 invalid_state).
schemathesis.checks.load_all_checks()
CHECKS = schemathesis.checks.CHECKS.get_by_names(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
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
    case.call_and_validate(headers={"Authorization": f"Token {_token(fuzz_world.manager)}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_schema_for_a_customer(case, fuzz_world):
    case.call_and_validate(headers={"Authorization": f"Token {_token(fuzz_world.owner)}"}, checks=CHECKS)
