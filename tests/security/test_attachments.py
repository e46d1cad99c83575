"""Attachments: type and size checked on upload; served only through the case page's link to those who may see it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import services as provisioning
from tickets import services
from tickets.attachments import MAX_ATTACHMENT_BYTES
from tickets.models import Attachment

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture
def case(avoxi_port_out):
    return avoxi_port_out


def upload(client, ticket, name: str, content: bytes):
    return client.post(
        reverse("portal:attachment_upload", args=[ticket.pk]), {"file": SimpleUploadedFile(name, content)}
    )


@pytest.fixture
def attached(case, client):
    people, ticket = case
    client.force_login(people.billing_admin)
    assert upload(client, ticket, "loa.pdf", PDF).status_code == 302
    client.logout()
    return people, ticket, Attachment.objects.get(ticket=ticket)


@pytest.mark.parametrize(
    "name,content",
    [
        ("page.html", b"<script>alert(1)</script>"),
        ("drawing.svg", b"<svg onload=alert(1)>"),
        ("loa.pdf", b"<html><script>alert(1)</script>"),  # a PDF name on other contents
        ("photo.png", b"GIF89a"),
        ("notes.txt", b"MZ\x90\x00\x03\x00\x00\x00"),  # binary posing as text
        ("loa.PDF.exe", PDF),
        ("noextension", PDF),
    ],
)
def test_only_listed_types_with_matching_contents_are_accepted(case, client, name, content):
    people, ticket = case
    client.force_login(people.billing_admin)
    response = upload(client, ticket, name, content)
    assert response.status_code == 400  # the case page again, with the error
    assert not Attachment.objects.exists()


def test_a_file_over_the_limit_is_refused(case, client):
    people, ticket = case
    client.force_login(people.billing_admin)
    response = upload(client, ticket, "big.pdf", PDF + b"0" * MAX_ATTACHMENT_BYTES)
    assert "larger than 5 MB" in response.content.decode()
    assert not Attachment.objects.exists()


def test_the_served_type_comes_from_the_check_not_the_browser(case, client):
    people, ticket = case
    client.force_login(people.billing_admin)
    client.post(
        reverse("portal:attachment_upload", args=[ticket.pk]),
        {"file": SimpleUploadedFile("loa.pdf", PDF, content_type="text/html")},
    )
    assert Attachment.objects.get().content_type == "application/pdf"


def test_download_is_a_download_the_browser_may_not_sniff(attached, client):
    people, ticket, attachment = attached
    client.force_login(people.billing_admin)
    response = client.get(reverse("portal:attachment", args=[ticket.pk, attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


@pytest.mark.parametrize("who", ["owner", "super_admin", "billing_admin"])
def test_people_who_see_the_case_download_it(attached, client, who):
    people, ticket, attachment = attached
    client.force_login(getattr(people, who))
    assert client.get(reverse("portal:attachment", args=[ticket.pk, attachment.pk])).status_code == 200


def test_another_account_gets_404(attached, client):
    people, ticket, attachment = attached
    client.force_login(people.outsider)
    assert client.get(reverse("portal:attachment", args=[ticket.pk, attachment.pk])).status_code == 404


def test_a_member_cannot_fetch_a_case_they_did_not_ask_for(attached, client):
    people, ticket, attachment = attached
    client.force_login(people.member)
    assert client.get(reverse("portal:attachment", args=[ticket.pk, attachment.pk])).status_code == 404
    assert upload(client, ticket, "mine.pdf", PDF).status_code == 404


def test_an_attachment_id_under_another_case_is_404(attached, cast, client):
    people, ticket, attachment = attached
    client.force_login(people.owner)
    other_ticket = services.submit_ticket(
        account=people.account,
        kind="port_out",
        requester=people.owner,
        request=services.Request(
            numbers=[provisioning.add_number(account=people.account, number="+12025550178")],
            gaining_carrier="Telnyx",
            authorized_name=people.owner.full_name,
            pin="1234",
        ),
    )
    url = reverse("portal:attachment", args=[other_ticket.pk, attachment.pk])
    assert client.get(url).status_code == 404


def test_anonymous_is_sent_to_sign_in(attached, client):
    _, ticket, attachment = attached
    response = client.get(reverse("portal:attachment", args=[ticket.pk, attachment.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_files_are_not_served_from_media_url(attached, client):
    people, _, attachment = attached
    client.force_login(people.owner)
    assert client.get(f"/media/{attachment.file.name}").status_code == 404
