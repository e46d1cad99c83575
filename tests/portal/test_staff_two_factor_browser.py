"""Staff two-factor in a real Chromium: a demo manager signs in with the password and a TOTP code the test computes
from the secret `manage.py demo` prints (issue 15)."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.totp import totp
from tickets.management.commands.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MANAGER = "manager@exitdesk.demo"


def test_a_demo_manager_signs_in_with_a_totp_code(presets, live_server, page, settings, shoot):
    settings.STAFF_OTP_REQUIRED = True
    out = io.StringIO()
    call_command("demo", stdout=out, stderr=io.StringIO())
    # The demo prints each staff user's secret beside the login: "  manager@exitdesk.demo  <base32 secret>".
    secret = re.search(rf"^\s+{re.escape(MANAGER)}\s+([A-Z2-7]{{16,}})\s*$", out.getvalue(), re.MULTILINE).group(1)

    page.goto(f"{live_server.url}/queues/")
    page.get_by_label("Email address").fill(MANAGER)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The password alone leads to the code page, not the queues.
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    shoot(page, "staff-2fa-01-code")
    page.get_by_label("Code from your authenticator app").fill(totp(secret))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/queues/$"))
    shoot(page, "staff-2fa-02-queues")
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Agent desk")).to_be_visible()  # the desk's own title (issue 17)
