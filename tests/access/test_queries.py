"""Asking tickets.access costs a fixed number of queries whatever the number of rows."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import TicketFactory


def _list_queries(user) -> int:
    client = APIClient()
    client.force_authenticate(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/tickets/")
    assert response.status_code == 200
    return len(captured)


def test_a_customers_ticket_list_asks_the_same_queries_for_1_and_20_cases(cast):
    people = cast("kixie")
    TicketFactory(kind="number_cancellation", account=people.account, requester=people.owner)
    one = _list_queries(people.owner)
    for _ in range(19):
        TicketFactory(kind="number_cancellation", account=people.account, requester=people.member)
    assert _list_queries(people.owner) == one
