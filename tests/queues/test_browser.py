"""The queue pages in a real Chromium at a laptop's width and a phone's: nothing wider than the window, charts
readable. Screenshots go to test-artifacts/queues/ (ignored by git) for review."""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from accounts import services as provisioning
from tests.portal.conftest import browser_context_args, browser_type_launch_args  # noqa: F401
from tests.queues.conftest import bulk_tickets
from tickets.models import ExitReason, RetentionOutcome

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "queues"
LONG_NAME = "Northwind Telecommunications International Holdings Limited Partnership"


def sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def desk(cast):
    people = cast("kixie")
    wide = provisioning.create_account(name=LONG_NAME, plan=people.plan, port_out_pin="1234")
    now = timezone.now()
    bulk_tickets(wide, 60, assignee=people.agent, now=now)
    bulk_tickets(people.account, 20, now=now - dt.timedelta(days=20))
    RetentionOutcome.objects.bulk_create(
        RetentionOutcome(
            account=wide,
            plan=people.plan,
            reason=ExitReason.values[i % len(ExitReason.values)],
            offers_shown=["discount"] if i % 2 else [],
            outcome="kept" if i % 4 == 1 else "cancelled",
        )
        for i in range(9)
    )
    return people


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("path", ["/queues/", "/queues/list/", "/queues/insights/", "/queues/list/?state=all"])
def test_queue_pages_fit_the_window(desk, live_server, page, width, path):
    # Issue 17: /queues/list/ was 1,743 px wide in a 1,280 px window; wide tables scroll inside their own box.
    sign_in(page, live_server, desk.manager)
    page.set_viewport_size({"width": width, "height": 900})
    response = page.goto(f"{live_server.url}{path}")
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "overview"
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)


def test_account_names_stay_readable_on_a_laptop(desk, live_server, page):
    # Issue 17: account names wrapped over five lines in the queue's table.
    sign_in(page, live_server, desk.manager)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/queues/list/")
    name = page.get_by_text(LONG_NAME).first
    box = name.bounding_box()
    line = float(name.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20"))
    assert box["height"] <= 3.2 * line  # a 72-character name in at most three lines (it took five)
