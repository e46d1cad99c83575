"""The desk records a former member's reactivation (SPEC §4, "Account lifecycle"; issue 23's "Former customers
cannot come back"), and every door answers a purged account's reactivation with its rule, U7's words
(`reactivation_closed`), before anything about the requester (SPEC §4)."""

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Account
from tests.former_members import cancel, text
from tickets.models import Channel, Kind, Ticket
from tickets.purge import purge_account

pytestmark = pytest.mark.django_db

RECORD = "admin:tickets_ticket_add"


def test_record_a_request_offers_a_former_member_as_requester_of_a_reactivation_only(cast, client):
    # rule U7, K9 (issue 23: Record a request offered no requester, active members only)
    people = cast("kustomer")
    account = cancel(people)
    client.force_login(people.agent)
    form = client.get(reverse(RECORD), {"account": account.pk}).context["form"]
    assert set(form.fields["requester"].queryset) == {
        people.owner,
        people.super_admin,
        people.billing_admin,
        people.member,
    }
    assert [value for value, _label in form.fields["kind"].choices] == [Kind.REACTIVATION]

    response = client.post(
        reverse(RECORD),
        {"account": account.pk, "requester": people.owner.pk, "kind": Kind.REACTIVATION, "channel": Channel.PHONE},
    )
    ticket = Ticket.objects.get(account=account, kind=Kind.REACTIVATION)
    assert response.url == reverse("admin:tickets_ticket_change", args=[ticket.pk])
    assert (ticket.requester, ticket.channel, ticket.state) == (people.owner, Channel.PHONE, "submitted")


def test_record_a_request_refuses_a_former_member_any_other_kind(cast, client):
    # SPEC §4: a cancelled account takes no request but its reactivation
    people = cast("kustomer")
    account = cancel(people)
    client.force_login(people.agent)
    response = client.post(
        reverse(RECORD),
        {"account": account.pk, "requester": people.owner.pk, "kind": Kind.DOWNGRADE, "channel": Channel.PHONE},
    )
    assert response.status_code == 200 and "Select a valid choice" in text(response)
    assert not Ticket.objects.filter(account=account, kind=Kind.DOWNGRADE).exists()


def test_an_active_accounts_record_form_offers_no_former_member(cast, client):
    # a former member of one account is nobody on another, active, account
    people = cast("kustomer")
    cancel(people)
    client.force_login(people.agent)
    form = client.get(reverse(RECORD), {"account": people.other_account.pk}).context["form"]
    assert people.owner not in set(form.fields["requester"].queryset)
    assert len(form.fields["kind"].choices) == len(Kind.choices)


@pytest.fixture
def purged_kustomer(cast):
    people = cast("kustomer")
    account = cancel(people)
    assert purge_account(account.pk, now=account.purge_after + dt.timedelta(days=1)).outcome == "purged"
    people.account = Account.objects.get(pk=account.pk)
    return people


U7_WORDS = "only within the 60 days after its cancellation"


def test_a_purged_kustomer_account_answers_reactivation_closed_through_the_api(purged_kustomer):
    # rule U7 (issue 23: it answered "Only a cancelled account can be reactivated.")
    people = purged_kustomer
    api = APIClient()
    api.force_authenticate(people.agent)
    response = api.post(
        "/api/v1/tickets/",
        {"kind": "reactivation", "account": people.account.pk, "requester": people.agent.pk, "channel": "phone"},
        format="json",
    )
    body = response.json()
    # The submission endpoint answers a refusal 400 with its code (tickets/api/drf_hooks.py, SPEC §5).
    assert (response.status_code, body["code"]) == (400, "reactivation_closed")
    assert U7_WORDS in body["detail"] and "only a new account" in body["detail"]


def test_a_purged_kustomer_account_answers_its_rule_in_record_a_request(purged_kustomer, client):
    # rule U7: the account's rule first, before anybody is asked who requests it (its members are gone)
    people = purged_kustomer
    client.force_login(people.agent)
    page = client.get(reverse(RECORD), {"account": people.account.pk})
    assert U7_WORDS in text(page)
    response = client.post(
        reverse(RECORD), {"account": people.account.pk, "kind": Kind.REACTIVATION, "channel": Channel.PHONE}
    )
    assert response.status_code == 200 and U7_WORDS in text(response)
    assert "Choose the member who asks" not in text(response)
    assert not Ticket.objects.filter(account=people.account, kind=Kind.REACTIVATION).exists()
