"""A crawler with hostile query strings and form posts: as each staff role and as a customer, every admin
changelist, add and change form, every portal and queue page, with NUL bytes, huge integers, unicode, empty values
and 10,000 characters in every parameter the page reads. No 500, on SQLite and on PostgreSQL (house rule: bad
input gets a clear error, never a 500)."""

import io
from urllib.parse import quote, urlencode

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, User
from tickets.models import Kind, Ticket
from tickets.selectors import QueueFilters

pytestmark = pytest.mark.django_db

HOSTILE = ["\x00", "99999999999999999999", "9999", "-1", "ü☃𝔘\u202e", "", "x" * 10_000]
# Tried one parameter at a time where a page reads many filters (one bad value must not hide another's 500).
ONE_BY_ONE = ["99999999999999999999", "9999", "", "x" * 10_000]
# What pages read, whatever their own filters are called.
COMMON = [
    "q",
    "o",
    "p",
    "e",
    "all",
    "sort",
    "state",
    "kind",
    "channel",
    "account",
    "page",
    "preset",
    "assignee",
    "plan",
    "sla",
    "age",
    "status",
    "step",
    "next",
    "_changelist_filters",
    "_popup",
    "_to_field",
]
FULL_CRAWL = "admin@exitdesk.demo"  # the superuser sees every list: each of its filters is tried alone too
ROLES = ["agent@exitdesk.demo", "manager@exitdesk.demo", "admin@exitdesk.demo", "owner@kixie.demo", "member@avoxi.demo"]


@pytest.fixture
def demo():
    call_command("demo", stdout=io.StringIO(), stderr=io.StringIO())


def _client(email: str) -> Client:
    client = Client(raise_request_exception=True)
    client.force_login(User.objects.get(email=email))
    return client


def _get(client: Client, url: str, params: dict, failures: list) -> None:
    query = urlencode(params, quote_via=quote)
    try:
        response = client.get(f"{url}?{query}" if query else url)
    except Exception as exc:  # recorded, so one run lists every failure
        failures.append((url, {k: v[:20] for k, v in params.items()}, repr(exc)[:300]))
        return
    if response.status_code >= 500:
        failures.append((url, {k: v[:20] for k, v in params.items()}, response.status_code))


POSTED = [
    "quantity",
    "numbers",
    "plan",
    "gaining_carrier",
    "authorized_name",
    "pin",
    "reason",
    "comment",
    "confirmation",
    "card_last4",
    "full_name",
    "company",
    "contact",
    "acknowledgements",
    "body",
    "tier",
]


def _post(client: Client, url: str, data: dict, failures: list) -> None:
    try:
        response = client.post(url, data)
    except Exception as exc:
        failures.append((f"POST {url}", {k: v[:20] for k, v in data.items()}, repr(exc)[:300]))
        return
    if response.status_code >= 500:
        failures.append((f"POST {url}", {k: v[:20] for k, v in data.items()}, response.status_code))


def _changelist_params(model_admin, request) -> list[str]:
    """The parameters a changelist reads: its filters' own, its date hierarchy's, and the admin's own."""
    names = {"q", "o", "p", "e", "all", "_to_field", "_popup"}
    changelist = model_admin.get_changelist_instance(request)
    for spec in changelist.filter_specs:
        names.update(spec.expected_parameters())
    if model_admin.date_hierarchy:
        names.update(f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day"))
    assert isinstance(changelist, ChangeList)
    return sorted(names)


def _admin_pages(client, rf_user) -> list[tuple[str, list[str]]]:
    from django.test import RequestFactory

    pages = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        request = RequestFactory().get("/")
        request.user = rf_user
        if not model_admin.has_view_or_change_permission(request):
            continue
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        pages.append((changelist, _changelist_params(model_admin, request), True))
        if model_admin.has_add_permission(request):
            fields = [f.name for f in opts.get_fields() if f.concrete]
            pages.append((reverse(f"admin:{opts.app_label}_{opts.model_name}_add"), COMMON + fields, False))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            pages.append((change, COMMON, False))
    return pages


def _site_pages(user) -> list[tuple[str, list[str], bool]]:
    queue = [*QueueFilters.FIELDS, "page", "preset"]
    pages = [(reverse("queues:overview"), COMMON, False), (reverse("queues:list"), queue, user.is_staff)]
    pages += [(reverse("queues:export"), queue, user.is_staff), (reverse("queues:insights"), COMMON, False)]
    pages += [(reverse("portal:home"), COMMON, False)]
    membership = Membership.objects.filter(user=user).select_related("account").first()
    if membership is not None:
        account_id = membership.account.account_id
        for name in ("dashboard", "products", "pause", "cancel"):
            pages.append((reverse(f"portal:{name}", args=[account_id]), COMMON, False))
        for kind in Kind.values:
            fields = COMMON + ["license", "number", "addon"]
            pages.append((reverse("portal:request", args=[account_id, kind]), fields, False))
    ticket = Ticket.objects.filter(account__memberships__user=user).first() if membership else Ticket.objects.first()
    if ticket is not None:
        pages.append((reverse("portal:ticket", args=[ticket.pk]), COMMON, False))
    return pages


@pytest.mark.parametrize("email", ROLES)
def test_no_page_answers_a_hostile_query_string_with_a_500(demo, email):
    user = User.objects.get(email=email)
    client = _client(email)
    pages = _site_pages(user) + (_admin_pages(client, user) if user.is_staff else [])
    if not user.is_staff:
        pages += [(reverse("admin:tickets_ticket_changelist"), COMMON, False)]
    failures: list = []
    for url, params, one_by_one in pages:
        _get(client, url, {}, failures)
        for value in HOSTILE:
            _get(client, url, dict.fromkeys(params, value), failures)  # every parameter at once
        if one_by_one and email == FULL_CRAWL:
            for name in params:
                for value in ONE_BY_ONE:
                    _get(client, url, {name: value}, failures)
        if url.startswith("/admin/") and one_by_one and email == FULL_CRAWL:
            for value in ("\x00", "99999999999999999999", "x" * 10_000, "ü☃"):  # a list action on hostile ids
                _post(client, url, {"action": "delete_selected", "_selected_action": value, "index": "0"}, failures)
                _post(client, url, {"action": value, "_selected_action": "1", "index": "0"}, failures)
        if url.startswith("/a/") or "/request/" in url:
            for value in ("\x00", "99999999999999999999", "x" * 10_000, "ü☃", ""):  # the page's form, posted
                _post(client, url, dict.fromkeys(params + POSTED, value), failures)
    assert failures == []
