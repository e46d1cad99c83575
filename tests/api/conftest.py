"""Fixtures for the API tests: token-authenticated clients, fresh throttle counters for every test, and an
account holding one of everything."""

from types import SimpleNamespace

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services as provisioning
from tests.factories import PIN
from tickets import services
from tickets.models import Comment


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the cache; a test must not inherit another test's requests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for():
    """`client_for(user)` is an APIClient sending that user's token; `client_for(None)` is anonymous."""

    def build(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return build


@pytest.fixture
def world(cast):
    """A Kixie account with a number, a spare number, a license, an add-on, an invoice, a card, and a port-out
    with an internal and a public comment."""
    people = cast("kixie")
    account = people.account
    number = provisioning.add_number(account=account, number="+14155550111")
    spare = provisioning.add_number(account=account, number="+14155550112")
    provisioning.add_license(account=account, product="agent_seat", quantity=5)
    provisioning.add_addon(account=account, product="call_insights")
    provisioning.add_invoice(account=account, amount="20.00", due_date="2030-01-01", status="paid")
    provisioning.set_card(account=account, brand="Visa", last4="4242")
    ticket = services.submit_ticket(
        account=account,
        kind="port_out",
        requester=people.owner,
        channel="api",
        request=services.Request(
            numbers=[number.pk], gaining_carrier="Telnyx", authorized_name=people.owner.full_name, pin=PIN
        ),
    )
    Comment.objects.create(ticket=ticket, author=people.agent, body="Internal", public=False)
    Comment.objects.create(ticket=ticket, author=people.agent, body="We are on it", public=True)
    return SimpleNamespace(people=people, account=account, spare=spare, ticket=ticket)
