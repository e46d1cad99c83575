"""U3, A11: the account manager of the route approves their tickets, through the API and the admin alike, and the
approve button shows exactly when the server would accept it (issue 23: "The account manager cannot approve")."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services as provisioning
from tests.factories import StaffFactory
from tickets import services
from tickets.models import State

pytestmark = pytest.mark.django_db

KUSTOMER_ACKS = ["access_removed", "data_saved", "data_deleted_after_retention"]


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def routed_premium_cancellation(people):
    """A Kustomer Premium cancellation routed to the account's customer-success manager (an agent, not a support
    manager), verified by another agent."""
    people.csm = StaffFactory(full_name="Casey Success")
    people.account.account_manager = people.csm
    people.account.save(update_fields=["account_manager"])
    ticket = services.submit_ticket(
        account=people.account,
        kind="account_cancellation",
        requester=people.owner,
        request=services.Request(reason="other", acknowledgements=KUSTOMER_ACKS),
    )
    assert ticket.route == "account_manager" and ticket.assignee == people.csm
    return services.transition_ticket(ticket=ticket, name="verify", actor=people.agent)


def routed_jetpack_cancellation(people):
    """An AVOXI Jetpack cancellation (A11), routed to the account manager, verified by another agent."""
    people.csm = StaffFactory(full_name="Casey Success")
    people.account.account_manager = people.csm
    people.account.save(update_fields=["account_manager"])
    jetpack = provisioning.add_addon(account=people.account, product="jetpack")
    ticket = services.submit_ticket(
        account=people.account,
        kind="addon_cancellation",
        requester=people.owner,
        request=services.Request(addon=jetpack, full_name="Ada", company="Acme", contact="a@a.test"),
    )
    assert ticket.route == "account_manager" and ticket.assignee == people.csm
    return services.transition_ticket(ticket=ticket, name="verify", actor=people.agent)


ROUTED = [("kustomer_premium", routed_premium_cancellation), ("avoxi", routed_jetpack_cancellation)]


@pytest.mark.parametrize(("preset", "routed"), ROUTED)
def test_the_account_manager_approves_their_routed_ticket_through_the_api(cast, preset, routed):
    # rules U3, A11: routed and assigned to the customer-success manager, who is an agent
    people = cast(preset)
    ticket = routed(people)
    shown = api(people.csm).get(f"/api/v1/tickets/{ticket.pk}/")
    assert "approve" in shown.json()["available_transitions"]
    response = api(people.csm).post(f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": "approve"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "approved"
    assert response.json()["history"][-1]["actor"] == people.csm.email


@pytest.mark.parametrize(("preset", "routed"), ROUTED)
def test_an_agent_who_is_not_the_account_manager_cannot_approve_through_the_api(cast, preset, routed):
    # rules U3, A11
    people = cast(preset)
    ticket = routed(people)
    shown = api(people.agent).get(f"/api/v1/tickets/{ticket.pk}/")
    assert "approve" not in shown.json()["available_transitions"]
    response = api(people.agent).post(f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": "approve"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "role_not_allowed"
    ticket.refresh_from_db()
    assert ticket.state == State.VERIFIED


def test_staff_who_may_approve_elsewhere_meet_the_account_managers_rule(cast):
    # rule U3: an approver who is neither the account manager nor a support manager is refused by the route's
    # rule (409 requires_account_manager), and is not offered the button either
    from django.contrib.auth.models import Group, Permission

    people = cast("kustomer_premium")
    ticket = routed_premium_cancellation(people)
    approver = StaffFactory()
    approver.groups.clear()
    group = Group.objects.create(name="Approvers, not managers")
    group.permissions.add(*Permission.objects.filter(codename__in=["approve_ticket", "view_ticket"]))
    approver.groups.add(group)
    shown = api(approver).get(f"/api/v1/tickets/{ticket.pk}/")
    assert "approve" not in shown.json()["available_transitions"]
    response = api(approver).post(f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": "approve"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "requires_account_manager"
    # A support manager still approves (the route's fallback).
    assert services.transition_ticket(ticket=ticket, name="approve", actor=people.manager).state == State.APPROVED


def test_the_account_manager_is_no_approver_of_tickets_on_other_routes(cast):
    # rule A11: Call Insights is self-service, a license cancellation a support case: only Jetpack is the route
    people = cast("avoxi")
    people.account.account_manager = StaffFactory()
    people.account.save(update_fields=["account_manager"])
    seats = provisioning.add_license(account=people.account, product="contact_center", quantity=5)
    ticket = services.submit_ticket(
        account=people.account,
        kind="license_cancellation",
        requester=people.super_admin,  # rule A5
        request=services.Request(license=seats, quantity=1, full_name="Ada", company="Acme", contact="a@a.test"),
    )
    ticket = services.transition_ticket(ticket=ticket, name="verify", actor=people.agent)
    csm = people.account.account_manager
    assert "approve" not in services.available_transitions(ticket, csm)
    response = api(csm).post(f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": "approve"}, format="json")
    assert response.status_code == 403


def approve_button(client, ticket) -> bool:
    html = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    return 'name="transition" value="approve"' in html


@pytest.mark.parametrize(("preset", "routed"), ROUTED)
def test_the_admin_shows_approve_exactly_to_the_account_manager_who_may_run_it(client, cast, preset, routed):
    # rules U3, A11: the button appears for the account manager, and the server accepts it from them
    people = cast(preset)
    ticket = routed(people)
    client.force_login(people.agent)
    assert not approve_button(client, ticket)
    page = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    assert "goes through the account manager" in page
    refused = client.post(reverse("admin:tickets_ticket_transition", args=[ticket.pk, "approve"]), follow=True)
    assert "[role_not_allowed]" in refused.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == State.VERIFIED

    client.force_login(people.csm)
    assert approve_button(client, ticket)
    done = client.post(reverse("admin:tickets_ticket_transition", args=[ticket.pk, "approve"]), follow=True)
    assert "is now approved" in done.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED and ticket.approved_by == people.csm
