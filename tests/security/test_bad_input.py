"""Odd ids in query strings and forms (digits such as "²" that int() refuses, numbers past 64 bits, words) get
an answer a person can act on, never a 500: the pages a crawl of every URL found failing, one request each."""

import pytest
from django.urls import reverse

from accounts import services as provisioning
from accounts.models import User
from tests.factories import PIN, TicketFactory
from tickets.models import Ticket

HUGE = "99999999999999999999"  # past 2**63 - 1: SQLite cannot bind it as an integer


@pytest.fixture
def desk(cast):
    people = cast("avoxi")
    people.superuser = User.objects.create_superuser(email="root@exitdesk.test", password="a-long-password-2026")
    people.line = provisioning.add_number(account=people.account, number="+12025550161")
    people.addon = provisioning.add_addon(account=people.account, product="call_insights")
    return people


def get(client, user, url, **query):
    client.force_login(user)
    return client.get(url, query)


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"assignee": "²"}, "Unknown assignee"),
        ({"plan": "²"}, "Unknown plan"),
        ({"assignee": HUGE}, "Unknown assignee"),
        ({"plan": HUGE}, "Unknown plan"),
        ({"account": "²"}, None),
        ({"account": HUGE}, None),
    ],
)
def test_the_queue_ignores_an_id_that_is_not_one_and_says_so(client, desk, query, said):
    response = get(client, desk.manager, reverse("queues:list"), **query)
    assert response.status_code == 200
    if said:
        assert said in response.content.decode()
    csv = get(client, desk.manager, reverse("queues:export"), **query)
    assert csv.status_code == 200 and b"".join(csv.streaming_content).startswith(b"id,")


@pytest.mark.parametrize(
    ("who", "data"),
    [
        ("manager", {"claim": "²"}),
        ("agent", {"claim": HUGE}),
        ("manager", {"tickets": "1", "assignee": "²"}),
        ("manager", {"tickets": HUGE, "assignee": "none"}),
    ],
)
def test_assigning_with_a_bad_id_goes_back_with_a_message(client, desk, who, data):
    client.force_login(getattr(desk, who))
    response = client.post(reverse("queues:assign"), data, follow=True)
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] in (
        ["Tick at least one ticket."],
        ["Choose an active member of staff."],
    )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/tickets/ticket/?assignee=²",
        f"/admin/tickets/ticket/?account={HUGE}",
        f"/admin/billing/addon/?account={HUGE}",
        f"/admin/billing/license/?account={HUGE}",
        "/admin/billing/addon/add/?account=abc",
        "/admin/billing/addon/add/?account=²",
        "/admin/billing/subscription/add/?account=abc",
        "/admin/authtoken/tokenproxy/?q=owner",
    ],
)
def test_admin_pages_with_an_odd_query_string_still_open(client, desk, url):
    client.force_login(desk.superuser)
    response = client.get(url)
    assert response.status_code in (200, 302), url  # 302: Django's own "?e=1" for a lookup it cannot use
    if response.status_code == 200 and "/add/" in url:
        assert 'name="account"' in response.content.decode()  # the form, without the bad value


def test_a_change_form_posted_with_a_bad_id_shows_its_error(client, desk):
    ticket = TicketFactory(account=desk.account, requester=desk.owner)
    client.force_login(desk.superuser)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in ("assignee", "priority")}
    management = {
        f"{prefix}-{key}": value
        for prefix in ("log", "comments", "attachments")
        for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
    }
    ticket.assignee = desk.agent
    ticket.save()
    response = client.post(url, {**data, **management, "assignee": "abc"})
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["adminform"].form.errors["assignee"])
    ticket.refresh_from_db()
    assert ticket.assignee == desk.agent  # nothing saved


def test_the_token_list_searches_by_email(client, desk):
    from rest_framework.authtoken.models import Token

    Token.objects.create(user=desk.owner)
    Token.objects.create(user=desk.member)
    response = get(client, desk.superuser, "/admin/authtoken/tokenproxy/", q=desk.owner.email)
    assert [token.user for token in response.context["cl"].result_list] == [desk.owner]


def test_the_portal_form_refuses_an_id_that_is_not_one(client, desk):
    client.force_login(desk.owner)
    page = client.get(reverse("portal:request", args=[desk.account.account_id, "addon_cancellation"]), {"addon": "²"})
    assert page.status_code == 200
    url = reverse("portal:request", args=[desk.account.account_id, "port_out"])
    body = {"numbers": HUGE, "gaining_carrier": "Telnyx", "authorized_name": desk.owner.full_name, "pin": PIN}
    refused = client.post(url, body)
    assert refused.status_code == 200 and refused.context["form"].errors["numbers"]
    assert not Ticket.objects.filter(account=desk.account).exists()


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("who", "path", "body"),
    [
        (None, "/api/v1/auth/token/", DEEP),
        ("owner", "/api/v1/tickets/", DEEP),
        ("owner", "/api/v1/tickets/", '{"kind": [], "account": 1}'),
        ("owner", "/api/v1/tickets/", '{"kind": {}, "account": 1}'),
        ("owner", "/api/v1/tickets/", '{"kind": "\\ud800", "account": 1}'),
        ("owner", "/api/v1/tickets/", '{"kind": "port_out", "account": 1, "gaining_carrier": "\\udfff"}'),
    ],
    ids=["deep-token", "deep-ticket", "kind-list", "kind-object", "lone-surrogate-kind", "lone-surrogate-field"],
)
def test_a_json_body_the_api_cannot_use_is_a_400_in_its_format(client_for, desk, who, path, body):
    client = client_for(getattr(desk, who) if who else None)
    response = client.generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in ("parse_error", "invalid_request")
    assert not Ticket.objects.filter(account=desk.account).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/queues/", "/admin/", "/api/v1/tickets/"])
def test_a_nul_byte_in_a_cookie_is_a_cookie_not_sent(client, path):
    """A session or CSRF cookie holding a NUL byte (PostgreSQL cannot compare it with a stored key) counts as no
    cookie: the visitor is asked to sign in, as with an expired session, never a 500."""
    response = client.get(path, HTTP_COOKIE="sessionid=abcdefgh\x00ijklmnop; csrftoken=x\x00y")
    assert response.status_code in {302, 401, 403}
    if response.status_code == 302:
        assert "login" in response["Location"]
