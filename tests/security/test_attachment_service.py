"""One add_attachment service (tickets/attachments.py) for the portal, the admin and email: the same limits for
everyone, and a staff-only file never reaches a customer (issue 24, "Email attachments obey the portal's rules")."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.exceptions import Refusal
from tests.factories import AttachmentFactory
from tickets.attachments import add_attachment
from tickets.models import Attachment

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture
def case(avoxi_port_out, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return avoxi_port_out


def _admin_post(ticket, upload, *, public: bool) -> dict:
    data = {
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
    if public:
        data["attachments-0-public"] = "on"
    return data


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_attaching_in_the_admin_meet_the_hourly_limit_too(case, settings):
    people, ticket = case
    settings.ATTACHMENTS_PER_USER_HOUR = 2
    agent = _signed_in(people.agent)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    for n in range(2):
        upload = SimpleUploadedFile(f"loa-{n}.pdf", PDF)
        assert agent.post(url, _admin_post(ticket, upload, public=True)).status_code == 302
    third = agent.post(url, _admin_post(ticket, SimpleUploadedFile("loa-2.pdf", PDF), public=True))
    assert "You can attach at most 2 files an hour" in third.content.decode()
    assert ticket.attachments.count() == 2


def test_a_file_staff_keep_for_staff_is_not_shown_to_the_customer(case):
    people, ticket = case
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    agent = _signed_in(people.agent)
    for name, public in (("fraud-check.pdf", False), ("loa-signed.pdf", True)):
        assert agent.post(url, _admin_post(ticket, SimpleUploadedFile(name, PDF), public=public)).status_code == 302
    private = Attachment.objects.get(name="fraud-check.pdf")

    owner = _signed_in(people.owner)
    page = owner.get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert "loa-signed.pdf" in page and "fraud-check.pdf" not in page
    assert owner.get(reverse("portal:attachment", args=[ticket.pk, private.pk])).status_code == 404
    assert agent.get(reverse("admin:tickets_ticket_attachment", args=[ticket.pk, private.pk])).status_code == 200


def test_the_service_refuses_past_the_cases_limit_whoever_attaches(case, settings):
    people, ticket = case
    settings.ATTACHMENTS_PER_TICKET = 2
    AttachmentFactory.create_batch(2, ticket=ticket, uploaded_by=people.owner)
    for who in (people.owner, people.agent, None):
        with pytest.raises(Refusal) as refused:
            add_attachment(ticket=ticket, upload=SimpleUploadedFile("late.pdf", PDF), uploaded_by=who)
        assert (refused.value.code, refused.value.field) == ("invalid_request", "file")
        assert refused.value.detail == "A case holds at most 2 files."
    assert ticket.attachments.count() == 2
