"""Production settings: `manage.py check --deploy` is clean, and the protections are on by default."""

import json

import pytest

from tests.processes import clean_env, run

PRODUCTION = {
    "SECRET_KEY": "k3y-for-the-deploy-check-only-8f2c1e9a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e1f0",
    "DEBUG": "false",
    "SECURE_HTTPS": "true",
    "ALLOWED_HOSTS": "desk.example.com",
}
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k)"
    " for k in ['AXES_ENABLED', 'FORM_RATE_LIMITS_ENABLED', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE',"
    " 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'X_FRAME_OPTIONS']}))"
)


def test_check_deploy_is_clean_under_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], clean_env(**PRODUCTION))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_https_settings():
    env = clean_env(**{**PRODUCTION, "SECURE_HTTPS": "false"})
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_production_settings_turn_everything_on():
    result = run(["-c", PROBE], clean_env(**PRODUCTION))
    assert json.loads(result.stdout) == {
        "AXES_ENABLED": True,
        "FORM_RATE_LIMITS_ENABLED": True,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "X_FRAME_OPTIONS": "DENY",
    }


def test_the_embedded_default_serves_plain_http_with_lockout_on():
    # `make run`: DEBUG on, http://127.0.0.1:8000; lockout and rate limits still on.
    result = run(["-c", PROBE], clean_env(DEBUG="true"))
    values = json.loads(result.stdout)
    assert values["AXES_ENABLED"] and values["FORM_RATE_LIMITS_ENABLED"]
    assert not values["SECURE_SSL_REDIRECT"] and not values["SESSION_COOKIE_SECURE"]


@pytest.mark.parametrize("name,value", [("SECURE_HTTPS", "maybe"), ("SIGNIN_RATE", "lots"), ("AXES_ENABLED", "2")])
def test_a_bad_value_stops_start_up(name, value):
    result = run(["-c", "import django; django.setup()"], clean_env(**{**PRODUCTION, name: value}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr


def test_security_headers_on_every_page(db, client):
    response = client.get("/accounts/login/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_api_docs_run_no_inline_script(admin_client):
    # The CSP allows scripts from this origin only: the docs page loads its start-up script as a file.
    page = admin_client.get("/api/docs/").content.decode()
    assert "<script>" not in page.replace(" ", "")
    assert "<script src=" in page
