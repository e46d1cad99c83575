"""Fixtures for the API tests: token-authenticated clients and fresh throttle counters for every test."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


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
