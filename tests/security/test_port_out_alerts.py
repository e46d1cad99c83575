"""Port-out alerts (SPEC §4, fraud protection): every request is emailed to the owner and billing admins at once,
with a signed, single-use, expiring link that withdraws it without signing in."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import Client

from accounts import services as provisioning
from tests.factories import PIN
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def _alerts() -> list:
    return [m for m in mail.outbox if "Port-out requested" in m.subject]


def _link(message) -> str:
    return urlsplit(re.search(r"https?://\S+/port-out/withdraw/\S+/", message.body).group(0)).path


def _submit_as(who: str, people, number, client_for, signed_in):
    body = {
        "kind": "port_out",
        "account": people.account.pk,
        "numbers": [number.pk],
        "gaining_carrier": "Evil Mobile",
        "authorized_name": people.owner.full_name,
        "pin": PIN,
    }
    if who == "customer_api":
        assert client_for(people.super_admin).post("/api/v1/tickets/", body, format="json").status_code == 201
    elif who == "staff_api":
        body.update(requester=people.super_admin.pk, channel="phone")
        assert client_for(people.agent).post("/api/v1/tickets/", body, format="json").status_code == 201
    else:
        form = {k: v for k, v in body.items() if k not in ("kind", "account")}
        form.update(full_name="Sam", company="Acme", contact="sam@example.test")
        response = signed_in(people.super_admin).post(f"/a/{people.account.account_id}/request/port_out/", form)
        assert response.status_code == 302, response.content.decode()[:2000]
    return Ticket.objects.get(numbers=number)


@pytest.mark.parametrize("who", ["customer_portal", "customer_api", "staff_api"])
def test_every_port_out_request_is_emailed_to_the_owner_and_billing_admins(
    who, cast, client_for, signed_in, tasks_in_process, django_capture_on_commit_callbacks
):
    # SPEC §4: whoever submitted it, at once, with the numbers, the gaining carrier and a way to withdraw
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+14155550181")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _submit_as(who, people, number, client_for, signed_in)
    alerts = _alerts()
    assert sorted(m.to[0] for m in alerts) == sorted([people.owner.email, people.billing_admin.email])
    assert all(len(m.to) == 1 for m in alerts)  # each recipient has their own link
    for message in alerts:
        assert "+14155550181" in message.body and "Evil Mobile" in message.body
        assert f"#{ticket.pk}" in message.subject and "/port-out/withdraw/" in message.body
        assert PIN not in message.body
    assert _link(alerts[0]) != _link(alerts[1])


@pytest.fixture
def alerted(cast, client_for, tasks_in_process, django_capture_on_commit_callbacks):
    """A port-out the super admin submitted through the API, and the alert each recipient received."""
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+14155550182")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _submit_as("customer_api", people, number, client_for, None)
    by_recipient = {m.to[0]: m for m in _alerts()}
    return people, Ticket.objects.get(numbers=number), number, by_recipient


def test_the_withdraw_link_works_once_without_signing_in(alerted):
    people, ticket, number, by_recipient = alerted
    link = _link(by_recipient[people.billing_admin.email])  # not the requester, not the owner
    anonymous = Client(enforce_csrf_checks=False)
    page = anonymous.get(link)
    assert page.status_code == 200
    assert "+14155550182" in page.content.decode() and "Evil Mobile" in page.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == "submitted"  # looking is not withdrawing
    done = anonymous.post(link)
    assert done.status_code == 200 and "was withdrawn" in done.content.decode()
    ticket.refresh_from_db()
    number.refresh_from_db()
    assert ticket.state == "withdrawn" and number.status == "active"
    row = ticket.log.last()
    assert (row.transition, row.actor, row.channel) == ("withdraw", people.billing_admin, "web")
    # Single use: the same link, or the owner's, finds the request closed.
    assert anonymous.post(link).status_code == 409
    assert anonymous.post(_link(by_recipient[people.owner.email])).status_code == 409
    assert ticket.log.filter(transition="withdraw").count() == 1


def test_the_withdraw_link_expires_and_cannot_be_forged(alerted, settings):
    people, ticket, _, by_recipient = alerted
    link = _link(by_recipient[people.owner.email])
    anonymous = Client()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=settings.PORT_OUT_WITHDRAW_LINK_HOURS, minutes=1)
    with time_machine.travel(later):
        expired = anonymous.post(link)
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    token = link.rstrip("/").rsplit("/", 1)[1]
    forged = anonymous.post(link.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB")))
    assert forged.status_code == 400
    # A recipient who lost the role cannot use the link they were sent.
    people.owner.memberships.filter(account=people.account).update(role="member")
    assert anonymous.post(link).status_code == 400
    ticket.refresh_from_db()
    assert ticket.state == "submitted"
