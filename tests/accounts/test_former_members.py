"""Former members come back through sign-in and password reset (SPEC §4, "Account lifecycle"; issue 23's
"Former customers cannot come back"): one page with the cancellation date, the purge date and "Ask to reactivate"
where the policy allows it for their role, else the rule's words and the contact routes; nothing else of the
account, and no session on the rest of the site."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services as provisioning
from accounts.models import Account
from tests.factories import PASSWORD
from tests.former_members import cancel, text
from tickets.models import Channel, Kind, Ticket

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-pass-2026"


@pytest.fixture(autouse=True)
def _tasks(tasks_in_process):
    """Emails in-process: the password reset and the request's acknowledgement are read from the outbox."""


def sign_in(client, user, password=PASSWORD):
    return client.post(reverse("login"), {"username": user.email, "password": password})


def reset_password(client, email: str) -> None:
    """Ask for a password reset and follow the emailed link to set NEW_PASSWORD."""
    mail.outbox.clear()
    client.post(reverse("password_reset"), {"email": email})
    assert [m.to for m in mail.outbox] == [[email]]
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.url == reverse("password_reset_complete")


def test_a_former_kustomer_owner_signs_in_and_asks_to_reactivate(cast, client):
    # rule U7, K9 (issue 23: the owner's sign-in showed the generic error, only the staff API recorded a reactivation)
    people = cast("kustomer")
    people.policy.support_email = "billing@kustomer.test"
    people.policy.save()
    account = cancel(people)

    response = sign_in(client, people.owner)
    assert response.status_code == 302 and response.url == reverse("former_member")
    assert "_auth_user_id" not in client.session  # not a Django login
    page = text(client.get(reverse("former_member")))
    assert f"{account.name} ({account.account_id})" in page
    assert f"Cancelled on {account.cancelled_at:%-d %B %Y}" in page
    assert f"Its data is deleted on {account.purge_after:%-d %B %Y}" in page  # U6: 60 days on
    assert "Ask to reactivate" in page

    asked = client.post(reverse("former_member"), {"account": account.account_id})
    assert asked.status_code == 302
    ticket = Ticket.objects.get(account=account, kind=Kind.REACTIVATION)
    assert (ticket.requester, ticket.channel, ticket.state) == (people.owner, Channel.WEB, "submitted")
    page = text(client.get(reverse("former_member")))
    assert "You asked to reactivate it on" in page and "Ask to reactivate" not in page


def test_a_former_member_session_reaches_nothing_else_of_the_site(cast, client):
    # rule U5, K8 (SPEC §5: a person whose account was cancelled sees nothing of that account)
    people = cast("kustomer")
    account = cancel(people)
    case = Ticket.objects.get(account=account, kind=Kind.ACCOUNT_CANCELLATION)
    sign_in(client, people.owner)
    assert client.get(reverse("former_member")).status_code == 200

    for url in (
        reverse("portal:home"),
        reverse("portal:dashboard", args=[account.account_id]),
        reverse("portal:ticket", args=[case.pk]),
        reverse("portal:request", args=[account.account_id, "reactivation"]),
        "/admin/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response.url, url
    assert client.get("/api/v1/tickets/").status_code in (401, 403)
    assert client.get(f"/api/v1/tickets/{case.pk}/").status_code in (401, 403)
    assert client.get(f"/api/v1/accounts/{account.pk}/").status_code in (401, 403)


def test_a_former_member_session_ends_when_the_password_changes(cast, client):
    # the session is bound to the password, as a Django login is
    people = cast("kustomer")
    cancel(people)
    sign_in(client, people.owner)
    people.owner.set_password("changed-elsewhere-2026")
    people.owner.save()
    response = client.get(reverse("former_member"))
    assert response.status_code == 302 and response.url == reverse("login")


def test_a_former_kixie_owner_comes_back_by_password_reset(cast, client):
    # rule K8, K9: the cancellation erased the users and left the owner without a password; a reset reaches them
    people = cast("kixie")
    account = cancel(people)
    people.owner.refresh_from_db()
    assert not people.owner.is_active and not people.owner.has_usable_password()
    assert sign_in(client, people.owner).status_code == 200  # no password: the generic error, nothing revealed

    reset_password(client, people.owner.email)
    response = sign_in(client, people.owner, NEW_PASSWORD)
    assert response.url == reverse("former_member")
    page = text(client.get(reverse("former_member")))
    assert f"{account.name} ({account.account_id})" in page
    assert "Its data is kept: no deletion is scheduled." in page  # K9: no purge, reactivated on request
    assert "Ask to reactivate" in page
    client.post(reverse("former_member"), {"account": account.account_id})
    assert Ticket.objects.get(account=account, kind=Kind.REACTIVATION).requester == people.owner
    assert not Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE  # staff work it (K9)


def test_a_former_kustomer_member_resets_the_password_and_reads_who_may_ask(cast, client):
    # rule U7, U1: a plain member's role may not ask for the reactivation; they read who may, and the contact routes
    people = cast("kustomer")
    people.policy.support_email = "billing@kustomer.test"
    people.policy.save()
    cancel(people)
    reset_password(client, people.member.email)
    assert sign_in(client, people.member, NEW_PASSWORD).url == reverse("former_member")
    page = text(client.get(reverse("former_member")))
    assert "Ask to reactivate" not in page
    assert "A reactivation is asked for by the account's Owner, Super admin, Billing admin" in page
    assert "billing@kustomer.test" in page
    refused = client.post(reverse("former_member"), {"account": people.account.account_id})
    assert refused.status_code == 409 and "may not request a reactivation" in text(refused)
    assert not Ticket.objects.filter(kind=Kind.REACTIVATION).exists()


def test_a_former_smrtphone_owner_reads_that_the_account_cannot_come_back(cast, client):
    # rule S11: no reactivation; a returning customer starts a new account and may reuse the same email
    people = cast("smrtphone")
    Account.objects.filter(pk=people.account.pk).update(legal_hold=True, legal_hold_reason="Litigation")
    cancel(people)
    assert sign_in(client, people.owner).url == reverse("former_member")
    page = text(client.get(reverse("former_member")))
    assert "Ask to reactivate" not in page
    assert "starts a new account, and may use the same email address" in page
    refused = client.post(reverse("former_member"), {"account": people.account.account_id})
    assert refused.status_code == 409 and "cannot be reactivated" in text(refused)


def test_nobody_else_reaches_the_former_member_page(cast, client):
    people = cast("kustomer")
    assert client.get(reverse("former_member")).url == reverse("login")
    client.force_login(people.owner)  # an active customer with no cancelled account
    assert client.get(reverse("former_member")).url == reverse("login")
    assert sign_in(client, people.owner).url == reverse("portal:home")


def test_a_former_member_who_keeps_another_account_finds_the_page_from_the_portal(cast, client):
    # rule K8, U5: the person keeps their other account's login; the cancelled one is reached from the portal's home
    people = cast("kustomer")
    provisioning.add_member(account=people.other_account, email=people.owner.email, full_name="", role="member")
    account = cancel(people)
    assert sign_in(client, people.owner).url == reverse("portal:home")
    home = client.get(reverse("portal:home"))
    assert home.status_code == 200 and reverse("former_member") in home.content.decode()
    page = text(client.get(reverse("former_member")))
    assert f"{account.name} ({account.account_id})" in page and "Ask to reactivate" in page
