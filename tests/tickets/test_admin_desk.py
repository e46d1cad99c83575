"""The agent desk as an agent reads it (issue 17): each kind's page shows that kind's fields in words, the transition
panel says who may do what the agent may not, the list shows SLA and due at a constant cost, Record a request is
scoped to the chosen account, and policies are edited with real widgets under the model's own validation."""

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services as provisioning
from billing.models import AddOn, License, Plan, Policy
from tests.admin_forms import changeform_post_data
from tickets.models import Kind, State, Ticket

pytestmark = pytest.mark.django_db

# Stored keys and rule ids an agent should never read bare on a ticket page.
RAW = [
    "support_case",
    "self_service",
    "account_manager",
    "card_last4",
    "numbers_lost",
    "data_deleted",
    "too_expensive",
    "acknowledgements",
    "invalid_pin",
    '{"',
    "['",
]
RULE_ID = re.compile(r"\b[KASU]\d{1,2}\b")
# A label of each kind's own details: it appears on that kind's page and on no other kind's page.
OWN_LABEL = {
    Kind.ACCOUNT_CANCELLATION: "Acknowledged",
    Kind.LICENSE_CANCELLATION: "Quantity",
    Kind.ADDON_CANCELLATION: "Add-on:",
    Kind.PORT_OUT: "Gaining carrier",
    Kind.DOWNGRADE: "Target plan",
}


def page_text(response) -> str:
    """What a person reads: the page without its tags, scripts, styles and attribute values."""
    return page_text_of(response.content.decode())


def page_text_of(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<select\b.*?</select>", " ", page, flags=re.S)  # option lists are choices, not the record
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def kixie(cast, in_business_hours):
    desk = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    desk.line = provisioning.add_number(account=desk.account, number="+12025550143")
    return desk


def _ticket_of_each_kind(desk) -> dict[str, Ticket]:
    """One ticket per kind, holding what that kind stores (made directly: the page only reads them)."""
    account = desk.account
    license_ = License.objects.create(account=account, product=License.Product.AGENT_SEAT, quantity=5)
    addon = AddOn.objects.create(account=account, product=AddOn.Product.CALL_INSIGHTS)
    lower = Plan.objects.get(policy__preset="kixie", rank=1)
    common = {"account": account, "requester": desk.owner, "route": "support_case", "contact": desk.owner.email}
    tickets = {
        Kind.ACCOUNT_CANCELLATION: Ticket.objects.create(
            kind=Kind.ACCOUNT_CANCELLATION,
            reason="too_expensive",
            acknowledgements=["numbers_lost", "data_deleted"],
            checks={"card_last4": True, "acknowledgements": True},
            **common,
        ),
        Kind.LICENSE_CANCELLATION: Ticket.objects.create(
            kind=Kind.LICENSE_CANCELLATION, license=license_, quantity=2, **common
        ),
        Kind.NUMBER_CANCELLATION: Ticket.objects.create(kind=Kind.NUMBER_CANCELLATION, **common),
        Kind.ADDON_CANCELLATION: Ticket.objects.create(kind=Kind.ADDON_CANCELLATION, addon=addon, **common),
        Kind.PORT_OUT: Ticket.objects.create(
            kind=Kind.PORT_OUT,
            gaining_carrier="Telnyx",
            authorized_name=desk.owner.full_name,
            checks={"pin": True, "name": True},
            **common,
        ),
        Kind.DOWNGRADE: Ticket.objects.create(kind=Kind.DOWNGRADE, target_plan=lower, **common),
        Kind.REACTIVATION: Ticket.objects.create(kind=Kind.REACTIVATION, **common),
    }
    tickets[Kind.NUMBER_CANCELLATION].numbers.add(desk.line)
    tickets[Kind.PORT_OUT].numbers.add(desk.line)
    return tickets


def test_each_kind_shows_only_its_own_fields_in_words(client, kixie):
    # SPEC §6 (the agents' admin), issue 17: no carrier on a reactivation, no raw keys, no bare rule ids (A4, K5)
    client.force_login(kixie.agent)
    for kind, ticket in _ticket_of_each_kind(kixie).items():
        response = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
        assert response.status_code == 200, kind
        text = page_text(response)
        for other_kind, label in OWN_LABEL.items():
            assert (label in text) == (other_kind == kind), (kind, label)
        for raw in RAW:
            assert raw not in text, (kind, raw)
        assert not RULE_ID.findall(text), (kind, RULE_ID.findall(text))
        assert "Support case (an agent works it)" in text  # the route in words
    cancellation = client.get(
        reverse("admin:tickets_ticket_change", args=[Ticket.objects.get(kind=Kind.ACCOUNT_CANCELLATION).pk])
    )
    text = page_text(cancellation)
    assert "It's too expensive" in text  # the exit-survey reason in words
    assert "Phone numbers that have not been ported out will be released" in text  # the acknowledgement's sentence
    assert "Last four digits of the card on file: passed" in text  # the check's outcome, not {"card_last4": true}


def test_an_agent_on_a_verified_ticket_is_told_a_manager_approves(client, kixie, submit):
    # rule K7 verified at submission; SPEC §5: approve is the managers' (Support managers hold the permission)
    ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent, card_last4="4242")
    assert ticket.state == State.VERIFIED
    client.force_login(kixie.agent)
    page = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    text = page_text(client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])))
    assert 'value="approve"' not in page
    assert "Waiting for approval by support managers." in text
    assert "Verified; waiting for a manager's approval." in text  # the header's next step
    assert "Only the requester or the account's owner may withdraw this request" in text
    assert "<summary>Reject this request…</summary>" in page  # reject is folded away, not the only big button
    client.force_login(kixie.manager)
    text = page_text(client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])))
    assert "Waiting for approval by" not in text


