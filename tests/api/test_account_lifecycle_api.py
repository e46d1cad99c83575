"""SPEC §4, "Account lifecycle" through the REST API: a ticket of an account that is not active takes no
transition (issue 23, "Open cases outlive their account")."""

import pytest

from tests.factories import move_account
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_a_cancelled_accounts_port_out_takes_no_transition_through_the_api(world, client_for):
    # rule K8: once the account is cancelled its port-out moves no further, whoever asks; 409 with the date
    move_account(world.account, "cancel")
    url = f"/api/v1/tickets/{world.ticket.pk}/transitions/"
    response = client_for(world.people.agent).post(url, {"name": "verify"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "account_not_active"
    assert "cancelled on" in response.json()["detail"]
    assert Ticket.objects.get(pk=world.ticket.pk).state == "submitted"
