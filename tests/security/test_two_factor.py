"""Staff two-factor (SPEC §9; issue 15): a TOTP code on top of the password for the admin, the queues and tokens."""

import io
import time

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import two_factor
from tests.factories import PASSWORD
from tests.totp import totp

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def otp_on(settings):
    """The suite runs with STAFF_OTP_REQUIRED off (pyproject.toml); production and `make run` have it on."""
    settings.STAFF_OTP_REQUIRED = True


def _sign_in(user) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def test_a_staff_password_alone_opens_neither_the_admin_nor_the_queues_nor_a_token(cast):
    people = cast("kixie")
    secret = two_factor.secret_of(two_factor.create_authenticator(people.manager))
    client = _sign_in(people.manager)
    for path in ("/admin/", "/admin/tickets/ticket/", "/queues/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/accounts/two-factor/?next="), path
    api = client.get("/api/v1/tickets/")
    assert api.status_code == 403 and api.json()["code"] == "otp_required"
    refused = APIClient().post(TOKEN, {"email": people.manager.email, "password": PASSWORD}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "otp_required"
    assert not Token.objects.filter(user=people.manager).exists()

    # A current code (the previous 30-second step is still accepted) gets the token ...
    code = totp(secret, at=time.time() - 30)
    granted = APIClient().post(TOKEN, {"email": people.manager.email, "password": PASSWORD, "otp": code}, format="json")
    assert granted.status_code == 200 and granted.json()["token"]
    # ... and the next one opens the session's staff pages.
    verified = client.post("/accounts/two-factor/", {"otp_token": totp(secret), "next": "/queues/"})
    assert verified.status_code == 302 and verified.url == "/queues/"
    assert client.get("/queues/").status_code == 200
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/tickets/").status_code == 200


def test_a_wrong_or_replayed_code_is_refused(cast):
    people = cast("kixie")
    secret = two_factor.secret_of(two_factor.create_authenticator(people.agent))
    code = totp(secret)
    body = {"email": people.agent.email, "password": PASSWORD, "otp": code}
    assert APIClient().post(TOKEN, body, format="json").status_code == 200
    Token.objects.filter(user=people.agent).delete()
    replayed = APIClient().post(TOKEN, body, format="json")  # the same code again: refused (django-otp's last_t)
    assert replayed.status_code == 400 and replayed.json()["code"] == "otp_required"
    client = _sign_in(people.agent)
    current = {totp(secret, at=time.time() + drift) for drift in (-30, 0, 30)}
    wrong_code = next(c for c in ("000000", "111111", "222222", "333333") if c not in current)
    wrong = client.post("/accounts/two-factor/", {"otp_token": wrong_code, "next": "/admin/"})
    assert wrong.status_code == 400 and "not valid" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302
    assert not Token.objects.filter(user=people.agent).exists()


def test_a_staff_member_without_an_authenticator_is_told_how_to_get_one(cast):
    people = cast("kixie")
    client = _sign_in(people.agent)
    page = client.get("/accounts/two-factor/?next=/admin/")
    assert page.status_code == 200 and "manage.py staff_totp" in page.content.decode()
    assert client.post("/accounts/two-factor/", {"otp_token": "123456"}).status_code == 200
    assert client.get("/admin/").status_code == 302
    out = io.StringIO()
    call_command("staff_totp", people.agent.email, stdout=out)
    assert "otpauth://totp/" in out.getvalue() and two_factor.has_authenticator(people.agent)


def test_customers_sign_in_with_their_password_alone(cast):
    people = cast("kixie")
    client = _sign_in(people.owner)
    assert client.get(f"/a/{people.account.account_id}/").status_code == 200
    token = APIClient().post(TOKEN, {"email": people.owner.email, "password": PASSWORD}, format="json")
    assert token.status_code == 200


def test_an_integration_user_gets_its_token_from_manage_py(cast):
    people = cast("kixie")
    out = io.StringIO()
    call_command("mint_token", people.agent.email, stdout=out)
    key = out.getvalue().strip()
    assert Token.objects.get(user=people.agent).key == key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/tickets/").status_code == 200
    rotated = io.StringIO()
    call_command("mint_token", people.agent.email, "--rotate", stdout=rotated)
    assert rotated.getvalue().strip() != key and not Token.objects.filter(key=key).exists()


def test_the_demo_prints_each_staff_users_secret_and_provisioning_uri():
    out = io.StringIO()
    call_command("demo", stdout=out, stderr=io.StringIO())
    printed = out.getvalue()
    for email in ("agent@exitdesk.demo", "manager@exitdesk.demo", "csm@exitdesk.demo", "admin@exitdesk.demo"):
        assert f"otpauth://totp/Exitdesk%3A{email.replace('@', '%40')}" in printed, printed[-2000:]


def test_a_staff_session_cannot_pass_itself_off_with_another_authorization_scheme(cast):
    people = cast("kixie")
    client = _sign_in(people.manager)
    other_scheme = client.get("/api/v1/tickets/", HTTP_AUTHORIZATION="Basic bWFuYWdlcjpwYXNz")
    assert other_scheme.status_code == 403 and other_scheme.json()["code"] == "otp_required"
    bad_token = client.get("/api/v1/tickets/", HTTP_AUTHORIZATION="Token not-a-token")
    assert bad_token.status_code == 401  # the token decides, and the session is never read
