"""Webhook endpoints over the API (SPEC appendix, issue 26): who may, the secret shown once, refused addresses,
deliveries, rotation and resending."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from accounts.outbox import EventType, record
from tests.factories import StaffFactory
from tickets import access
from tickets.webhooks import services
from tickets.webhooks.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhook-endpoints/"


@pytest.fixture
def people(cast):
    return cast("kixie")


def create(client, **body):
    return client.post(URL, {"url": "http://127.0.0.1:9/in", "events": ["*"], **body}, format="json")


def test_managers_and_superusers_manage_webhooks_agents_and_customers_do_not(people, client_for):
    # issue 26: a new manage_webhooks permission, held by managers and (implicitly) superusers
    superuser = StaffFactory(is_superuser=True)
    assert access.may_manage_webhooks(people.manager) and access.may_manage_webhooks(superuser)
    assert not access.may_manage_webhooks(people.agent) and not access.may_manage_webhooks(people.owner)
    assert create(client_for(people.manager)).status_code == 201
    assert create(client_for(superuser)).status_code == 201
    for refused in (people.agent, people.owner):
        assert create(client_for(refused)).status_code == 403
        assert client_for(refused).get(URL).status_code == 403
        assert client_for(refused).get(URL).json()["code"] == "role_not_allowed"
    assert client_for(None).get(URL).status_code == 401


def test_the_secret_is_in_the_creating_answer_only(people, client_for):
    # issue 26: a whsec_ secret shown once
    client = client_for(people.manager)
    answer = create(client, description="Billing sync", ordered=True, events=["account.cancelled"])
    body = answer.json()
    assert answer.status_code == 201
    assert set(body) >= {"id", "url", "events", "enabled", "ordered", "secret"}
    assert body["secret"].startswith("whsec_") and Webhook(body["secret"])  # a key the library takes
    assert (body["ordered"], body["enabled"], body["events"]) == (True, True, ["account.cancelled"])
    listed = client.get(URL).json()
    detail = client.get(f"{URL}{body['id']}/").json()
    assert "secret" not in listed["results"][0] and "secret" not in detail
    assert body["secret"] not in str(listed) + str(detail)


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://192.168.1.20/",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://100.64.0.1/",
        "http://203.0.113.10/",  # plain http to a host not listed
        "ftp://example.com/",
        "https://user:pass@127.0.0.1/",
        "https://no-such-host.invalid/",
    ],
)
def test_an_address_that_is_not_public_is_refused_at_creation(url, people, client_for, settings):
    # issue 26: only https://; private, loopback, link-local, metadata and the like refused: 400 url_not_allowed
    settings.WEBHOOK_ALLOW_NETWORKS = []
    answer = create(client_for(people.manager), url=url)
    assert answer.status_code == 400, answer.json()
    assert answer.json()["code"] == "url_not_allowed"
    assert not WebhookEndpoint.objects.exists()


def test_allowed_networks_and_hosts_open_loopback_for_the_tests(people, client_for, settings):
    # issue 26: WEBHOOK_ALLOW_NETWORKS lists CIDRs let through; WEBHOOK_ALLOWED_HOSTS may take http://
    client = client_for(people.manager)
    assert create(client, url="http://127.0.0.1:9/in").status_code == 201
    settings.WEBHOOK_ALLOWED_HOSTS = []
    assert create(client, url="http://127.0.0.1:9/in").json()["code"] == "url_not_allowed"
    assert create(client, url="https://127.0.0.1:9/in").status_code == 201
    settings.WEBHOOK_ALLOW_NETWORKS = []
    assert create(client, url="https://127.0.0.1:9/in").json()["code"] == "url_not_allowed"


def test_patch_disables_enables_and_changes_events(people, client_for):
    # issue 26: PATCH (enable, events...)
    client = client_for(people.manager)
    pk = create(client).json()["id"]
    answer = client.patch(f"{URL}{pk}/", {"enabled": False, "events": ["ticket.completed"]}, format="json")
    assert answer.status_code == 200
    assert (answer.json()["enabled"], answer.json()["events"]) == (False, ["ticket.completed"])
    assert client.patch(f"{URL}{pk}/", {"url": "https://10.0.0.1/"}, format="json").json()["code"] == (
        "url_not_allowed"
    )
    assert client.patch(f"{URL}{pk}/", {"enabled": True}, format="json").json()["enabled"] is True


def test_rotate_secret_answers_the_new_secret_and_keeps_the_old_for_a_day(people, client_for):
    # issue 26: POST /rotate-secret/ → {"secret"}; the old one signs beside it for 24 h
    client = client_for(people.manager)
    created = create(client).json()
    answer = client.post(f"{URL}{created['id']}/rotate-secret/")
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert answer.status_code == 200 and answer.json()["secret"].startswith("whsec_")
    assert endpoint.signing_secrets() == [answer.json()["secret"], created["secret"]]
    assert endpoint.signing_secrets(timezone.now() + dt.timedelta(hours=24, seconds=1)) == [answer.json()["secret"]]


def test_deliveries_list_and_resend(people, client_for, tasks_in_process):
    # issue 26: GET /deliveries/ and POST /resend/ {"since"} or {"event_ids"} → {"queued"}
    client = client_for(people.manager)
    pk = create(client).json()["id"]
    endpoint = WebhookEndpoint.objects.get(pk=pk)
    events = [record(people.account, EventType.ACCOUNT_CANCELLED, {"n": n}) for n in range(3)]
    for event in events:
        services.fan_out(event.pk)
    Delivery.objects.filter(event=events[0]).update(status="exhausted", attempts=8, next_attempt_at=None)
    Delivery.objects.filter(event=events[1]).update(status="delivered", delivered_at=timezone.now())
    rows = client.get(f"{URL}{pk}/deliveries/").json()["results"]
    assert [row["event_id"] for row in rows] == [event.public_id for event in reversed(events)]
    assert set(rows[0]) == {
        "event_id", "type", "attempts", "status", "last_status_code", "next_attempt_at", "delivered_at"
    }  # fmt: skip
    since = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    assert client.post(f"{URL}{pk}/resend/", {"since": since}, format="json").json() == {"queued": 1}
    assert client.post(f"{URL}{pk}/resend/", {"event_ids": [events[1].public_id]}, format="json").json() == {
        "queued": 1
    }
    assert client.post(f"{URL}{pk}/resend/", {}, format="json").status_code == 400
    # an endpoint subscribed to ticket events only is never resent an account's
    narrow = create(client, events=["ticket.completed"]).json()["id"]
    resent = client.post(f"{URL}{narrow}/resend/", {"event_ids": [events[2].public_id]}, format="json").json()
    assert resent == {"queued": 0}
    assert not Delivery.objects.filter(endpoint_id=narrow).exists()
    assert Delivery.objects.get(endpoint=endpoint, event=events[0]).attempts in (0, 1)  # reset, then sent again
    assert client.get(f"{URL}999999/deliveries/").status_code == 404
