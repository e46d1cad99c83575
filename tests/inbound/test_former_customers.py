"""Email from a former customer (SPEC §4, "Account lifecycle"; issue 23's "Former customers cannot come back"): a
member of a cancelled, not purged, account is a "Known former customer" in triage; their email converts to a
reactivation in one step, and to nothing else; the account's rule decides first (S11)."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from tests.former_members import cancel, text
from tests.inbound.conftest import email_bytes
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive
from tickets.models import Channel, Kind, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks(tasks_in_process):
    """Emails in-process."""


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def written_by(person, subject="Please restart our account") -> InboundMessage:
    raw = email_bytes(
        sender=f"Former <{person.email}>", subject=subject, body="We want to come back.\n", authenticated=True
    )
    return receive(raw, source="file")


def test_a_cancelled_owners_email_is_a_known_former_customer_and_converts_to_a_reactivation(cast, client):
    # rule U7, K9 (issue 23: the email landed in triage with no member and converting it answered unverified_sender)
    people = cast("kustomer")
    account = cancel(people)
    message = written_by(people.owner)
    assert (message.status, message.member) == ("triage", people.owner)

    client.force_login(people.agent)
    page = client.get("/queues/triage/")
    assert "Known former customer" in text(page)
    form = page.context["items"][0]["form"]
    assert form.initial["kind"] == Kind.REACTIVATION  # one step: the kind is already the reactivation

    response = client.post(
        f"/queues/triage/{message.pk}/convert/",
        {f"m{message.pk}-kind": Kind.REACTIVATION, f"m{message.pk}-account": account.pk},
    )
    ticket = Ticket.objects.get(account=account, kind=Kind.REACTIVATION)
    assert response.url == f"/admin/tickets/ticket/{ticket.pk}/change/"
    assert (ticket.requester, ticket.channel, ticket.state) == (people.owner, Channel.EMAIL, "submitted")
    assert ticket.created_at == message.received_at
    message.refresh_from_db()
    assert (message.status, message.ticket) == ("converted", ticket)


def test_a_former_customers_email_converts_to_no_other_kind(cast):
    # SPEC §4: a cancelled account takes no request but its reactivation; the refusal names it (not unverified_sender)
    people = cast("kustomer")
    account = cancel(people)
    message = written_by(people.owner, subject="Cancel us again")
    response = api(people.agent).post(
        f"/api/v1/inbound/{message.pk}/convert/", {"kind": "account_cancellation", "account": account.pk}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "account_not_active")
    assert "only request it takes is its reactivation" in response.json()["detail"]
    message.refresh_from_db()
    assert message.status == "triage"
    assert Ticket.objects.filter(account=account).count() == 1  # the cancellation that completed, nothing new


def test_a_former_smrtphone_owners_email_is_refused_by_the_rule_reactivation_closed(cast):
    # rule S11 (issue 23: it answered unverified_sender; SPEC §4: the account's rules before the requester)
    people = cast("smrtphone")
    # A legal hold keeps the cancelled account (and its former members) past S6's purge at completion.
    Account.objects.filter(pk=people.account.pk).update(legal_hold=True, legal_hold_reason="Litigation")
    account = cancel(people)
    message = written_by(people.owner)
    response = api(people.agent).post(
        f"/api/v1/inbound/{message.pk}/convert/", {"kind": "reactivation", "account": account.pk}, format="json"
    )
    body = response.json()
    assert (response.status_code, body["code"]) == (409, "reactivation_closed")
    assert "may use the same email address" in body["detail"]  # S11's words
    assert not Ticket.objects.filter(account=account, kind=Kind.REACTIVATION).exists()
