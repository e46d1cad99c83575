"""A NUL byte in a URL's path is a 404 on SQLite and PostgreSQL alike, never a 500 (issue 24, "Elsewhere":
`/a/<id>%00/` answered 500 on PostgreSQL, which cannot compare text holding NUL; config/hostile_input.py)."""

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(cast):
    people = cast("kixie")
    people.superuser = User.objects.create_superuser(email="root@exitdesk.test", password="a-long-password-2026")
    people.ticket = TicketFactory(account=people.account, requester=people.owner)
    return people


def _paths(desk) -> list[str]:
    account_id = desk.account.account_id
    return [
        f"/a/{account_id}%00/",
        f"/a/%00{account_id}/",
        f"/a/{account_id}%00/products/",
        f"/a/{account_id}%00/request/downgrade/",
        f"/a/{account_id}/request/downgrade%00/",
        f"/a/{account_id}/cancel/survey%00/",
        f"/a/{account_id}%00/export/",
        "/port-out/withdraw/abc%00def/",
        "/verify/confirm/abc%00def/",
        f"/tickets/{desk.ticket.pk}%00/",
    ]


ADMIN_PATHS = [
    "/admin/authtoken/tokenproxy/abc%00def/change/",
    "/admin/accounts/user/1%00/change/",
    "/admin/tickets/ticket/1%00/change/",
    "/admin/sessions%00/",
]


def test_a_nul_in_a_portal_path_is_a_404_for_the_owner_and_for_nobody(desk):
    owner = Client()
    owner.force_login(desk.owner)
    answers = {path: owner.get(path).status_code for path in _paths(desk)}
    assert answers == dict.fromkeys(answers, 404)
    # Signed out, the same: nothing to sign in for.
    assert {path: Client().get(path).status_code for path in _paths(desk)} == answers
    # The same pages without the NUL still answer.
    assert owner.get(f"/a/{desk.account.account_id}/").status_code == 200


def test_a_nul_in_an_admin_path_is_a_404(desk):
    client = Client()
    client.force_login(desk.superuser)
    answers = {path: client.get(path).status_code for path in ADMIN_PATHS}
    assert answers == dict.fromkeys(answers, 404)
    posted = client.post("/admin/authtoken/tokenproxy/abc%00def/delete/", {"post": "yes"})
    assert posted.status_code == 404


def test_a_nul_in_an_api_path_is_the_apis_own_404(desk, client):
    client.force_login(desk.owner)
    for path in (f"/api/v1/tickets/{desk.ticket.pk}%00/", "/api/v1/tickets%00/", "/api/v1/auth/token%00/"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path
