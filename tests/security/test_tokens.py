"""API tokens die with the password and with the staff member's second factor; staff tokens expire (issue 24,
"Elsewhere": tokens kept working after a password reset, staff tokens never expired and were not tied to the
second factor). accounts/tokens.py decides."""

import datetime as dt
import re
import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import two_factor
from tests.factories import PASSWORD
from tests.totp import totp

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
NEW_PASSWORD = "a-new-pass-2026"


def _token(email: str, password: str = PASSWORD, **extra) -> str:
    response = APIClient().post(TOKEN, {"email": email, "password": password, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_password_reset_ends_the_users_api_tokens(cast):
    people = cast("kixie")
    key = _token(people.owner.email)
    assert _api(key).get("/api/v1/tickets/").status_code == 200
    client = Client()
    client.post(reverse("password_reset"), {"email": people.owner.email})
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[-1].body).group(1)
    done = client.post(client.get(link).url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.url == reverse("password_reset_complete")

    refused = _api(key).get("/api/v1/tickets/")
    assert refused.status_code == 401 and not Token.objects.filter(key=key).exists()
    # The new password gets a new token, which works.
    assert _api(_token(people.owner.email, NEW_PASSWORD)).get("/api/v1/tickets/").status_code == 200


def test_a_password_change_ends_the_users_api_tokens(cast):
    people = cast("avoxi")
    key = _token(people.billing_admin.email)
    client = Client()
    client.force_login(people.billing_admin)
    changed = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.url == reverse("password_change_done")
    assert _api(key).get("/api/v1/tickets/").status_code == 401
    # Someone else's token is untouched.
    other = _token(people.owner.email)
    assert _api(other).get("/api/v1/tickets/").status_code == 200


def test_a_staff_token_expires_after_staff_token_days_and_a_customers_does_not(cast, settings):
    people = cast("kixie")
    settings.STAFF_TOKEN_DAYS = 7
    staff_key = _token(people.agent.email)
    customer_key = _token(people.owner.email)
    eight_days_ago = timezone.now() - dt.timedelta(days=8)
    Token.objects.filter(key__in=[staff_key, customer_key]).update(created=eight_days_ago)

    expired = _api(staff_key).get("/api/v1/tickets/")
    assert expired.status_code == 401 and expired.json()["code"] == "token_expired"
    assert expired["WWW-Authenticate"] == "Token"
    assert _api(customer_key).get("/api/v1/tickets/").status_code == 200
    # Asking again replaces the expired token with a working one.
    fresh = _token(people.agent.email)
    assert fresh != staff_key and _api(fresh).get("/api/v1/tickets/").status_code == 200


def test_a_staff_token_within_staff_token_days_works(cast, settings):
    people = cast("kixie")
    settings.STAFF_TOKEN_DAYS = 30
    key = _token(people.manager.email)
    Token.objects.filter(key=key).update(created=timezone.now() - dt.timedelta(days=29))
    assert _api(key).get("/api/v1/tickets/").status_code == 200


def test_removing_the_staff_members_authenticator_ends_their_token(cast, settings):
    settings.STAFF_OTP_REQUIRED = True
    people = cast("kixie")
    device = two_factor.create_authenticator(people.manager)
    key = _token(people.manager.email, otp=totp(two_factor.secret_of(device), at=time.time() - 30))
    assert _api(key).get("/api/v1/tickets/").status_code == 200

    device.delete()  # a lost phone: the authenticator is removed

    assert _api(key).get("/api/v1/tickets/").status_code == 401
    # A new authenticator, a new code: a new token.
    secret = two_factor.secret_of(two_factor.create_authenticator(people.manager, name="New phone"))
    assert _api(_token(people.manager.email, otp=totp(secret))).get("/api/v1/tickets/").status_code == 200
