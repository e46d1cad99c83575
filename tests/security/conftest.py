"""Security fixtures: django-axes and the form rate limits switched back on, fresh counters, private media."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fresh_counters():
    # Rate-limit and throttle counters live in the cache; a test must not inherit another test's requests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def lockout_on(settings):
    """The suite runs with django-axes off (pyproject.toml); production and `make run` have it on."""
    settings.AXES_ENABLED = True


@pytest.fixture
def rate_limits_on(settings):
    settings.FORM_RATE_LIMITS_ENABLED = True


@pytest.fixture
def client_for():
    def build(user=None, **extra) -> APIClient:
        client = APIClient(**extra)
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return build
