"""Webhook endpoints in the admin (issue 26): managers add one (the secret shown once, the address checked), agents
do not see them; deliveries with their attempts; resending."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from accounts.outbox import EventType, record
from tickets.webhooks import services
from tickets.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint

pytestmark = pytest.mark.django_db
ADD = "/admin/webhooks/webhookendpoint/add/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_manager_adds_an_endpoint_and_sees_its_secret_once(cast, receiver):
    # issue 26: the admin's endpoint form, the secret shown once (in the message after adding)
    desk = cast("avoxi")
    client = signed_in(desk.manager)
    form = {"url": receiver().url, "events": ["account.cancelled"], "description": "Billing", "enabled": "on"}
    answer = client.post(ADD, form, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    shown = [str(message) for message in get_messages(answer.wsgi_request)]
    assert answer.status_code == 200 and any(endpoint.secret in message for message in shown)
    assert (endpoint.events, endpoint.created_by, list(endpoint.owners.all())) == (
        ["account.cancelled"],
        desk.manager,
        [desk.manager],
    )
    page = client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in page


def test_the_admin_refuses_a_private_address(cast):
    # issue 26: the admin checks the address as the API does
    client = signed_in(cast("avoxi").manager)
    answer = client.post(ADD, {"url": "https://169.254.169.254/latest/", "events": ["*"], "enabled": "on"})
    assert answer.status_code == 200 and "not sent webhooks" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_agents_do_not_see_webhooks_in_the_admin(cast):
    # issue 26: manage_webhooks, which agents do not hold
    client = signed_in(cast("avoxi").agent)
    assert client.get("/admin/webhooks/webhookendpoint/").status_code == 403
    assert client.get("/admin/webhooks/delivery/").status_code == 403


def test_a_delivery_shows_its_attempts_and_can_be_resent(cast, endpoint_for, receiver):
    # issue 26: deliveries with attempts, resend actions
    desk = cast("avoxi")
    hook = receiver()
    endpoint, _secret = endpoint_for(hook.url)
    event = record(desk.account, EventType.ACCOUNT_CANCELLED, {})
    (delivery_id,) = services.fan_out(event.pk)
    services.attempt_delivery(delivery_id)  # refused: the receiver is not started
    client = signed_in(desk.manager)
    page = client.get(f"/admin/webhooks/delivery/{delivery_id}/change/").content.decode()
    assert DeliveryAttempt.objects.get().error.split(":")[0] in page
    answer = client.post(
        "/admin/webhooks/delivery/", {"action": "resend", "_selected_action": [delivery_id]}, follow=True
    )
    assert "1 deliveries queued again" in answer.content.decode()
    assert Delivery.objects.get().attempts in (0, 1)
