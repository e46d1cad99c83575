"""Issue 25, "surfaces only translate": who may be an assignee, who may be a requester and who may request a kind
are each answered once, by tickets.access, and every surface that asks gets the same answer; the rows of the
retention flow, the files and the Idempotency-Keys are written by their one service each."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services as provisioning
from accounts.exceptions import Refusal
from tests.factories import PIN, StaffFactory, move_account
from tests.queues.conftest import ticket
from tickets import access, services
from tickets.desk.tickets import RecordRequestForm
from tickets.models import Kind
from tickets.portal.forms import KIND_FORMS

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_assignable_staff_leave_out_staff_in_no_group_in_the_queues_the_admin_and_the_service_alike(cast):
    people = cast("kixie")
    in_no_group = StaffFactory(email="no-group@exitdesk.test", groups=["no such group"])
    gone = StaffFactory(email="gone@exitdesk.test", is_active=False)
    case = ticket(people.account)
    assignable = set(access.assignable_staff().values_list("pk", flat=True))
    assert {people.agent.pk, people.manager.pk} <= assignable
    assert not {in_no_group.pk, gone.pk, people.owner.pk} & assignable

    manager = web(people.manager)
    queue_page = manager.get(reverse("queues:list"))
    assert {pk for pk, _ in queue_page.context["staff"]} == assignable
    changelist = manager.get(reverse("admin:tickets_ticket_changelist"))
    specs = changelist.context["cl"].filter_specs
    [assignee_filter] = [spec for spec in specs if getattr(spec, "parameter_name", "") == "assignee"]
    assert {int(pk) for pk, _ in assignee_filter.lookup_choices if pk != "none"} == assignable
    change_form = manager.get(reverse("admin:tickets_ticket_change", args=[case.pk]))
    assert set(change_form.context["adminform"].form.fields["assignee"].queryset.values_list("pk", flat=True)) == (
        assignable
    )
    search = {"app_label": "tickets", "model_name": "ticket", "field_name": "assignee", "term": ""}
    found = manager.get(reverse("admin:autocomplete"), search).json()["results"]
    assert {int(row["id"]) for row in found} == assignable

    manager.post(reverse("queues:assign"), {"tickets": [case.pk], "assignee": in_no_group.pk})
    case.refresh_from_db()
    assert case.assignee is None
    with pytest.raises(Refusal) as refused:
        services.assign_ticket(ticket=case, assignee=in_no_group, actor=people.manager)
    assert refused.value.field == "assignee"


def _api_takes_as_requester(people, account, user) -> bool:
    """Whether staff recording a request through the API may name this user (not refused on `requester`)."""
    if account.status == "active":
        number = provisioning.add_number(account=account, number=f"+1415555{user.pk % 10000:04d}")
        body = {
            "kind": "port_out",
            "numbers": [number.pk],
            "gaining_carrier": "Telnyx",
            "authorized_name": "Someone",
            "pin": PIN,
        }
    else:
        body = {"kind": "reactivation"}
    body = {**body, "account": account.pk, "requester": user.pk, "channel": "phone"}
    answer = api(people.agent).post("/api/v1/tickets/", body, format="json")
    return "requester" not in answer.json().get("errors", {})


def test_requester_choices_are_the_same_in_the_api_and_the_admin(cast):
    people = cast("kixie")
    staff_member = provisioning.add_member(
        account=people.account, email="staff-member@kixie.test", full_name="Staff Member", role="member"
    ).user
    staff_member.is_staff = True
    staff_member.save()
    people.billing_admin.is_active = False
    people.billing_admin.save()
    former = cast("kixie")
    move_account(former.account, "cancel")
    everyone = [people.owner, people.member, people.billing_admin, staff_member, people.outsider, former.owner]
    for account, expected in ((people.account, {people.owner, people.member}), (former.account, {former.owner})):
        offered = set(RecordRequestForm(account=account).fields["requester"].queryset)
        assert {user for user in everyone if user in offered} == expected
        assert {user for user in everyone if _api_takes_as_requester(people, account, user)} == expected


def test_the_portal_offers_and_refuses_a_kind_as_may_request_answers(cast):
    # rule S4 A5 U1: one answer, tickets.access.may_request, for the dashboard's links and each request page
    people = cast("kixie")
    for role in ("owner", "super_admin", "billing_admin", "member"):
        user = getattr(people, role)
        client = web(user)
        allowed = {kind for kind in Kind.values if access.may_request(people.policy, role, kind)}
        dashboard = client.get(reverse("portal:dashboard", args=[people.account.account_id]))
        offered = {kind for kind, _ in dashboard.context["kinds"]}
        assert offered <= allowed, role
        for kind in KIND_FORMS:
            page = client.get(reverse("portal:request", args=[people.account.account_id, kind]))
            assert (page.status_code == 403) == (kind not in allowed), (role, kind, page.status_code)


# The rows each service alone writes: (model, the one module that writes it, modules allowed besides).
ONE_WRITER = [
    ("RetentionOutcome", "tickets/retention.py", {"tickets/demo.py"}),  # the demo's seeded history
    ("Attachment", "tickets/attachments.py", set()),
    ("IdempotencyKey", "tickets/idempotency.py", set()),
]


@pytest.mark.parametrize(("model", "writer", "besides"), ONE_WRITER)
def test_one_service_writes_each_kind_of_row(model, writer, besides):
    writes = re.compile(
        rf"\b{model}\.objects\.(create|bulk_create|get_or_create|update_or_create)\b"
        rf"|\b{model}\.objects\.filter\(.*\)\.(update|delete)\("
        rf"|(?<!class )\b{model}\("
    )
    apps = ("accounts", "billing", "numbers", "tickets", "config")
    app = [path for name in apps for path in (ROOT / name).rglob("*.py")]
    writers = {
        str(path.relative_to(ROOT))
        for path in app
        if "migrations" not in path.parts and writes.search(path.read_text())
    }
    assert writer in writers
    assert writers - {writer} <= besides
