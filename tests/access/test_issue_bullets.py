"""Each finding of issue 12, as a test of its own: what an outsider could do before tickets/access.py decided it
once (SPEC §5)."""

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services as provisioning
from accounts.models import Account
from billing.models import CardOnFile
from tests.factories import PIN, StaffFactory, move_account
from tickets import services
from tickets.models import Comment, Ticket, TransitionLog
from tickets.notifications import recipients_for, send_port_out_alert
from tickets.withdraw_links import make_token


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owners_port_out(cast):
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+14155550161")
    ticket = services.submit_ticket(
        account=people.account,
        kind="port_out",
        requester=people.owner,
        request=services.Request(
            numbers=[number], gaining_carrier="Telnyx", authorized_name=people.owner.full_name, pin=PIN
        ),
    )
    return people, ticket


def test_a_member_cannot_read_or_comment_on_the_owners_case_through_the_api(owners_port_out):
    people, ticket = owners_port_out
    member = api(people.member)
    assert member.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404
    assert member.post(f"/api/v1/tickets/{ticket.pk}/comments/", {"body": "hi"}, format="json").status_code == 404
    assert ticket.pk not in [t["id"] for t in member.get("/api/v1/tickets/").json()["results"]]
    assert web(people.member).get(reverse("portal:ticket", args=[ticket.pk])).status_code == 404  # as the portal
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_a_cancelled_accounts_member_loses_it_and_keeps_their_other_account(cast):
    # rule U5, K8: a smrtPhone owner cancels self-service; they also belong to another, active account
    people = cast("smrtphone")
    provisioning.add_member(account=people.other_account, email=people.owner.email, full_name="", role="member")
    number = provisioning.add_number(account=people.account, number="+14155550162")
    body = {
        "kind": "account_cancellation",
        "account": people.account.pk,
        "full_name": "Owner",
        "contact": people.owner.email,
        "reason": "too_expensive",
        "acknowledgements": people.policy.acknowledgements,
        "confirmation": people.policy.confirmation_word,
    }
    owner = api(people.owner)
    assert owner.post("/api/v1/tickets/", body, format="json").json()["state"] == "completed"
    assert Account.objects.get(pk=people.account.pk).status == "cancelled"

    for path in ("", "numbers/", "members/", "card/"):
        assert owner.get(f"/api/v1/accounts/{people.account.pk}/{path}").status_code == 404, path
    assert [a["id"] for a in owner.get("/api/v1/accounts/").json()["results"]] == [people.other_account.pk]
    assert owner.get("/api/v1/tickets/").json()["results"] == []
    portal = web(people.owner)
    assert portal.get(reverse("portal:dashboard", args=[people.account.account_id])).status_code == 404
    assert portal.get(reverse("portal:dashboard", args=[people.other_account.account_id])).status_code == 200
    assert number.number not in portal.get(reverse("portal:home")).content.decode()


