"""The triage page in a real Chromium, at a phone's width and a laptop's: screenshots in test-artifacts/inbound/."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from tests.inbound.conftest import email_bytes
from tests.portal.conftest import browser_context_args, browser_type_launch_args  # noqa: F401
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "inbound"


def sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.mark.parametrize("width", [390, 1280])
def test_an_agent_turns_an_email_into_a_ticket_on_the_triage_page(cast, live_server, page, width, tasks_in_process):
    desk = cast("avoxi")
    long_subject = "Please cancel everything " + "really " * 30
    raw = email_bytes(sender=desk.owner.email, subject=long_subject, body="x" * 400, authenticated=True)
    message = receive(raw, source="file")
    receive(email_bytes(sender="stranger@nowhere.test", subject="Who am I"), source="file")
    # A member's address without authentication: its form asks how the requester was confirmed (issue 24).
    receive(email_bytes(sender=desk.member.email, subject="Cancel " + "the number " * 20), source="file")
    sign_in(page, live_server, desk.agent)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/queues/triage/")
    expect(page.get_by_text("Known customer", exact=True)).to_be_visible()
    expect(page.get_by_text("Sender not verified", exact=True).first).to_be_visible()
    expect(page.get_by_label("Requester confirmed")).to_be_visible()
    # Nothing wider than the window: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"triage-{width}.png"), full_page=True)
    form = page.get_by_role("form", name="Turn this email into a ticket").first
    form.get_by_label("Kind").select_option("account_cancellation")
    form.get_by_role("button", name="Create ticket").click()
    expect(page.get_by_text("was created from the email")).to_be_visible()
    message.refresh_from_db()
    assert message.status == InboundMessage.Status.CONVERTED and message.ticket.channel == "email"
