"""The triage queue: the page, the admin list and the API turn a known member's email into a ticket in one step."""

import pytest
from rest_framework.test import APIClient

from tests.inbound.conftest import email_bytes
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive
from tickets.models import Ticket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _tasks(tasks_in_process):
    """Emails in-process."""


@pytest.fixture
def desk(cast):
    return cast("avoxi")


@pytest.fixture
def emailed(desk):
    return receive(
        email_bytes(
            sender=f"Owner <{desk.owner.email}>",
            subject="Cancel the number",
            body="Please cancel our spare number.\n",
            attachments=[("letter.png", "image/png", PNG)],
            authenticated=True,
        ),
        source="file",
    )


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def number(desk):
    from accounts import services

    return services.add_number(account=desk.account, number="+12025550111")


def test_the_api_lists_messages_newest_first_and_filters_by_status(desk, emailed):
    stranger = receive(email_bytes(sender="stranger@nowhere.test", subject="Hi"), source="file")
    bounce = receive(email_bytes(sender="mailer-daemon@mx.test", subject="Undeliverable"), source="file")
    body = api(desk.agent).get("/api/v1/inbound/").json()
    rows = body["results"]
    assert [r["id"] for r in rows] == [bounce.pk, stranger.pk, emailed.pk]
    first = next(r for r in rows if r["id"] == emailed.pk)
    assert {k: first[k] for k in ("from", "subject", "status", "ticket", "member")} == {
        "from": desk.owner.email,
        "subject": "Cancel the number",
        "status": "triage",
        "ticket": None,
        "member": desk.owner.pk,
    }
    ignored = api(desk.agent).get("/api/v1/inbound/", {"status": "ignored"}).json()["results"]
    assert [r["id"] for r in ignored] == [bounce.pk]


def test_customers_cannot_read_the_email_channel(desk, emailed):
    assert api(desk.owner).get("/api/v1/inbound/").status_code == 403
    response = api(desk.owner).post(
        f"/api/v1/inbound/{emailed.pk}/convert/", {"kind": "account_cancellation", "account": desk.account.pk}
    )
    assert response.status_code == 403