def test_staff_in_no_group_get_403_from_the_api(owners_port_out):
    people, ticket = owners_port_out
    nobody = api(StaffFactory(email="nogroup@exitdesk.test", groups=["no such group"]))
    account = people.account.pk
    refused = [
        nobody.get("/api/v1/accounts/"),
        nobody.get(f"/api/v1/accounts/{account}/card/"),
        nobody.get("/api/v1/tickets/"),
        nobody.get(f"/api/v1/tickets/{ticket.pk}/comments/"),
        nobody.post("/api/v1/accounts/", {"name": "Planted", "plan": people.plan.pk}, format="json"),
        nobody.post(
            f"/api/v1/accounts/{account}/members/",
            {"email": "planted@x.test", "role": "billing_admin", "password": "a-long-pass-2026"},
            format="json",
        ),
        nobody.put(f"/api/v1/accounts/{account}/card/", {"brand": "Visa", "last4": "1111"}, format="json"),
        nobody.post(
            "/api/v1/tickets/",
            {"kind": "reactivation", "account": account, "requester": people.owner.pk, "channel": "phone"},
            format="json",
        ),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert {r.json()["code"] for r in refused} == {"permission_denied"}
    assert not Account.objects.filter(name="Planted").exists()


def test_an_agent_can_neither_set_the_card_nor_plant_a_billing_admin(cast):
    # rule K7: the card an agent could set would pass the card check; U1: a billing admin may cancel
    people = cast("kustomer")
    provisioning.set_card(account=people.account, brand="Visa", last4="4242")
    agent = api(people.agent)
    response = agent.put(f"/api/v1/accounts/{people.account.pk}/card/", {"brand": "Visa", "last4": "1111"}, "json")
    assert response.status_code == 403
    assert CardOnFile.objects.get(account=people.account).last4 == "4242"
    member = {"email": "plant@x.test", "full_name": "Plant", "role": "billing_admin", "password": "a-long-pass-2026"}
    assert agent.post(f"/api/v1/accounts/{people.account.pk}/members/", member, format="json").status_code == 403
    assert agent.get(f"/api/v1/accounts/{people.account.pk}/card/").json()["last4"] == "4242"  # reading is fine
    manager = api(people.manager)
    assert (
        manager.put(
            f"/api/v1/accounts/{people.account.pk}/card/", {"brand": "Visa", "last4": "1111"}, "json"
        ).status_code
        == 200
    )


def _change_form(ticket: Ticket, **changes) -> dict:
    data = {"priority": ticket.priority, "assignee": ticket.assignee_id or ""}
    for prefix in ("log", "comments", "attachments"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return {**data, **changes}


def test_an_agent_cannot_reassign_through_the_admin(owners_port_out):
    people, ticket = owners_port_out
    colleague = StaffFactory(email="colleague@exitdesk.test")
    services.assign_ticket(ticket=ticket, assignee=colleague, actor=people.manager)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    agent = web(people.agent)
    assert 'name="assignee"' not in agent.get(url).content.decode()  # read-only for agents
    agent.post(url, _change_form(ticket, assignee=people.agent.pk))
    ticket.refresh_from_db()
    assert ticket.assignee == colleague
    agent.post(
        reverse("admin:tickets_ticket_changelist"),
        {"action": "claim_selected", "_selected_action": [ticket.pk], "index": "0"},
    )
    ticket.refresh_from_db()
    assert ticket.assignee == colleague
    assert TransitionLog.objects.filter(ticket=ticket, transition="assign").count() == 1  # the manager's only


def test_every_assignment_is_logged_and_shown_in_the_history(owners_port_out):
    people, ticket = owners_port_out
    colleague = StaffFactory(email="colleague@exitdesk.test")
    web(people.agent).post(
        reverse("admin:tickets_ticket_changelist"),
        {"action": "claim_selected", "_selected_action": [ticket.pk], "index": "0"},
    )
    manager = web(people.manager)
    manager.post(reverse("admin:tickets_ticket_change", args=[ticket.pk]), _change_form(ticket, assignee=colleague.pk))
    ticket.refresh_from_db()
    assert ticket.assignee == colleague
    rows = TransitionLog.objects.filter(ticket=ticket, transition="assign").order_by("pk")
    assert [(r.actor, r.note) for r in rows] == [
        (people.agent, f"nobody → {people.agent.email}"),
        (people.manager, f"{people.agent.email} → {colleague.email}"),
    ]
    history = api(people.manager).get(f"/api/v1/tickets/{ticket.pk}/").json()["history"]
    assert [(h["transition"], h["actor"]) for h in history if h["transition"] == "assign"] == [
        ("assign", people.agent.email),
        ("assign", people.manager.email),
    ]
    assert colleague.email in manager.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    customer_history = api(people.owner).get(f"/api/v1/tickets/{ticket.pk}/").json()["history"]
    assert "assign" not in {h["transition"] for h in customer_history}  # who works a case is the desk's business


def test_the_bulk_actions_say_what_they_did(owners_port_out):
    # issue 12: the manager's bulk "Unassign" answered "1 ticket assigned."
    people, ticket = owners_port_out
    changelist = reverse("admin:tickets_ticket_changelist")
    manager = web(people.manager)
    claimed = manager.post(
        changelist, {"action": "claim_selected", "_selected_action": [ticket.pk], "index": "0"}, follow=True
    )
    assert "1 ticket assigned to you." in claimed.content.decode()
    unassigned = manager.post(
        changelist, {"action": "unassign_selected", "_selected_action": [ticket.pk], "index": "0"}, follow=True
    )
    assert "1 ticket unassigned." in unassigned.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_a_customer_cannot_set_the_priority(cast):
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+14155550163")
    body = {
        "kind": "port_out",
        "account": people.account.pk,
        "numbers": [number.pk],
        "gaining_carrier": "Telnyx",
        "authorized_name": people.owner.full_name,
        "pin": PIN,
        "priority": "urgent",
    }
    response = api(people.owner).post("/api/v1/tickets/", body, format="json")
    assert response.status_code == 400 and set(response.json()["errors"]) == {"priority"}
    assert not Ticket.objects.exists()
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    requests = [name for name in schema if name.endswith("Request") and "kind" in schema[name].get("properties", {})]
    assert requests and all("priority" not in schema[name]["properties"] for name in requests)
    assert schema["Ticket"]["properties"]["priority"]["readOnly"] is True


def test_staff_notes_are_hidden_from_customers(owners_port_out):
    people, ticket = owners_port_out
    services.transition_ticket(ticket=ticket, name="verify", actor=people.agent, note="Called them at home")
    services.transition_ticket(
        ticket=ticket,
        name="reject",
        actor=people.agent,
        reason="The PIN does not match.",
        code="invalid_pin",
        note="Sounded like a fraudster",
    )
    api_history = api(people.owner).get(f"/api/v1/tickets/{ticket.pk}/").json()["history"]
    assert [h["note"] for h in api_history] == ["", "", "The PIN does not match."]
    page = web(people.owner).get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert "Called them at home" not in page and "fraudster" not in page and "The PIN does not match." in page
    staff_history = api(people.agent).get(f"/api/v1/tickets/{ticket.pk}/").json()["history"]
    assert [h["note"] for h in staff_history][1:] == ["Called them at home", "Sounded like a fraudster"]


def test_staff_email_addresses_are_hidden_from_customers(owners_port_out):
    people, ticket = owners_port_out
    services.add_comment(ticket=ticket, author=people.agent, body="We are on it")
    services.transition_ticket(ticket=ticket, name="verify", actor=people.agent)
    owner = api(people.owner)
    history = owner.get(f"/api/v1/tickets/{ticket.pk}/").json()["history"]
    assert [h["actor"] for h in history] == [people.owner.email, "Support"]
    assert [c["author"] for c in owner.get(f"/api/v1/tickets/{ticket.pk}/comments/").json()["results"]] == ["Support"]
    page = web(people.owner).get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert people.agent.email not in page and "by Support via admin" in page
    assert people.agent.email in str(api(people.agent).get(f"/api/v1/tickets/{ticket.pk}/").json()["history"])


def test_emails_go_to_the_requester_only_while_a_member(owners_port_out, tasks_in_process):
    people, ticket = owners_port_out
    assert recipients_for(ticket, "verified") == [people.owner.email]
    people.account.memberships.filter(user=people.owner).delete()  # no longer a member of the account
    ticket.refresh_from_db()
    assert recipients_for(ticket, "verified") == []
    mail.outbox.clear()
    services.transition_ticket(ticket=ticket, name="verify", actor=people.agent)
    assert all(people.owner.email not in message.to for message in mail.outbox)


def test_a_provider_may_show_the_agents_first_name_never_their_email(owners_port_out):
    people, ticket = owners_port_out
    people.policy.staff_first_names = True
    people.policy.save(update_fields=["staff_first_names"])
    priya = StaffFactory(email="priya.shah@exitdesk.test", full_name="Priya Shah")
    services.add_comment(ticket=ticket, author=priya, body="Looking into it")
    services.transition_ticket(ticket=ticket, name="verify", actor=priya)
    owner = api(people.owner)
    assert [h["actor"] for h in owner.get(f"/api/v1/tickets/{ticket.pk}/").json()["history"]][1:] == ["Priya"]
    assert [c["author"] for c in owner.get(f"/api/v1/tickets/{ticket.pk}/comments/").json()["results"]] == ["Priya"]
    page = web(people.owner).get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert "by Priya via admin" in page and priya.email not in page


def test_who_hears_of_an_accounts_events_is_the_access_modules_answer(owners_port_out, tasks_in_process):
    # issue 12: the email recipients ask tickets.access (SPEC §4: the owner and billing admins hear of a port-out)
    people, ticket = owners_port_out
    mail.outbox.clear()
    send_port_out_alert.apply(args=[ticket.pk])
    assert sorted(address for message in mail.outbox for address in message.to) == sorted(
        [people.owner.email, people.billing_admin.email]
    )
    move_account(people.account, "cancel")  # the links those emails carry die with the account (K8)
    response = web(people.owner).get(reverse("port_out_withdraw", args=[make_token(ticket, people.owner)]))
    assert response.status_code in (400, 403, 404, 410) and "not valid" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state != "withdrawn"
