"""The ticket page: timeline, comments, attachments, withdraw; only for those who may see the case."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tickets import services
from tickets.models import Attachment, Comment

pytestmark = pytest.mark.django_db


@pytest.fixture
def port_out(avoxi_port_out):
    return avoxi_port_out


def page_url(ticket):
    return reverse("portal:ticket", args=[ticket.pk])


def test_timeline_shows_transitions_and_public_comments_only(port_out, signed_in):
    people, ticket = port_out
    services.transition_ticket(ticket=ticket, name="verify", actor=people.agent)
    services.add_comment(ticket=ticket, author=people.agent, body="Waiting for the carrier.")
    services.add_comment(ticket=ticket, author=people.agent, body="Internal: check the LOA", public=False)
    page = signed_in(people.billing_admin).get(page_url(ticket)).content.decode()
    assert "Submitted" in page and "Verified" in page
    assert "Waiting for the carrier." in page
    assert "Internal: check the LOA" not in page


def test_comment_box(port_out, signed_in):
    people, ticket = port_out
    client = signed_in(people.billing_admin)
    response = client.post(reverse("portal:ticket_comment", args=[ticket.pk]), {"body": "Invoices please"})
    assert response.url == page_url(ticket)
    assert Comment.objects.get(ticket=ticket).body == "Invoices please"
    assert client.post(reverse("portal:ticket_comment", args=[ticket.pk]), {"body": ""}).status_code == 400


def test_requester_withdraws_while_allowed(port_out, signed_in):
    people, ticket = port_out
    client = signed_in(people.billing_admin)
    assert "Withdraw this request" in client.get(page_url(ticket)).content.decode()
    client.post(reverse("portal:ticket_withdraw", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert ticket.state == "withdrawn"
    assert "Withdraw this request" not in client.get(page_url(ticket)).content.decode()


def test_no_withdraw_once_approved(port_out, signed_in):
    people, ticket = port_out
    services.transition_ticket(ticket=ticket, name="verify", actor=people.manager)
    services.transition_ticket(ticket=ticket, name="approve", actor=people.manager)
    client = signed_in(people.billing_admin)
    page = client.get(page_url(ticket)).content.decode()
    assert "Withdraw this request" not in page
    assert "the day the numbers move" in page  # the FOC date once approved
    response = client.post(reverse("portal:ticket_withdraw", args=[ticket.pk]), follow=True)
    assert "cannot be withdrawn" in response.content.decode()


def test_a_super_admin_who_did_not_ask_may_not_withdraw(port_out, signed_in):
    people, ticket = port_out
    assert "Withdraw this request" not in signed_in(people.super_admin).get(page_url(ticket)).content.decode()


def test_attachment_upload_and_download(port_out, signed_in):
    people, ticket = port_out
    client = signed_in(people.billing_admin)
    upload = SimpleUploadedFile("loa.pdf", b"%PDF-1.4 letter of authorization", content_type="application/pdf")
    client.post(reverse("portal:attachment_upload", args=[ticket.pk]), {"file": upload})
    attachment = Attachment.objects.get(ticket=ticket)
    assert (attachment.name, attachment.content_type) == ("loa.pdf", "application/pdf")
    download = reverse("portal:attachment", args=[ticket.pk, attachment.pk])
    response = client.get(download)
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert response["Content-Disposition"].startswith("attachment")
    assert signed_in(people.outsider).get(download).status_code == 404


@pytest.mark.parametrize(
    "name,content,error",
    [
        ("virus.exe", b"MZ...", "Only PDF, PNG, JPEG, text and CSV files can be attached."),
        ("fake.pdf", b"<html>not a pdf</html>", "not a PDF file"),
        ("big.txt", b"a" * (5 * 1024 * 1024 + 1), "larger than 5 MB"),
    ],
)
def test_attachment_type_and_size_are_checked(port_out, signed_in, name, content, error):
    people, ticket = port_out
    client = signed_in(people.billing_admin)
    response = client.post(
        reverse("portal:attachment_upload", args=[ticket.pk]), {"file": SimpleUploadedFile(name, content)}
    )
    assert error in response.content.decode()
    assert not Attachment.objects.exists()


def test_someone_elses_ticket_is_a_404(port_out, signed_in):
    people, ticket = port_out
    client = signed_in(people.outsider)
    assert client.get(page_url(ticket)).status_code == 404
    assert client.post(reverse("portal:ticket_comment", args=[ticket.pk]), {"body": "hi"}).status_code == 404
    assert client.post(reverse("portal:ticket_withdraw", args=[ticket.pk])).status_code == 404
    assert not Comment.objects.exists()


def test_every_form_needs_the_csrf_token(port_out):
    people, ticket = port_out
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.billing_admin)
    assert client.post(reverse("portal:ticket_comment", args=[ticket.pk]), {"body": "hi"}).status_code == 403
    assert 'name="csrfmiddlewaretoken"' in client.get(page_url(ticket)).content.decode()