def test_the_history_reads_as_one_timeline(client, kixie, submit, django_capture_on_commit_callbacks):
    # SPEC §6: transitions, comments and emails on one page, oldest first
    from tickets import services

    with django_capture_on_commit_callbacks(execute=True):  # the emails are queued once the submission commits
        ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent, card_last4="4242")
    services.add_comment(ticket=ticket, author=kixie.agent, body="Called the owner back.", public=False)
    client.force_login(kixie.agent)
    page = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    start = page.index('<ol class="desk-timeline"')
    history = page_text_of(page[start : page.index("</ol>", start)])
    order = ["Submitted", "Verified", "Email sent: request received", "Internal note", "Called the owner back."]
    positions = [history.index(entry) for entry in order]
    assert positions == sorted(positions)
    assert "staff only" in history


def _changelist_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:tickets_ticket_changelist"))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_list_shows_sla_and_due_at_a_constant_cost(client, kixie):
    # SPEC §6: SLA columns in the agents' list; the page's queries do not grow with its rows
    now = timezone.now()
    client.force_login(kixie.manager)
    Ticket.objects.create(account=kixie.account, kind=Kind.PORT_OUT, gaining_carrier="Telnyx", created_at=now)
    client.get(reverse("admin:tickets_ticket_changelist"))  # the session's first use writes it
    few, page = _changelist_queries(client)
    assert ">SLA<" in page and ">Due<" in page and ">Priority<" in page and ">Created<" in page
    assert "On track" in page and "Port numbers out to Telnyx" in page
    kinds = list(Kind.values)
    Ticket.objects.bulk_create(
        Ticket(account=kixie.account, kind=kinds[i % len(kinds)], created_at=now - dt.timedelta(hours=i))
        for i in range(40)
    )
    many, page = _changelist_queries(client)
    assert many == few
    assert "Breached" in page  # forty hours back is past every preset's targets


def test_record_a_request_offers_only_the_chosen_accounts_active_members(client, kixie):
    # SPEC §6 (agents record phone and email requests, K6): scoped to the account, no cancelled users
    kixie.member.is_active = False
    kixie.member.save()
    foreign = provisioning.add_number(account=kixie.other_account, number="+12025550199")
    client.force_login(kixie.agent)
    url = reverse("admin:tickets_ticket_add")
    chooser = client.get(url)
    assert 'data-model-name="ticket"' in chooser.content.decode() or "admin-autocomplete" in chooser.content.decode()
    form = client.get(url, {"account": kixie.account.pk}).context["form"]
    requesters = set(form.fields["requester"].queryset)
    assert requesters == {kixie.owner, kixie.super_admin, kixie.billing_admin}
    assert set(form.fields["numbers"].queryset) == {kixie.line}
    # Someone else's member or number posted anyway is a form error, and no ticket is made.
    response = client.post(
        url,
        {
            "account": kixie.account.pk,
            "requester": kixie.outsider.pk,
            "kind": "number_cancellation",
            "channel": "phone",
        },
    )
    assert "requester" in response.context["form"].errors
    response = client.post(
        url,
        {
            "account": kixie.account.pk,
            "requester": kixie.owner.pk,
            "kind": "number_cancellation",
            "channel": "phone",
            "numbers": [foreign.pk],
        },
    )
    assert "numbers" in response.context["form"].errors
    assert not Ticket.objects.exists()


