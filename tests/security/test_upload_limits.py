"""Upload limits: per case (count and total size), per person per hour, and bodies above the limit refused from
their Content-Length before they are read; every free-text field bounded."""

import socket
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import FakePayload
from django.urls import reverse

from accounts import services as provisioning
from accounts.exceptions import Refusal
from tickets import services
from tickets.models import Attachment, Kind, Ticket

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"


def upload(client, ticket, content: bytes = PDF, name: str = "loa.pdf"):
    return client.post(
        reverse("portal:attachment_upload", args=[ticket.pk]), {"file": SimpleUploadedFile(name, content)}
    )


def test_a_case_holds_at_most_its_count_of_files(avoxi_port_out, client, settings):
    people, ticket = avoxi_port_out
    settings.ATTACHMENTS_PER_TICKET = 3
    client.force_login(people.billing_admin)
    assert [upload(client, ticket).status_code for _ in range(3)] == [302, 302, 302]
    refused = upload(client, ticket)
    assert refused.status_code == 400  # the case page with the form's error
    assert "at most 3 files" in str(refused.context["attachment_form"].errors["file"])
    assert Attachment.objects.filter(ticket=ticket).count() == 3


def test_a_case_holds_at_most_its_total_size(avoxi_port_out, client, settings):
    people, ticket = avoxi_port_out
    settings.ATTACHMENT_MB_PER_TICKET = 1
    client.force_login(people.billing_admin)
    big = PDF + b"0" * (600 * 1024)
    assert upload(client, ticket, big).status_code == 302
    refused = upload(client, ticket, big)
    assert "at most 1 MB" in str(refused.context["attachment_form"].errors["file"])
    assert Attachment.objects.filter(ticket=ticket).count() == 1


def test_a_person_attaches_at_most_so_many_files_an_hour_across_cases(avoxi_port_out, client, settings):
    people, ticket = avoxi_port_out
    settings.ATTACHMENTS_PER_USER_HOUR = 2
    line = provisioning.add_number(account=people.account, number="+12025550178")
    other = services.submit_ticket(
        account=people.account,
        kind=Kind.NUMBER_CANCELLATION,
        requester=people.billing_admin,
        request=services.Request(numbers=[line], full_name="Bea", company="Acme", contact="bea@acme.test"),
    )
    client.force_login(people.billing_admin)
    assert upload(client, ticket).status_code == 302
    assert upload(client, other).status_code == 302
    refused = upload(client, other)
    assert "2 files an hour" in str(refused.context["attachment_form"].errors["file"])


def test_a_body_larger_than_the_limit_is_refused_before_it_is_read(avoxi_port_out, client):
    # A 60 MB upload was read in full before the 400; the payload here holds 10 bytes: reading it would fail.
    people, ticket = avoxi_port_out
    client.force_login(people.billing_admin)
    url = reverse("portal:attachment_upload", args=[ticket.pk])
    response = client.generic(
        "POST",
        url,
        b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(60 * 1024 * 1024),
        **{"wsgi.input": FakePayload(b"--xyz--\r\n\r\n")},
    )
    assert response.status_code == 413
    api = client.generic("POST", "/api/v1/tickets/", b"", content_type="application/json", CONTENT_LENGTH="99999999")
    assert api.status_code == 413 and api.json()["code"] == "too_large"
    assert not Attachment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_live_server_answers_413_to_a_large_body_before_any_of_it_is_sent(avoxi_port_out, client, live_server):
    # issue 14: served as `make run` serves it (Django's WSGI server, as live_server), the 413 was a 500: the
    # response set `Connection: close`, a hop-by-hop header a WSGI application may not set (PEP 3333).
    people, ticket = avoxi_port_out
    client.force_login(people.billing_admin)
    name = settings_cookie_name()
    cookie = f"{name}={client.cookies[name].value}"
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    head = (
        f"POST {reverse('portal:attachment_upload', args=[ticket.pk])} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Cookie: {cookie}\r\nContent-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {60 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(head.encode())  # headers only: the answer must come without the body
        answer = read_response(conn)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "larger than 6 MB" in answer
    assert not Attachment.objects.exists()


def read_response(conn: socket.socket) -> str:
    """What the server sends until it falls silent for a second (the connection stays open: the body never comes)."""
    data = b""
    conn.settimeout(1)
    while True:
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            return data.decode("latin-1")
        if not chunk:
            return data.decode("latin-1")
        data += chunk


def settings_cookie_name() -> str:
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME


def test_the_exit_survey_comment_is_bounded(cast):
    people = cast("kustomer")
    with pytest.raises(Refusal) as refused:
        services.submit_ticket(
            account=people.account,
            kind=Kind.ACCOUNT_CANCELLATION,
            requester=people.owner,
            request=services.Request(
                reason="other", comment="x" * 119_999, acknowledgements=list(people.policy.acknowledgements)
            ),
        )
    assert refused.value.code == "invalid_request" and refused.value.field == "comment"
    assert not Ticket.objects.filter(account=people.account).exists()


def test_a_comment_and_a_rejection_reason_are_bounded(avoxi_port_out):
    people, ticket = avoxi_port_out
    with pytest.raises(Refusal) as comment:
        services.add_comment(ticket=ticket, author=people.billing_admin, body="x" * 5001)
    assert comment.value.code == "invalid_request"
    with pytest.raises(Refusal) as reason:
        services.transition_ticket(
            ticket=ticket, name="reject", actor=people.agent, reason="x" * 5001, code="invalid_pin"
        )
    assert reason.value.code == "invalid_request"
    assert Ticket.objects.get(pk=ticket.pk).state == "submitted"
