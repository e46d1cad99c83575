"""`public: false` from a customer on POST /api/v1/tickets/{id}/comments/ is a 400 on `public`, not a comment
silently published (issue 24, "Elsewhere"); staff still write internal notes (SPEC §5: customers never see them)."""

import pytest

from tests.factories import TicketFactory
from tickets.models import Comment

pytestmark = pytest.mark.django_db


def _comments(ticket):
    return f"/api/v1/tickets/{ticket.pk}/comments/"


def test_a_customer_asking_for_a_private_comment_is_refused_and_nothing_is_published(cast, client_for):
    people = cast("kixie")
    ticket = TicketFactory(account=people.account, requester=people.owner)
    response = client_for(people.owner).post(
        _comments(ticket), {"body": "Only for the desk: my PIN is 2468", "public": False}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request" and response.json()["field"] == "public"
    assert "public" in response.json()["detail"]
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_a_customers_public_comment_and_a_staff_internal_note_still_work(cast, client_for):
    people = cast("kixie")
    ticket = TicketFactory(account=people.account, requester=people.owner)
    public = client_for(people.owner).post(_comments(ticket), {"body": "Any news?", "public": True}, format="json")
    assert public.status_code == 201 and public.json()["public"] is True
    unsaid = client_for(people.owner).post(_comments(ticket), {"body": "Thanks"}, format="json")
    assert unsaid.status_code == 201 and unsaid.json()["public"] is True
    note = client_for(people.agent).post(_comments(ticket), {"body": "Called back", "public": False}, format="json")
    assert note.status_code == 201 and note.json()["public"] is False
    seen = client_for(people.owner).get(_comments(ticket)).json()["results"]
    assert [c["body"] for c in seen] == ["Any news?", "Thanks"]


def test_the_refusal_is_documented_on_the_operation(client):
    schema = client.get("/api/schema/?format=json").json()
    description = schema["paths"]["/api/v1/tickets/{id}/comments/"]["post"]["description"]
    assert "- 400 `invalid_request` on `public`:" in description
