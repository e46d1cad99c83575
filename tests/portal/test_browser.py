"""The portal in a real Chromium (Debian's, through pytest-playwright), at phone width.

Screenshots of every step go to test-artifacts/portal/.
"""

import io
import re

import pytest
from playwright.sync_api import expect

from accounts import services as provisioning
from tickets.models import Kind, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_smrtphone_owner_cancels_with_confirm_and_sees_the_case(presets, cast, live_server, page, browser_login, shoot):
    # rule S1 S2 S3 S5 S4
    people = cast("smrtphone")
    provisioning.add_number(account=people.account, number="+12025550131")
    provisioning.add_credit(account=people.account, amount="20", reason="top_up")
    # The owner also runs another account, so they keep a login once this one is cancelled (K8, U5).
    provisioning.add_member(account=people.other_account, email=people.owner.email, full_name="", role="member")

    browser_login(page, people.owner)
    shoot(page, "smrtphone-00-home")
    page.get_by_role("link", name=people.account.name).click()
    shoot(page, "smrtphone-01-dashboard")
    page.get_by_role("link", name="Cancel this account").click()
    shoot(page, "smrtphone-02-start")
    page.get_by_role("button", name="Start").click()

    expect(page.get_by_role("heading", name="Why are you leaving?")).to_be_visible()
    page.get_by_label("It's too expensive").check()
    page.get_by_label("Anything else you want to tell us?").fill("Budget cut this quarter")
    shoot(page, "smrtphone-03-survey")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("button", name="Book a meeting")).to_be_visible()
    shoot(page, "smrtphone-04-offers")
    page.get_by_role("button", name="No thanks, continue cancelling").click()

    expect(page.get_by_text("(202) 555-0131")).to_be_visible()  # national format
    expect(page.get_by_text("$20.00 USD: remaining credit is forfeited")).to_be_visible()
    shoot(page, "smrtphone-05-preview")
    page.get_by_role("button", name="Continue").click()

    for checkbox in page.get_by_role("checkbox").all():
        checkbox.check()
    shoot(page, "smrtphone-06-acknowledge")
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("Type CONFIRM to confirm").fill("CONFIRM")
    shoot(page, "smrtphone-07-verify")
    page.get_by_role("button", name=re.compile("^Cancel ")).click()

    expect(page.get_by_role("heading", name="Cancellation completed")).to_be_visible()
    ticket = Ticket.objects.get(account=people.account, kind="account_cancellation")
    expect(page.get_by_text(f"#{ticket.pk}")).to_be_visible()
    expect(page.get_by_text("Completed", exact=True)).to_be_visible()
    shoot(page, "smrtphone-08-done")
    # S6: with retention 0 the account's data, memberships included, is purged at completion, so the case
    # cannot stay on a dashboard of that account: the submitted page above is where the customer sees it.
    page.goto(f"{live_server.url}/")  # one account left: home goes straight to its dashboard
    expect(page.get_by_text(people.other_account.name, exact=True)).to_be_visible()
    expect(page.get_by_text(people.account.name, exact=True)).to_have_count(0)
    shoot(page, "smrtphone-09-home-after")


def test_lowercase_confirm_is_refused(presets, cast, live_server, page, browser_login, shoot):
    # rule S3
    people = cast("smrtphone")
    browser_login(page, people.owner)
    page.goto(f"{live_server.url}/a/{people.account.account_id}/cancel/")
    page.get_by_role("button", name="Start").click()
    page.get_by_label("I'm switching to a different service").check()
    page.get_by_role("button", name="Continue").click()
    # rule S2: this answer leads to no offer, so the flow goes straight on to the preview
    page.get_by_role("button", name="Continue").click()
    for checkbox in page.get_by_role("checkbox").all():
        checkbox.check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Type CONFIRM to confirm").fill("confirm")
    page.get_by_role("button", name=re.compile("^Cancel ")).click()
    expect(page.get_by_text("Type CONFIRM exactly to confirm.")).to_be_visible()
    expect(page.get_by_label("Type CONFIRM to confirm")).to_have_value("confirm")
    shoot(page, "smrtphone-confirm-refused")
    assert not Ticket.objects.filter(account=people.account).exists()


