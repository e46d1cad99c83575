"""Issue 24, "The From header is believed, staff included": only an authenticated sender acts by email.

A sender is authenticated when DMARC passed for the From domain, by an Authentication-Results header of an
authserv-id listed in INBOUND_TRUSTED_AUTHSERV_IDS (RFC 8601 §5: every other is ignored). The crafted messages read
over IMAP are in test_hostile.py; here, the triage that follows: what the agent sees, and converting.
"""

import email
import email.policy
import json

import pytest
from rest_framework.test import APIClient

from tests.inbound.conftest import authentication_results, email_bytes
from tickets.inbound.authentication import verdict
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive
from tickets.models import Ticket

Status = InboundMessage.Status
OWNER = "owner@kixie.demo"


def _verdict(*headers: str, sender: str = OWNER):
    raw = email_bytes(sender=sender)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for value in headers:
        message["Authentication-Results"] = value
    return verdict(message, sender)


def test_dmarc_pass_from_a_trusted_authserv_id_authenticates_the_from_domain():
    assert _verdict(authentication_results(OWNER)).authenticated


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (authentication_results(OWNER, authserv_id="mx.attacker.test"), "does not trust"),
        (authentication_results(OWNER, dmarc="fail"), "DMARC fail"),
        (authentication_results("someone@attacker.test"), "not kixie.demo"),
        ("mx.exitdesk.test; spf=pass smtp.mailfrom=kixie.demo; dkim=pass header.d=kixie.demo", "checked no DMARC"),
        ("not an authentication-results header at all", "no DMARC result"),
    ],
)
def test_anything_else_leaves_the_sender_not_verified(header, why):
    checked = _verdict(header)
    assert not checked.authenticated
    assert checked.reason.startswith("Sender not verified") and why in checked.reason


def test_only_the_topmost_trusted_header_counts():
    # The desk's own MTA adds its header on top; one lower down with the same authserv-id was written before it
    # reached the desk (RFC 8601 §5: the MTA should have removed it; if it did not, it still does not count).
    own_on_top = authentication_results(OWNER, dmarc="fail")
    forged_below = authentication_results(OWNER)
    raw = f"Authentication-Results: {own_on_top}\r\nAuthentication-Results: {forged_below}\r\n".encode()
    message = email.message_from_bytes(raw + email_bytes(sender=OWNER), policy=email.policy.default)
    assert not verdict(message, OWNER).authenticated


@pytest.fixture
def desk(cast, tasks_in_process):
    people = cast("avoxi")
    from accounts import services

    people.number = services.add_number(account=people.account, number="+12025550101")
    return people


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def spoofed(desk) -> InboundMessage:
    """New mail with the owner's From and no Authentication-Results: anybody can send it."""
    return receive(email_bytes(sender=f"Owner <{desk.owner.email}>", subject="Cancel the number"), source="file")


def test_new_mail_spoofing_the_owner_is_not_a_known_customer(desk, client):
    # Context: "A new email spoofing the owner showed as 'Known customer', verified: true".
    message = spoofed(desk)
    assert message.status == Status.TRIAGE and message.member == desk.owner and not message.verified
    [row] = api(desk.agent).get("/api/v1/inbound/").json()["results"]
    assert (row["verified"], row["authenticated"]) == (False, False)
    assert row["authentication"].startswith("Sender not verified")
    client.force_login(desk.agent)
    page = client.get("/queues/triage/").text
    assert "Sender not verified" in page and "Known customer" not in page
    assert "confirm the requester by phone or another channel" in page
    assert "I confirmed the requester by phone" in page  # the choice the agent makes before converting
    admin_page = client.get(f"/admin/inbound/inboundmessage/{message.pk}/change/").text
    assert "Sender not verified" in admin_page


def test_converting_an_unverified_senders_mail_needs_the_requester_confirmed(desk):
    # Context: "converting it made a ticket with the real owner as requester".
    message = spoofed(desk)
    url = f"/api/v1/inbound/{message.pk}/convert/"
    body = {"kind": "number_cancellation", "account": desk.account.pk, "number": desk.number.pk}

    refused = api(desk.agent).post(url, body, format="json")

    assert (refused.status_code, refused.json()["code"]) == (409, "unverified_sender")
    assert not Ticket.objects.exists()
    message.refresh_from_db()
    assert message.status == Status.TRIAGE

    wrong = api(desk.agent).post(url, {**body, "requester_confirmed_by": "a hunch"}, format="json")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "invalid_request")

    converted = api(desk.agent).post(url, {**body, "requester_confirmed_by": "phone"}, format="json")

    assert converted.status_code == 201, converted.json()
    ticket = Ticket.objects.get(pk=converted.json()["id"])
    assert (ticket.requester, ticket.channel) == (desk.owner, "email")
    submitted = ticket.log.get(transition="submit")
    assert submitted.note == (
        f"From an email whose sender was not verified ({desk.owner.email}): {desk.agent.email} confirmed the "
        "requester by phone."
    )
    message.refresh_from_db()
    assert (message.status, message.requester_confirmed_by) == (Status.CONVERTED, "phone")


