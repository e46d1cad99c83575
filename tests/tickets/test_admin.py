"""The agents' desk in the admin: buttons for exactly what the user may do now, and the server refusing the rest."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts import services as provisioning
from billing.services import day_text
from numbers.models import PhoneNumber
from tickets.models import Kind, State, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def kixie(cast, in_business_hours):
    from billing.models import Plan

    desk = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    desk.line = provisioning.add_number(account=desk.account, number="+12025550143")
    return desk


def change_page(client, ticket):
    return client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))


def post_transition(client, ticket, name, **data):
    return client.post(reverse("admin:tickets_ticket_transition", args=[ticket.pk, name]), data, follow=True)


def buttons(response) -> set[str]:
    html = response.content.decode()
    return {
        name
        for name in ("verify", "approve", "complete", "reject", "withdraw")
        if f'name="transition" value="{name}"' in html
    }


def test_agent_and_manager_take_a_kixie_cancellation_to_completed_in_the_admin(client, kixie, submit):
    # rules K6, K7, K8 through the admin
    ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent)
    client.force_login(kixie.agent)
    assert buttons(change_page(client, ticket)) == {"verify", "reject"}
    page = post_transition(client, ticket, "verify", card_last4="1111")
    assert "do not match the card on file. [verification_failed]" in page.content.decode()
    page = post_transition(client, ticket, "verify", card_last4="4242")
    assert "is now verified" in page.content.decode()
    assert buttons(page) == {"reject"}  # approve is the manager's
    client.force_login(kixie.manager)
    assert "is now approved" in post_transition(client, ticket, "approve").content.decode()
    client.force_login(kixie.agent)
    assert "is now completed" in post_transition(client, ticket, "complete").content.decode()
    kixie.owner.refresh_from_db()
    assert PhoneNumber.objects.get(pk=kixie.line.pk).status == "released"
    assert kixie.owner.is_active is False
    assert not client.login(email=kixie.member.email, password="test-pass-2026")


def test_the_desk_says_when_a_request_arrived_too_late_for_the_coming_bill(client, kixie, submit):
    # K5 at the desk: Kixie takes cancellations by phone, so the agent is the one who must see it
    ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent)
    arrived = ticket.created_at.astimezone(kixie.policy.tz).date()
    subscription = kixie.account.subscription
    subscription.seats = 4
    subscription.next_billing_date = arrived + dt.timedelta(days=10)
    subscription.save()
    client.force_login(kixie.agent)
    page = change_page(client, ticket).content.decode()
    assert f"Next bill on {day_text(subscription.next_billing_date)}: 4 seats" in page
    assert f"Cancel or change the account before {day_text(subscription.next_billing_date)}" in page
    subscription.next_billing_date = arrived
    subscription.save()
    page = change_page(client, ticket).content.decode()
    assert f"This request arrived on {day_text(arrived)}. Too late for this bill" in page
    # A date too early to count the policy's cut-off back from is simply too late, not a 500.
    kixie.policy.billing_cutoff_days = 5
    kixie.policy.save()
    subscription.next_billing_date = dt.date(1, 1, 1)
    subscription.save()
    assert "Too late for this bill" in change_page(client, ticket).content.decode()


def test_forged_post_for_a_transition_the_user_may_not_run_is_refused(client, kixie, submit):
    ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent, card_last4="4242")
    assert ticket.state == State.VERIFIED
    client.force_login(kixie.agent)
    assert "approve" not in buttons(change_page(client, ticket))
    page = post_transition(client, ticket, "approve")
    assert "permission to approve tickets. [role_not_allowed]" in page.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).state == State.VERIFIED


def test_transition_url_refuses_get_and_customers(client, kixie, submit):
    ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent)
    client.force_login(kixie.agent)
    assert client.get(reverse("admin:tickets_ticket_transition", args=[ticket.pk, "verify"])).status_code == 405
    client.force_login(kixie.owner)
    response = client.post(reverse("admin:tickets_ticket_transition", args=[ticket.pk, "verify"]))
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert Ticket.objects.get(pk=ticket.pk).state == State.SUBMITTED


def test_smrtphone_cancellation_refused_while_port_out_pending(client, cast, submit):
    # rule S10 through the admin
    desk = cast("smrtphone")
    line = provisioning.add_number(account=desk.account, number="+12025550177")
    submit(
        desk, Kind.PORT_OUT, numbers=[line], gaining_carrier="Telnyx", authorized_name=desk.owner.full_name, pin="1234"
    )
    client.force_login(desk.agent)
    response = client.post(
        reverse("admin:tickets_ticket_add"),
        {"account": desk.account.pk, "requester": desk.owner.pk, "kind": "account_cancellation", "channel": "phone"},
    )
    assert "All port-outs must be complete" in response.content.decode()
    assert not Ticket.objects.filter(account=desk.account, kind="account_cancellation").exists()


def test_log_is_read_only_and_tickets_cannot_be_deleted(client, kixie, submit):
    ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent)
    client.force_login(kixie.manager)
    row = ticket.log.first()
    assert client.get(reverse("admin:tickets_transitionlog_change", args=[row.pk])).status_code == 200
    assert client.post(reverse("admin:tickets_transitionlog_delete", args=[row.pk])).status_code == 403
    assert client.post(reverse("admin:tickets_ticket_delete", args=[ticket.pk])).status_code == 403


def test_changelist_filters_and_search(client, kixie, submit):
    ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent)
    client.force_login(kixie.agent)
    url = reverse("admin:tickets_ticket_changelist")
    for query in (kixie.account.account_id, kixie.owner.email, "+12025550143"):
        page = client.get(url, {"q": query})
        assert f"/admin/tickets/ticket/{ticket.pk}/change/" in page.content.decode(), query
    assert client.get(url, {"state": "submitted", "kind": "account_cancellation"}).status_code == 200


def _inline_post(ticket, upload) -> dict:
    """The ticket change form as the admin posts it: the editable fields and the three inlines' management data."""
    return {
        "assignee": "",
        "priority": ticket.priority,
        "log-TOTAL_FORMS": "0",
        "log-INITIAL_FORMS": "0",
        "comments-TOTAL_FORMS": "0",
        "comments-INITIAL_FORMS": "0",
        "attachments-TOTAL_FORMS": "1",
        "attachments-INITIAL_FORMS": "0",
        "attachments-0-file": upload,
    }


def test_staff_attachments_are_checked_and_served_only_to_staff(client, kixie, submit, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent)
    client.force_login(kixie.manager)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    fake = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    page = client.post(url, _inline_post(ticket, fake))
    assert "contents are not a PDF file" in page.content.decode()
    assert not ticket.attachments.exists()
    real = SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 minimal", content_type="text/html")
    assert client.post(url, _inline_post(ticket, real)).status_code == 302
    attachment = ticket.attachments.get()
    assert attachment.content_type == "application/pdf" and attachment.uploaded_by == kixie.manager
    download = reverse("admin:tickets_ticket_attachment", args=[ticket.pk, attachment.pk])
    assert download in client.get(url).content.decode()
    assert b"".join(client.get(download).streaming_content) == b"%PDF-1.4 minimal"
    client.force_login(kixie.owner)
    assert client.get(download).status_code == 302  # customers are sent to the admin sign-in, no file