def test_member_sees_no_cancel_action(presets, cast, live_server, page, browser_login, shoot):
    # rule S4
    people = cast("smrtphone")
    browser_login(page, people.member)
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel this account")).to_have_count(0)
    expect(page.get_by_role("link", name="Pause my account")).to_have_count(0)
    shoot(page, "smrtphone-member-dashboard")


def test_kixie_owner_sees_the_intake_hours(presets, cast, live_server, page, browser_login, shoot):
    # rule K6 K7
    people = cast("kixie")
    browser_login(page, people.owner)
    page.get_by_role("link", name="Cancel this account").click()
    expect(page.get_by_text("handled by email or phone only")).to_be_visible()
    expect(page.get_by_text("Monday–Friday 06:00–17:00 (America/Los_Angeles)")).to_be_visible()
    expect(page.get_by_role("button", name="Start")).to_have_count(0)
    shoot(page, "kixie-intake-hours")


def test_avoxi_super_admin_cancels_licenses_but_not_below_the_minimum(
    presets, cast, live_server, page, browser_login, shoot
):
    # rule A5 A10
    people = cast("avoxi")
    provisioning.add_license(account=people.account, product="contact_center", quantity=5)
    browser_login(page, people.super_admin)
    page.get_by_role("link", name="Products").click()
    shoot(page, "avoxi-products")
    page.get_by_role("link", name="Cancel licenses").click()
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Request the cancellation").click()
    refusal = "At least 3 Contact Center licenses must remain; you can cancel at most 2."
    expect(page.get_by_text(refusal)).to_be_visible()
    shoot(page, "avoxi-license-minimum-refused")
    assert not Ticket.objects.filter(account=people.account).exists()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Request the cancellation").click()
    expect(page.get_by_role("heading", name=re.compile("License cancellation"))).to_be_visible()
    expect(page.locator("dl.details").get_by_text("2 × Contact Center license")).to_be_visible()
    shoot(page, "avoxi-license-case")
    assert Ticket.objects.get(account=people.account).quantity == 2


def test_every_demo_login_is_offered_what_its_role_may_and_nothing_else(presets, live_server, page, shoot):
    # rule S4 A5 U1: the demo's people, each preset and role, in a real browser
    from django.core.management import call_command

    from accounts.models import Membership
    from tickets.portal.selectors import kind_applies

    call_command("demo", stdout=io.StringIO())
    memberships = Membership.objects.filter(user__email__endswith=".demo").select_related("account__plan__policy")
    assert {m.role for m in memberships} == set(Membership.Role.values)
    assert memberships.values("account__plan__policy").distinct().count() == 5
    for membership in memberships:
        account, policy, role = membership.account, membership.account.plan.policy, membership.role
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email address").fill(membership.user.email)
        page.get_by_label("Password").fill("demo-pass-2026")
        page.get_by_role("button", name="Sign in").click()
        who = f"{membership.user.email} on {account.name}"
        if not membership.user.is_active:  # K8, U5: a cancelled account's people cannot sign in
            # K9, U7: with the right password they reach the former member's page: the account, its dates, the way back
            expect(page.get_by_role("heading", name=re.compile("Your cancelled account"))).to_be_visible()
            expect(page.get_by_role("heading", name=re.compile(re.escape(account.account_id)))).to_be_visible()
            continue
        page.goto(f"{live_server.url}/a/{account.account_id}/")
        expect(page.get_by_role("heading", name="Cases")).to_be_visible()
        may_cancel = policy.allows_role("account_cancellation", role) and kind_applies(account, "account_cancellation")
        assert page.get_by_role("link", name="Cancel this account").count() == int(may_cancel), who
        for kind, label in Kind.choices:
            if kind == "account_cancellation":
                continue
            offered = policy.allows_role(kind, role) and kind_applies(account, kind)
            assert page.get_by_role("link", name=label, exact=True).count() == int(offered), (who, kind)
            if not policy.allows_role(kind, role):
                response = page.request.get(f"{live_server.url}/a/{account.account_id}/request/{kind}/")
                assert response.status == 403, (who, kind)
        shoot(page, f"demo-{policy.preset}-{role}")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