def test_record_a_request_keeps_when_it_was_received(client, kixie):
    # rule K6: a call taken earlier is judged by the hours it arrived in; the ticket is dated then
    received = timezone.localtime(timezone.now() - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    client.force_login(kixie.agent)
    response = client.post(
        reverse("admin:tickets_ticket_add"),
        {
            "account": kixie.account.pk,
            "requester": kixie.owner.pk,
            "kind": "number_cancellation",
            "channel": "phone",
            "numbers": [kixie.line.pk],
            "received_at": received.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Ticket.objects.get().created_at == received
    future = timezone.localtime(timezone.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("admin:tickets_ticket_add"),
        {"account": kixie.account.pk, "requester": kixie.owner.pk, "kind": "downgrade", "channel": "phone"}
        | {"received_at": future},
    )
    assert "not in the future" in str(response.context["form"].errors["received_at"])


def _policy_form(client, policy):
    url = reverse("admin:billing_policy_change", args=[policy.pk])
    response = client.get(url)
    assert response.status_code == 200
    return url, changeform_post_data(response)


def test_the_policy_editor_saves_ticked_boxes(client, kixie):
    # rules S4 (who may ask) and K6 (channels, days, hours) edited as checkboxes and times, saved as the model holds
    client.force_login(kixie.manager)
    policy = Policy.objects.get(preset="kixie")
    url, data = _policy_form(client, policy)
    data["request_roles__edit"] = ["account_cancellation:owner", "port_out:owner", "port_out:billing_admin"]
    data["intake_channels__edit"] = ["email", "phone", "web"]
    data["intake_weekdays__edit"] = ["0", "2", "4"]
    data["intake_start"], data["intake_end"] = "07:30", "16:00"
    index = 2 * (1 + [k for k, _ in Kind.choices].index("port_out"))  # the SLA table's port-out row
    data[f"sla_targets__edit_{index}"], data[f"sla_targets__edit_{index + 1}"] = "2", "12.5"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.request_roles == {"account_cancellation": ["owner"], "port_out": ["owner", "billing_admin"]}
    assert policy.intake_channels == ["web", "email", "phone"]
    assert policy.intake_weekdays == [0, 2, 4]
    assert (policy.intake_start, policy.intake_end) == (dt.time(7, 30), dt.time(16, 0))
    assert policy.sla_targets["port_out"] == {"first_response": 2, "resolution": 12.5}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("intake_channels__edit", [], "non-empty"),  # rule K6: at least one channel takes cancellations
        ("request_roles__edit", ["port_out:ceo"], "Tick only the boxes shown"),
        ("sla_targets__edit_0", "0", "above 0"),
        ("sla_targets__edit_1", "abc", "Enter a number"),
        ("license_minimums__edit_0", "-1", "greater than or equal to 0"),
    ],
)
def test_the_policy_editor_refuses_bad_input_with_a_form_error(client, kixie, field, value, message):
    client.force_login(kixie.manager)
    policy = Policy.objects.get(preset="kixie")
    before = (policy.intake_channels, policy.request_roles, policy.sla_targets, policy.license_minimums)
    url, data = _policy_form(client, policy)
    data[field] = value
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field.rsplit("_", 1)[0] if field[-1].isdigit() else field], errors
    assert message in str(errors)
    policy.refresh_from_db()
    assert (policy.intake_channels, policy.request_roles, policy.sla_targets, policy.license_minimums) == before


def test_the_policy_json_stays_under_a_collapsed_advanced_section(client, kixie):
    client.force_login(kixie.manager)
    page = client.get(reverse("admin:billing_policy_change", args=[Policy.objects.get(preset="kixie").pk]))
    text = page.content.decode()
    advanced = text.index("Advanced: the settings above as JSON")
    assert text.index('name="request_roles"') > advanced  # the raw JSON only after the Advanced heading
    assert 'name="request_roles__edit"' in text[:advanced] and 'type="time"' in text[:advanced]
    client.force_login(kixie.agent)  # view only: the widgets read as text
    text = page_text(client.get(reverse("admin:billing_policy_change", args=[kixie.policy.pk])))
    assert "Who may ask for each kind" in text and "Account cancellation: Owner" in text


def test_agents_and_managers_see_no_reset_password_button_they_could_not_use(client, kixie):
    # SPEC §5: staff read users (view_user); only who may change a user reaches the admin's password page
    for person in (kixie.agent, kixie.manager):
        client.force_login(person)
        page = client.get(reverse("admin:accounts_user_change", args=[kixie.owner.pk])).content.decode()
        assert "Reset password" not in page and "../password/" not in page
        assert "Forgotten your password?" in page
    client.force_login(_superuser())
    assert "Reset password" in client.get(reverse("admin:accounts_user_change", args=[kixie.owner.pk])).content.decode()


def _superuser():
    from accounts.models import User

    return User.objects.create_superuser(email="root@exitdesk.test", password="root-pass-2026")  # noqa: S106


def test_the_desk_has_its_own_names(client, kixie):
    client.force_login(kixie.agent)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Django administration" not in page and "Django site admin" not in page
    assert "<title>Agent desk | Exitdesk agent desk</title>" in page
    assert "Exitdesk agent desk: verify, complete and answer requests" in page
    client.force_login(kixie.manager)
    assert "Exitdesk for support managers" in client.get(reverse("admin:index")).content.decode()


def test_a_widget_change_keeps_keys_the_widget_has_no_row_for(client, kixie):
    # policy as data: a route set under Advanced for a key the table does not list survives an edit of the table
    policy = Policy.objects.get(preset="kixie")
    Policy.objects.filter(pk=policy.pk).update(addon_routes={"fax_line": "self_service"})
    client.force_login(kixie.manager)
    url, data = _policy_form(client, policy)
    data["addon_routes__edit_0"] = "account_manager"  # Call Insights, the table's first row
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.addon_routes == {"fax_line": "self_service", "call_insights": "account_manager"}
