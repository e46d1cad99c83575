"""K7's fallback: a Kixie account with no card on file is verified by its owner following an emailed link."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.exceptions import Refusal
from billing.models import Plan
from tickets import verification_links
from tickets.models import Kind, State, Ticket
from tickets.services import transition_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(cast, in_business_hours):
    """A Kixie account with no card on file, and its cancellation taken by phone."""
    people = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    return people


@pytest.fixture
def cancellation(desk, submit):
    return submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent)


def emailed_link(owner) -> str:
    [message] = [m for m in mail.outbox if m.to == [owner.email] and "Confirm the cancellation" in m.subject]
    return re.search(r"https?://\S+/verify/confirm/(\S+)/", message.body).group(0).split("://", 1)[1].split("/", 1)[1]


def send(ticket, actor, capture):
    with capture(execute=True):
        return verification_links.send_confirmation_link(ticket=ticket, actor=actor)


def test_the_kixie_preset_names_the_confirmation_link_fallback(desk):
    # rule K7
    assert desk.policy.verification_method == "card_last4"
    assert desk.policy.verification_fallback == "confirmation_link"
    assert Plan.objects.get(policy__preset="smrtphone", rank=1).policy.verification_fallback == "none"


def test_without_a_card_the_owner_confirms_by_an_emailed_link(
    client, desk, cancellation, django_capture_on_commit_callbacks
):
    # rule K7: no card on file, so the card can never verify; the owner's confirmation by link does
    refused = pytest.raises(Refusal, transition_ticket, ticket=cancellation, name="verify", actor=desk.agent)
    assert refused.value.code == "verification_failed"
    row = send(cancellation, desk.agent, django_capture_on_commit_callbacks)
    assert row.transition == "confirmation_link" and desk.owner.email in row.note
    path = "/" + emailed_link(desk.owner)
    # Following the link shows a page; a mail scanner's GET verifies nothing.
    page = client.get(path)
    assert page.status_code == 200 and "Yes, I confirm this cancellation" in page.content.decode()
    assert Ticket.objects.get(pk=cancellation.pk).state == State.SUBMITTED
    done = client.post(path)
    assert done.status_code == 200 and "is verified" in done.content.decode()
    ticket = Ticket.objects.get(pk=cancellation.pk)
    assert ticket.state == State.VERIFIED and ticket.checks["owner_link"] is True
    verify = ticket.log.get(transition="verify")
    assert verify.actor == desk.owner and verify.channel == "web"
    assert "owner confirmed by emailed link" in verify.note
    # Single use: the second visit finds the request verified and changes nothing.
    again = client.post(path)
    assert again.status_code == 409 and ticket.log.filter(transition="verify").count() == 1


def test_the_link_is_signed_expires_and_belongs_to_the_owner(
    client, desk, cancellation, django_capture_on_commit_callbacks
):
    # rule K7
    send(cancellation, desk.agent, django_capture_on_commit_callbacks)
    path = "/" + emailed_link(desk.owner)
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert client.post(reverse("owner_confirmation", args=[token[:-2] + "xx"])).status_code == 400
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=verification_links.LINK_HOURS, minutes=1)
    with time_machine.travel(later):
        expired = client.post(path)
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    # A link made out to someone who is not the owner is worth nothing.
    forged = verification_links.LINK.make(cancellation, desk.billing_admin)
    assert client.post(reverse("owner_confirmation", args=[forged])).status_code == 400
    assert Ticket.objects.get(pk=cancellation.pk).state == State.SUBMITTED


def test_the_fallback_is_only_where_the_card_cannot_verify(
    desk, cancellation, submit, cast, django_capture_on_commit_callbacks
):
    # rule K7: with a card on file the card verifies; customers and other policies get no link
    from accounts import services as provisioning

    with pytest.raises(Refusal) as customer:
        send(cancellation, desk.owner, django_capture_on_commit_callbacks)
    assert customer.value.code == "role_not_allowed"
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    with pytest.raises(Refusal) as carded:
        send(cancellation, desk.agent, django_capture_on_commit_callbacks)
    assert carded.value.code == "verification_fallback_unavailable"
    # A link sent before the card was added no longer verifies once it is there: the card is the rule.
    other = cast("kixie", plan=desk.plan)
    ticket = submit(other, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=other.agent)
    send(ticket, other.agent, django_capture_on_commit_callbacks)
    token = verification_links.LINK.make(ticket, other.owner)
    provisioning.set_card(account=other.account, brand="Visa", last4="1881")
    with pytest.raises(Refusal) as stale:
        verification_links.confirm_with_link(token=token)
    assert stale.value.code == "verification_fallback_unavailable"


def test_the_agent_sends_the_link_from_the_admin_and_the_api(
    client, desk, cancellation, django_capture_on_commit_callbacks
):
    # rule K7
    from rest_framework.authtoken.models import Token

    client.force_login(desk.agent)
    page = client.get(reverse("admin:tickets_ticket_change", args=[cancellation.pk])).content.decode()
    assert 'name="confirmation_link"' in page
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse("admin:tickets_ticket_transition", args=[cancellation.pk, "verify"]),
            {"confirmation_link": "1"},
            follow=True,
        )
    assert "confirmation link was emailed to the owner" in done.content.decode()
    assert emailed_link(desk.owner)
    token, _ = Token.objects.get_or_create(user=desk.agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/tickets/{cancellation.pk}/transitions/",
            {"name": "verify", "confirmation_link": True},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token.key}",
        )
    assert response.status_code == 200 and response.json()["state"] == "submitted"
    assert Ticket.objects.get(pk=cancellation.pk).log.filter(transition="confirmation_link").count() == 2
    # The customer's history does not show the desk's sending.
    client.force_login(desk.owner)
    api = client.get(f"/api/v1/tickets/{cancellation.pk}/").json()
    assert api["history"] and "confirmation_link" not in {row["transition"] for row in api["history"]}