def test_an_agent_converts_an_email_through_the_api(desk, emailed):
    line = number(desk)
    response = api(desk.agent).post(
        f"/api/v1/inbound/{emailed.pk}/convert/",
        {"kind": "number_cancellation", "account": desk.account.pk, "number": line.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert (ticket.channel, ticket.requester, ticket.created_at) == ("email", desk.owner, emailed.received_at)
    first = ticket.comments.get()
    assert first.author == desk.owner and "Please cancel our spare number." in first.body
    assert [a.name for a in ticket.attachments.all()] == ["letter.png"]
    emailed.refresh_from_db()
    assert (emailed.status, emailed.ticket, emailed.handled_by) == ("converted", ticket, desk.agent)
    row = api(desk.agent).get("/api/v1/inbound/", {"status": "converted"}).json()["results"][0]
    assert row["ticket"] == ticket.pk


def test_an_email_is_converted_once(desk, emailed):
    line = number(desk)
    data = {"kind": "number_cancellation", "account": desk.account.pk, "number": line.pk}
    assert api(desk.agent).post(f"/api/v1/inbound/{emailed.pk}/convert/", data, format="json").status_code == 201
    again = api(desk.manager).post(f"/api/v1/inbound/{emailed.pk}/convert/", data, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_handled")
    assert Ticket.objects.count() == 1


def test_a_refused_conversion_leaves_the_email_in_triage(desk, emailed):
    response = api(desk.agent).post(
        f"/api/v1/inbound/{emailed.pk}/convert/",
        {"kind": "number_cancellation", "account": desk.other_account.pk, "number": 1},
        format="json",
    )
    assert response.status_code in (400, 403, 409) and response.json()["code"]
    emailed.refresh_from_db()
    assert emailed.status == "triage" and not Ticket.objects.exists()


def test_an_unknown_sender_waits_unverified_and_cannot_be_converted(desk):
    stranger = receive(email_bytes(sender="stranger@nowhere.test"), source="file")
    response = api(desk.agent).post(
        f"/api/v1/inbound/{stranger.pk}/convert/",
        {"kind": "account_cancellation", "account": desk.account.pk},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (409, "unverified_sender")


def test_the_triage_page_shows_the_text_and_the_senders_accounts(desk, emailed, client, django_assert_max_num_queries):
    for n in range(5):
        receive(email_bytes(sender=desk.member.email, subject=f"Question {n}", authenticated=True), source="file")
    receive(email_bytes(sender="stranger@nowhere.test", subject="Who am I"), source="file")
    client.force_login(desk.agent)
    with django_assert_max_num_queries(12):
        page = client.get("/queues/triage/")
    html = page.text
    assert page.status_code == 200
    assert "Please cancel our spare number." in html and desk.account.account_id in html
    assert "Known customer" in html and "Sender not verified" in html and "Question 4" in html


def test_customers_do_not_find_the_triage_page(desk, client):
    client.force_login(desk.owner)
    assert client.get("/queues/triage/").status_code == 404


def test_an_agent_dismisses_an_email_that_is_not_a_request(desk, emailed, client):
    client.force_login(desk.agent)
    client.post(f"/queues/triage/{emailed.pk}/dismiss/")
    emailed.refresh_from_db()
    assert emailed.status == "ignored" and emailed.handled_by == desk.agent


def test_the_admin_lists_emails_and_never_shows_a_mailbox_password(desk, emailed, client, admin_user):
    from tickets.inbound.models import Mailbox

    mailbox = Mailbox.objects.create(name="support", host="imap.test", username="u", password="s3cret-pass")
    client.force_login(admin_user)
    assert "Cancel the number" in client.get("/admin/inbound/inboundmessage/").text
    assert desk.account.account_id in client.get(f"/admin/inbound/inboundmessage/{emailed.pk}/change/").text
    form = client.get(f"/admin/inbound/mailbox/{mailbox.pk}/change/").text
    assert "s3cret-pass" not in form
    # Saving without typing the password keeps it.
    client.post(
        f"/admin/inbound/mailbox/{mailbox.pk}/change/",
        {
            "name": "support",
            "enabled": "on",
            "host": "imap.test",
            "port": 993,
            "use_tls": "on",
            "username": "u",
            "password": "",
            "folder": "INBOX",
            "policy": "",
            "kind": "",
        },
    )
    mailbox.refresh_from_db()
    assert mailbox.password == "s3cret-pass"
    assert InboundMessage.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_agents_converting_one_email_at_once_make_one_ticket(cast):
    import threading

    from django.db import connection

    from accounts.exceptions import Refusal
    from tickets.inbound.services import convert_message
    from tickets.services import Request

    desk = cast("avoxi")
    line = number(desk)
    message = receive(email_bytes(sender=desk.owner.email, authenticated=True), source="file")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def convert() -> None:
        barrier.wait()
        try:
            convert_message(
                message=message.pk,
                actor=desk.agent,
                kind="number_cancellation",
                account=desk.account,
                request=Request(numbers=[line.pk]),
            )
            outcomes.append("ok")
        except Refusal as refusal:
            outcomes.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=convert) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_handled"] * 7 + ["ok"]
    assert Ticket.objects.count() == 1


def test_agents_read_the_emails_in_the_admin_and_managers_set_up_mailboxes(desk, emailed, client):
    client.force_login(desk.agent)
    assert "Cancel the number" in client.get("/admin/inbound/inboundmessage/").text
    assert client.get("/admin/inbound/mailbox/").status_code == 403
    client.force_login(desk.manager)
    assert client.get("/admin/inbound/mailbox/add/").status_code == 200


def test_an_unknown_or_empty_status_filter_is_a_clear_400(desk, emailed):
    for value in ("", "pending"):
        response = api(desk.agent).get("/api/v1/inbound/", {"status": value})
        assert (response.status_code, response.json()["code"]) == (400, "invalid_request")
