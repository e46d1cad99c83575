"""Sign-in lockout (django-axes) and the form rate limits on sign-in and password reset."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD

LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"


def sign_in(client, email: str, password: str, **extra):
    return client.post(LOGIN, {"username": email, "password": password}, **extra)


def test_five_failed_sign_ins_lock_the_email_out_even_with_the_right_password(cast, client, lockout_on, settings):
    people = cast("kixie")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, people.owner.email, "wrong").status_code == 200  # the form again, with its error
    assert sign_in(client, people.owner.email, "wrong").status_code == 429
    response = sign_in(client, people.owner.email, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_email_and_address(cast, client, lockout_on, settings):
    people = cast("kixie")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, people.owner.email, "wrong")
    # Someone else at the same address, and the same person from elsewhere, still sign in.
    assert sign_in(client, people.member.email, PASSWORD).status_code == 302
    client.logout()
    assert sign_in(client, people.owner.email, PASSWORD, REMOTE_ADDR="10.0.0.9").status_code == 302


def test_the_email_is_matched_whatever_its_case(cast, client, lockout_on, settings):
    people = cast("kixie")
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, people.owner.email.upper() if i % 2 else people.owner.email, "wrong")
    assert sign_in(client, people.owner.email, PASSWORD).status_code == 429


def test_a_successful_sign_in_clears_earlier_failures(cast, client, lockout_on, settings):
    people = cast("kixie")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, people.owner.email, "wrong")
    assert sign_in(client, people.owner.email, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, people.owner.email, "wrong")
    assert sign_in(client, people.owner.email, PASSWORD).status_code == 302


def test_admin_sign_in_is_locked_out_too(cast, client, lockout_on, settings):
    people = cast("kixie")
    admin_login = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(admin_login, {"username": people.agent.email, "password": "wrong"})
    assert client.post(admin_login, {"username": people.agent.email, "password": PASSWORD}).status_code == 429


def test_api_token_requests_share_the_lockout(cast, client_for, lockout_on, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth_token": "1000/minute"},
    }
    people = cast("kixie")
    api = client_for(None)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = api.post(TOKEN, {"email": people.owner.email, "password": "wrong"}, format="json")
        assert response.status_code == 400
    api.post(TOKEN, {"email": people.owner.email, "password": "wrong"}, format="json")
    locked = api.post(TOKEN, {"email": people.owner.email, "password": PASSWORD}, format="json")
    assert locked.status_code == 429
    assert "token" not in locked.content.decode()
    # The portal's sign-in form is locked for that email and address as well.
    assert sign_in(client_for(None), people.owner.email, PASSWORD).status_code == 429


# -- rate limits ---------------------------------------------------------------------------------------------


def test_sign_in_attempts_are_rate_limited_per_address(db, client, rate_limits_on, settings):
    settings.FORM_RATE_LIMITS = {**settings.FORM_RATE_LIMITS, "login": "3/minute"}
    statuses = [sign_in(client, f"nobody{i}@example.test", "wrong").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert sign_in(client, "nobody@example.test", "wrong", REMOTE_ADDR="10.0.0.7").status_code == 200


def test_sign_in_attempts_are_rate_limited_per_email(db, client, rate_limits_on, settings):
    settings.FORM_RATE_LIMITS = {**settings.FORM_RATE_LIMITS, "login": "2/minute"}
    statuses = [
        sign_in(client, "target@example.test", "wrong", REMOTE_ADDR=f"10.0.1.{i}").status_code for i in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_password_reset_is_rate_limited_per_email_and_address(cast, client, rate_limits_on, settings):
    settings.FORM_RATE_LIMITS = {**settings.FORM_RATE_LIMITS, "password_reset": "2/hour"}
    people = cast("kixie")
    url = reverse("password_reset")
    statuses = [client.post(url, {"email": people.owner.email}).status_code for _ in range(3)]
    assert statuses == [302, 302, 429]
    assert len(mail.outbox) == 2
    response = client.post(url, {"email": people.owner.email}, REMOTE_ADDR="10.0.0.8")
    assert response.status_code == 429  # the same target from another address
    assert int(response.headers["Retry-After"]) == 3600


def test_rate_limits_leave_pages_alone(db, client, rate_limits_on, settings):
    settings.FORM_RATE_LIMITS = {**settings.FORM_RATE_LIMITS, "login": "1/minute"}
    assert [client.get(LOGIN).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("rate", ["20/minute", "5/hour", "1/s", "100/day"])
def test_rate_strings_parse(rate):
    from config.security import parse_rate

    count, seconds = parse_rate(rate)
    assert count > 0 and seconds in {1, 60, 3600, 86400}


def test_verification_bearing_api_requests_are_throttled_by_default(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["verification"] and rates["auth_token"]


@pytest.mark.django_db
def test_the_lockout_list_cleans_up_expired_attempts_from_its_action(client):
    # issue 14's crawler: django-axes' own list action was a 500 (it read an attribute only a sign-in sets).
    import datetime as dt

    from axes.models import AccessAttempt
    from django.utils import timezone

    from tests.factories import ManagerFactory

    stale = AccessAttempt.objects.create(
        username="someone@example.test", ip_address="203.0.113.9", user_agent="curl", failures_since_start=3
    )
    AccessAttempt.objects.filter(pk=stale.pk).update(attempt_time=timezone.now() - dt.timedelta(days=2))
    fresh = AccessAttempt.objects.create(
        username="other@example.test", ip_address="203.0.113.10", user_agent="curl", failures_since_start=1
    )
    client.force_login(ManagerFactory(is_superuser=True))
    url = reverse("admin:axes_accessattempt_changelist")
    response = client.post(url, {"action": "cleanup_expired_attempts", "_selected_action": str(fresh.pk)}, follow=True)
    assert response.status_code == 200
    assert "Cleaned up 1 expired access attempts." in response.content.decode()
    assert list(AccessAttempt.objects.values_list("pk", flat=True)) == [fresh.pk]
