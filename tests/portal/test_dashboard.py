"""Sign-in pages, the portal home, the case dashboard (A3) and what each role is offered (S4, A5, U1)."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services as provisioning
from tests.factories import PASSWORD, TicketFactory

pytestmark = pytest.mark.django_db


def dashboard(account):
    return reverse("portal:dashboard", args=[account.account_id])


def test_sign_in_lands_on_the_accounts_dashboard(cast, client):
    people = cast("avoxi")
    assert "Sign in" in client.get(reverse("login")).content.decode()
    response = client.post(reverse("login"), {"username": people.owner.email, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == dashboard(people.account)


def test_wrong_password_is_refused_and_the_email_kept(cast, client):
    people = cast("avoxi")
    response = client.post(reverse("login"), {"username": people.owner.email, "password": "nope"})
    assert "Please enter a correct email address and password" in response.content.decode()
    assert f'value="{people.owner.email}"' in response.content.decode()


def test_sign_out_is_a_post(cast, signed_in):
    people = cast("avoxi")
    client = signed_in(people.owner)
    assert client.post(reverse("logout")).url == reverse("login")
    assert client.get(reverse("portal:home")).status_code == 302


def test_password_reset_sends_a_templated_email_with_a_working_link(cast, client):
    people = cast("avoxi")
    client.post(reverse("password_reset"), {"email": people.member.email})
    assert [m.subject for m in mail.outbox] == ["Reset your Exitdesk password"]
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url
    response = client.post(form_url, {"new_password1": "a-new-pass-2026", "new_password2": "a-new-pass-2026"})
    assert response.url == reverse("password_reset_complete")
    signed_in = client.post(reverse("login"), {"username": people.member.email, "password": "a-new-pass-2026"})
    assert signed_in.url == reverse("portal:home")


def test_a_user_of_several_accounts_chooses_one(cast, signed_in):
    people = cast("avoxi")
    provisioning.add_member(account=people.other_account, email=people.member.email, full_name="", role="member")
    page = signed_in(people.member).get(reverse("portal:home")).content.decode()
    assert people.account.name in page and people.other_account.name in page


def test_someone_elses_account_is_a_404(cast, signed_in):
    people = cast("avoxi")
    client = signed_in(people.outsider)
    for name in ("portal:dashboard", "portal:products", "portal:pause", "portal:cancel"):
        assert client.get(reverse(name, args=[people.account.account_id])).status_code == 404
    request_url = reverse("portal:request", args=[people.account.account_id, "port_out"])
    assert client.post(request_url, {}).status_code == 404


def test_dashboard_lists_open_cases_and_closed_ones_behind_a_filter(cast, signed_in):
    # rule A3
    people = cast("avoxi")
    open_case = TicketFactory(account=people.account, requester=people.owner, kind="port_out")
    closed_case = TicketFactory(account=people.account, requester=people.owner, kind="downgrade")
    type(closed_case).objects.filter(pk=closed_case.pk).update(state="completed")
    client = signed_in(people.owner)
    page = client.get(dashboard(people.account)).content.decode()
    assert f"#{open_case.pk}" in page and f"#{closed_case.pk}" not in page
    assert "Port-out" in page and "Submitted" in page
    closed = client.get(dashboard(people.account) + "?cases=closed").content.decode()
    assert f"#{closed_case.pk}" in closed and f"#{open_case.pk}" not in closed


def test_a_member_sees_only_their_own_cases(cast, signed_in):
    people = cast("avoxi")
    mine = TicketFactory(account=people.account, requester=people.member, kind="port_out")
    owners = TicketFactory(account=people.account, requester=people.owner, kind="port_out")
    page = signed_in(people.member).get(dashboard(people.account)).content.decode()
    assert f"#{mine.pk}" in page and f"#{owners.pk}" not in page
    assert signed_in(people.member).get(reverse("portal:ticket", args=[owners.pk])).status_code == 404


def test_smrtphone_member_is_offered_no_cancel_action(cast, signed_in):
    # rule S4
    people = cast("smrtphone")
    page = signed_in(people.member).get(dashboard(people.account)).content.decode()
    assert "Cancel this account" not in page
    assert "Pause my account" not in page
    owner_page = signed_in(people.owner).get(dashboard(people.account)).content.decode()
    assert "Cancel this account" in owner_page


def test_only_a_super_admin_is_offered_license_cancellation(cast, signed_in):
    # rule A5
    people = cast("avoxi")
    provisioning.add_license(account=people.account, product="contact_center", quantity=5)
    assert "License cancellation" in signed_in(people.super_admin).get(dashboard(people.account)).content.decode()
    assert "License cancellation" not in signed_in(people.owner).get(dashboard(people.account)).content.decode()


def test_kustomer_member_without_billing_access_is_offered_nothing(cast, signed_in):
    # rule U1
    people = cast("kustomer")
    page = signed_in(people.member).get(dashboard(people.account)).content.decode()
    assert "cannot make requests on this account" in page
    assert "Cancel this account" in signed_in(people.billing_admin).get(dashboard(people.account)).content.decode()


def test_pause_page_says_holds_are_not_offered_and_shows_the_alternatives(cast, signed_in):
    # rule K1 K2
    from billing.models import Plan

    people = cast("kixie", plan=Plan.objects.get(name="Power Dialer"))
    page = signed_in(people.owner).get(reverse("portal:pause", args=[people.account.account_id])).content.decode()
    assert "Accounts cannot be put on hold and billing cannot be paused." in page
    assert "Downgrade to Integrated" in page and "no prorated credit" in page
    assert "Cancel this account" in page


def test_pages_work_on_a_phone_without_a_cdn(cast, signed_in):
    people = cast("avoxi")
    page = signed_in(people.owner).get(dashboard(people.account)).content.decode()
    assert 'name="viewport"' in page
    assert "/static/css/exitdesk.css" in page
    assert "https://" not in page and "<script" not in page
