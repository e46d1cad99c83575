"""A former member's way back in a real Chromium at 390 px (SPEC §4, "Account lifecycle"): the sign-in form leads
to the one page about the cancelled account, whose "Ask to reactivate" files the request; nothing is wider than
the phone. Screenshots go to test-artifacts/portal/."""

import pytest
from playwright.sync_api import expect

from tests.former_members import cancel
from tickets.models import Kind, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_former_kustomer_owner_asks_to_reactivate_at_phone_width(presets, cast, page, browser_login, shoot):
    # rule U7, K9
    people = cast("kustomer")
    people.policy.support_email = "billing@kustomer.test"
    people.policy.save()
    account = cancel(people)
    page.set_viewport_size({"width": 390, "height": 844})

    browser_login(page, people.owner)
    expect(page.get_by_role("heading", name="Your cancelled account")).to_be_visible()
    expect(page.get_by_text(f"Its data is deleted on {account.purge_after:%-d %B %Y}.")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "former-member-01-page")

    page.get_by_role("button", name="Ask to reactivate").click()
    expect(page.get_by_text(f"We have your request to reactivate {account.name}")).to_be_visible()
    expect(page.get_by_role("button", name="Ask to reactivate")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "former-member-02-asked")
    assert Ticket.objects.filter(account=account, kind=Kind.REACTIVATION, requester=people.owner).count() == 1