def test_the_triage_form_asks_for_the_confirmation_and_keeps_it(cast, client, tasks_in_process):
    # rule K6: Kixie takes cancellations by email; issue 24: not on a spoofed From alone
    from billing.models import Plan

    kixie = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    message = receive(email_bytes(sender=kixie.owner.email, subject="Cancel our account"), source="file")
    client.force_login(kixie.agent)
    fields = {f"m{message.pk}-kind": "account_cancellation", f"m{message.pk}-account": kixie.account.pk}

    refused = client.post(f"/queues/triage/{message.pk}/convert/", fields, follow=True)

    assert "The sender is not verified" in refused.text and not Ticket.objects.exists()
    confirmed = client.post(
        f"/queues/triage/{message.pk}/convert/", {**fields, f"m{message.pk}-requester_confirmed_by": "phone"}
    )
    ticket = Ticket.objects.get()
    assert confirmed.status_code == 302 and confirmed.url.endswith(f"/tickets/ticket/{ticket.pk}/change/")
    assert ticket.requester == kixie.owner
    assert "confirmed the requester by phone" in ticket.log.get(transition="submit").note


def test_an_authenticated_customers_mail_converts_without_a_confirmation(desk):
    raw = email_bytes(sender=desk.owner.email, subject="Cancel the number", authenticated=True)
    message = receive(raw, source="file")
    assert message.verified
    body = {"kind": "number_cancellation", "account": desk.account.pk, "number": desk.number.pk}
    response = api(desk.agent).post(f"/api/v1/inbound/{message.pk}/convert/", body, format="json")
    assert response.status_code == 201
    assert Ticket.objects.get().log.get(transition="submit").note == ""


def test_staff_mail_is_triage_and_never_converts(desk):
    # Staff never act by email: not a known customer, whatever it says, authenticated or not.
    message = receive(email_bytes(sender=desk.manager.email, subject="Approve #1", authenticated=True), source="file")
    assert message.status == Status.TRIAGE and message.member is None and not message.verified
    assert "staff never act by email" in message.note
    body = {
        "kind": "number_cancellation",
        "account": desk.account.pk,
        "number": desk.number.pk,
        "requester_confirmed_by": "phone",
    }
    response = api(desk.agent).post(f"/api/v1/inbound/{message.pk}/convert/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "unverified_sender")


@pytest.mark.django_db(transaction=True)
def test_a_webhooks_message_is_authenticated_only_by_a_trusted_header(live_server, cast, settings):
    # django-anymail gives no DMARC verdict of the provider's: the provider's MTA header, when trusted, is the one.
    from tests.inbound.test_webhooks import SECRET, post

    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    desk = cast("avoxi")
    for subject, authenticated in [("plain", False), ("checked", True)]:
        raw = email_bytes(sender=desk.owner.email, subject=subject, authenticated=authenticated)
        payload = json.dumps({"RawEmail": raw.decode(), "OriginalRecipient": "desk@exitdesk.localhost"}).encode()
        assert post(f"{live_server.url}/inbound/postmark/inbound/", payload, "application/json") == 200
    stored = dict(InboundMessage.objects.values_list("subject", "authenticated"))
    assert stored == {"plain": False, "checked": True}


def test_the_trusted_authserv_ids_and_the_grace_are_read_from_the_environment():
    from tests.test_settings import refused, start

    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(','.join(s.INBOUND_TRUSTED_AUTHSERV_IDS) or '-', s.INBOUND_REPLY_GRACE_DAYS)"
    )
    assert start(code, SECRET_KEY="x").stdout.split() == ["-", "30"]
    configured = start(code, SECRET_KEY="x", INBOUND_TRUSTED_AUTHSERV_IDS="MX.Example.com, mx2.example.com")
    assert configured.stdout.split() == ["mx.example.com,mx2.example.com", "30"]
    assert start(code, SECRET_KEY="x", INBOUND_REPLY_GRACE_DAYS="7").stdout.split() == ["-", "7"]
    assert refused(start(SECRET_KEY="x", INBOUND_REPLY_GRACE_DAYS="soon"), "INBOUND_REPLY_GRACE_DAYS")
    assert refused(start(SECRET_KEY="x", INBOUND_REPLY_GRACE_DAYS="-1"), "INBOUND_REPLY_GRACE_DAYS")
