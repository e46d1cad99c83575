"""The inbound API says what it returns (issue 24, "The rest"): a message without a sender address is `from: null`,
never `""` under a schema that says `format: email`."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application
from tests.inbound.conftest import email_bytes
from tickets.inbound.services import receive

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    application,
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}),
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # As in tests/api/test_schema_fuzz.py: the raw WSGI handler would close the test's connection (PostgreSQL).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_a_message_without_a_sender_is_from_null_as_the_schema_says(cast):
    """Context bullet "Elsewhere": GET /api/v1/inbound/ returned `from: ""`, which breaks the schema's format email."""
    manager = cast("avoxi").manager
    receive(email_bytes(sender="undisclosed-recipients:;", subject="No sender"), source="file")
    receive(email_bytes(sender="Pat <pat@customer.test>", subject="A sender"), source="file")
    case = schema["/api/v1/inbound/"]["GET"].Case()
    response = case.call(headers={"Authorization": f"Token {Token.objects.create(user=manager).key}"})
    assert response.status_code == 200
    listed = response.json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert {row["subject"]: row["from"] for row in rows} == {"No sender": None, "A sender": "pat@customer.test"}
    case.validate_response(response, checks=[response_schema_conformance])
