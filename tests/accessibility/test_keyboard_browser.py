"""Keyboard only, in a real Chromium (issue 28, SPEC §6 "the main flows work by keyboard alone"): Tab, Shift+Tab,
Enter and Space move and act (text is typed into fields); at every stop the focused element shows its outline and is
not behind anything (tests/accessibility/keyboard.py), and the skip link leads into the main content."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from accounts import services as provisioning
from tests.accessibility.keyboard import Keyboard
from tests.factories import PASSWORD, PIN
from tickets.models import Comment, Kind, State, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, user) -> None:
    """The session cookie of a signed-in client: the sign-in form has a keyboard test of its own below."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def cancel_by_keyboard(page, keys: Keyboard, account) -> None:
    """From the dashboard to the finished cancellation, whatever steps the account's policy asks for."""
    keys.follow("Cancel this account")
    keys.submit("Start")
    for _ in range(8):
        heading = page.get_by_role("heading", level=1).inner_text()
        if "Cancellation" in heading and ("completed" in heading or "submitted" in heading):
            return
        if page.get_by_role("button", name="No thanks, continue cancelling").count():
            keys.submit("No thanks, continue cancelling")
        elif page.get_by_label("Type CONFIRM to confirm").count():
            keys.type_into("Type CONFIRM", "CONFIRM")
            keys.submit(f"Cancel {account.name}")
        elif page.get_by_role("button", name=f"Cancel {account.name}").count():
            keys.check_every_box(until=f"Cancel {account.name}")
            page.keyboard.press("Enter")
            page.wait_for_load_state()
        else:
            keys.check_every_box(until="Continue")
            with page.expect_navigation():
                page.keyboard.press("Enter")
    raise AssertionError(f"the cancellation did not finish: {page.url}")


@pytest.mark.parametrize("preset", ["smrtphone", "kustomer"])
def test_a_customer_cancels_the_account_by_keyboard_alone(presets, cast, live_server, page, preset):
    # rule S1 S2: the cancellation flow (smrtPhone's typed CONFIRM, Kustomer Essentials' confirmation box)
    people = cast(preset)
    # The owner also runs another account, so they keep a login once this one is cancelled (K8, U5).
    provisioning.add_member(account=people.other_account, email=people.owner.email, full_name="", role="member")
    sign_in(page, live_server, people.owner)
    page.goto(f"{live_server.url}/a/{people.account.account_id}/")
    keys = Keyboard(page)
    cancel_by_keyboard(page, keys, people.account)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancellation")
    assert Ticket.objects.filter(account=people.account, kind=Kind.ACCOUNT_CANCELLATION).exists()
    assert keys.stops > 10 and keys.problems == []


def test_a_customer_requests_a_port_out_by_keyboard_alone(presets, cast, live_server, page):
    # SPEC §6 accessibility, main flows by keyboard: a port-out request, numbers ticked with Space
    people = cast("avoxi")
    provisioning.add_number(account=people.account, number="+12025550142")
    sign_in(page, live_server, people.owner)
    page.goto(f"{live_server.url}/a/{people.account.account_id}/")
    keys = Keyboard(page)
    keys.follow(re.compile("^Port-out|^Port numbers"))
    keys.check_every_box(until="Gaining carrier", until_tag="input")  # the number's box
    page.keyboard.type("Telnyx")
    keys.type_into(re.compile("^Authorized"), "Kim Owner")
    keys.type_into(re.compile("PIN|Account number"), PIN)
    keys.submit("Request the port-out")
    ticket = Ticket.objects.get(account=people.account, kind=Kind.PORT_OUT)
    assert ticket.gaining_carrier == "Telnyx"
    assert keys.problems == []


def test_a_customer_comments_with_an_attachment_by_keyboard_alone(presets, cast, live_server, page, tmp_path):
    # SPEC §6 accessibility, main flows by keyboard: a comment and a file on the customer's own case
    people = cast("smrtphone")
    ticket = Ticket.objects.create(
        account=people.account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=people.owner,
        full_name="Kim Owner",
        contact=people.owner.email,
    )
    upload = tmp_path / "invoice.txt"
    upload.write_text("the gaining carrier asked for this")
    sign_in(page, live_server, people.owner)
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    keys = Keyboard(page)
    keys.tab_to("Attach a file", tag="input")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(upload))
    keys.submit("Attach")
    keys.type_into("Add a comment", "Here is the invoice they asked for.")
    keys.submit("Send")
    assert Comment.objects.filter(ticket=ticket, body="Here is the invoice they asked for.").exists()
    assert ticket.attachments.count() == 1
    assert keys.problems == []


def test_an_agent_verifies_a_ticket_in_the_desk_by_keyboard_alone(presets, cast, live_server, page):
    # SPEC §6 accessibility, main flows by keyboard: an agent verifies (SPEC §5) from the desk's ticket page
    people = cast("avoxi")
    ticket = Ticket.objects.create(
        account=people.account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=people.owner,
        full_name="Kim Owner",
        contact=people.owner.email,
    )
    sign_in(page, live_server, people.agent)
    page.goto(f"{live_server.url}/admin/tickets/ticket/{ticket.pk}/change/")
    keys = Keyboard(page, max_tabs=150)
    keys.submit(re.compile("^Verify$"))
    ticket.refresh_from_db()
    assert ticket.state == State.VERIFIED
    assert keys.problems == []


def test_a_manager_claims_from_the_queue_by_keyboard_alone(presets, cast, live_server, page):
    # SPEC §6 accessibility, main flows by keyboard: a manager claims an unassigned ticket from the queue
    people = cast("kixie")
    ticket = Ticket.objects.create(
        account=people.account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=people.owner,
        full_name="Kim Owner",
        contact=people.owner.email,
    )
    sign_in(page, live_server, people.manager)
    page.goto(f"{live_server.url}/queues/list/")
    keys = Keyboard(page, max_tabs=150)
    keys.submit(re.compile("^Claim$"))
    ticket.refresh_from_db()
    assert ticket.assignee == people.manager
    assert keys.problems == []


@pytest.mark.parametrize("path", ["/a/{account}/", "/accessibility/"])
def test_the_skip_link_comes_first_and_leads_into_the_main_content(presets, cast, live_server, page, path):
    # SPEC §6 accessibility: a skip link leads to the main content, past the header and the account's menu
    people = cast("smrtphone")
    sign_in(page, live_server, people.owner)
    page.goto(live_server.url + path.format(account=people.account.account_id))
    keys = Keyboard(page)
    first = keys.tab()
    assert first and first["name"] == "Skip to content" and first["href"] == "#main"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    after = keys.tab()  # the first control in the content, or after it: never back in the header
    assert after and page.evaluate(
        "(main => main.contains(document.activeElement) || !!(main.compareDocumentPosition(document.activeElement)"
        " & Node.DOCUMENT_POSITION_FOLLOWING))(document.querySelector('main'))"
    )
    assert keys.problems == []


def test_a_customer_signs_in_by_keyboard_alone(presets, cast, live_server, page):
    # SPEC §6 accessibility, main flows by keyboard: the sign-in form, typed into and sent with Enter
    people = cast("smrtphone")
    page.goto(f"{live_server.url}/accounts/login/")
    keys = Keyboard(page)
    keys.type_into("Email address", people.owner.email)
    keys.type_into("Password", PASSWORD)
    keys.submit("Sign in")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")
    assert keys.problems == []
