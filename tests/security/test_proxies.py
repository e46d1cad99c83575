"""The client address behind our proxies (TRUSTED_PROXY_COUNT): taken from X-Forwarded-For counted from the right,
so each client behind a proxy has its own limits and nobody escapes one by writing the header themselves."""

from rest_framework.test import APIClient

from tests.factories import PASSWORD

from .test_lockout import sign_in

PROXY = {"REMOTE_ADDR": "10.0.0.1"}


def behind_proxy(settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def test_without_a_trusted_proxy_a_forwarded_header_changes_nothing(db, client, rate_limits_on, settings):
    settings.FORM_RATE_LIMITS = {**settings.FORM_RATE_LIMITS, "login": "2/minute"}
    statuses = [
        sign_in(client, f"n{i}@example.test", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_behind_a_proxy_each_client_has_its_own_sign_in_limit(db, client, rate_limits_on, settings):
    behind_proxy(settings)
    settings.FORM_RATE_LIMITS = {**settings.FORM_RATE_LIMITS, "login": "2/minute"}
    # One client writing addresses of its own into the header: the proxy appends the one it saw, and that counts.
    statuses = [
        sign_in(
            client, f"a{i}@example.test", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.5", **PROXY
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert sign_in(client, "b@example.test", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.6", **PROXY).status_code == 200


def test_behind_a_proxy_the_lockout_is_per_client(cast, client, lockout_on, settings):
    behind_proxy(settings)
    people = cast("kixie")
    attacker = {"HTTP_X_FORWARDED_FOR": "203.0.113.5", **PROXY}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, people.owner.email, "wrong", **attacker)
    assert sign_in(client, people.owner.email, PASSWORD, **attacker).status_code == 429
    # The owner, behind the same proxy from their own address, is not locked out by someone else's guesses.
    owner = sign_in(client, people.owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6", **PROXY)
    assert owner.status_code == 302


def test_behind_a_proxy_the_api_token_throttle_is_per_client(db, settings):
    behind_proxy(settings)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth_token": "2/minute"},
    }
    body = {"email": "x@example.test", "password": "wrong"}

    def token(address: str) -> int:
        client = APIClient(HTTP_X_FORWARDED_FOR=address, **PROXY)
        return client.post("/api/v1/auth/token/", body, format="json").status_code

    assert [token("203.0.113.5") for _ in range(3)] == [400, 400, 429]
    assert token("203.0.113.6") == 400
