"""Files through the API: the same add_attachment service, limits and visibility as the portal, the admin and
email (issue 24, "Email attachments obey the portal's rules": one service every door calls)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture
def case(cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    people = cast("kixie")
    people.ticket = TicketFactory(account=people.account, requester=people.owner)
    return people


def _files(ticket) -> str:
    return f"/api/v1/tickets/{ticket.pk}/attachments/"


def _post(client, ticket, name: str, content: bytes = PDF, **fields):
    return client.post(_files(ticket), {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")


def test_a_customer_attaches_a_file_lists_it_and_downloads_it(case, client_for):
    owner = client_for(case.owner)
    created = _post(owner, case.ticket, "loa.pdf")
    assert created.status_code == 201, created.content
    assert {k: created.json()[k] for k in ("name", "content_type", "size", "public")} == {
        "name": "loa.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "public": True,
    }
    [listed] = owner.get(_files(case.ticket)).json()["results"]
    download = owner.get(f"{_files(case.ticket)}{listed['id']}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF


def test_the_api_meets_the_portals_limits_and_checks(case, client_for, settings):
    settings.ATTACHMENTS_PER_TICKET = 2
    owner = client_for(case.owner)
    fake = _post(owner, case.ticket, "loa.pdf", b"<html><script>alert(1)</script>")
    assert fake.status_code == 400 and fake.json()["field"] == "file"
    assert _post(owner, case.ticket, "one.pdf").status_code == 201
    assert _post(owner, case.ticket, "two.pdf").status_code == 201
    third = _post(owner, case.ticket, "three.pdf")
    assert third.status_code == 400
    assert third.json() == {"code": "invalid_request", "detail": "A case holds at most 2 files.", "field": "file"}


def test_a_customer_cannot_keep_a_file_for_staff_but_staff_can(case, client_for):
    refused = _post(client_for(case.owner), case.ticket, "secret.pdf", public="false")
    assert refused.status_code == 400 and refused.json()["field"] == "public"
    kept = _post(client_for(case.agent), case.ticket, "fraud-check.pdf", public="false")
    assert kept.status_code == 201 and kept.json()["public"] is False

    assert client_for(case.owner).get(_files(case.ticket)).json()["results"] == []
    assert client_for(case.owner).get(f"{_files(case.ticket)}{kept.json()['id']}/").status_code == 404
    staff_list = client_for(case.agent).get(_files(case.ticket)).json()["results"]
    assert [f["name"] for f in staff_list] == ["fraud-check.pdf"]


def test_a_member_who_does_not_see_the_case_gets_a_404(case, client_for):
    assert _post(client_for(case.member), case.ticket, "loa.pdf").status_code == 404
    assert client_for(case.member).get(_files(case.ticket)).status_code == 404
