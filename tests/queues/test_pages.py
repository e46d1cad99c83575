"""Manager queue pages: who may open them, what they show, assignment, CSV, and constant query counts."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import StaffFactory
from tests.queues.conftest import bulk_tickets, ticket
from tickets import selectors, sla
from tickets.models import Kind, State, Ticket, TransitionLog

PAGES = ["queues:overview", "queues:list", "queues:insights", "queues:export"]


def login(client: Client, user) -> Client:
    client.force_login(user)
    return client


# -- permissions -------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_anonymous_is_sent_to_login(client, page):
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", ["owner", "super_admin", "billing_admin", "member", "outsider"])
def test_customers_get_404(client, kixie, page, who):
    assert login(client, getattr(kixie, who)).get(reverse(page)).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_staff_without_ticket_permissions_get_403(client, page):
    assert login(client, StaffFactory(groups=["no such group"])).get(reverse(page)).status_code == 403


@pytest.mark.django_db
def test_agent_without_queue_permission_cannot_open_insights(client, kixie):
    assert not kixie.agent.has_perm("tickets.view_queues")
    assert login(client, kixie.agent).get(reverse("queues:insights")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_manager_opens_every_page(client, kixie, page):
    ticket(kixie.account)
    assert login(client, kixie.manager).get(reverse(page)).status_code == 200


@pytest.mark.django_db
def test_agent_sees_their_own_part(client, kixie):
    mine = ticket(kixie.account, assignee=kixie.agent)
    pool = ticket(kixie.account)
    others = ticket(kixie.account, assignee=StaffFactory())
    closed_pool = ticket(kixie.account, state=State.COMPLETED)
    response = login(client, kixie.agent).get(reverse("queues:list"), {"state": "all"})
    shown = {r.ticket.pk for r in response.context["page"].rows}
    assert shown == {mine.pk, pool.pk}
    assert others.pk not in shown and closed_pool.pk not in shown
    overview = client.get(reverse("queues:overview")).context["data"]
    assert overview.total_open == 2


@pytest.mark.django_db
def test_manager_with_permission_but_not_group_sees_everything(client, kixie):
    user = StaffFactory(groups=["no such group"])
    user.user_permissions.add(Permission.objects.get(codename="view_queues"))
    ticket(kixie.account, assignee=kixie.agent)
    response = login(client, user).get(reverse("queues:list"))
    assert len(response.context["page"].rows) == 1


# -- what the pages show ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_row_shows_due_and_sla_status(client, kixie):
    now = timezone.now()
    breached = ticket(kixie.account, created_at=now - dt.timedelta(days=30))
    fresh = ticket(kixie.account, created_at=now)
    response = login(client, kixie.manager).get(reverse("queues:list"))
    rows = {r.ticket.pk: r for r in response.context["page"].rows}
    assert rows[breached.pk].sla.status == "breached"
    assert rows[fresh.pk].sla.status in {"on_track", "at_risk", "breached"}  # depends on the hour of the run
    html = response.content.decode()
    assert "sla-breached" in html and "Due" in html
    assert reverse("admin:tickets_ticket_change", args=[breached.pk]) in html


@pytest.mark.django_db
def test_filters_and_presets_are_query_strings(client, kixie):
    port_out = ticket(kixie.account, kind=Kind.PORT_OUT)
    cancellation = ticket(kixie.account, assignee=kixie.manager)
    done = ticket(kixie.account, state=State.COMPLETED)
    login(client, kixie.manager)

    def shown(**query):
        return {r.ticket.pk for r in client.get(reverse("queues:list"), query).context["page"].rows}

    assert shown(preset="port-outs") == {port_out.pk}
    assert shown(kind="port_out") == {port_out.pk}
    assert shown(preset="mine") == {cancellation.pk}
    assert shown(preset="unassigned") == {port_out.pk}
    assert shown(state="completed") == {done.pk}
    assert shown(state="all") == {port_out.pk, cancellation.pk, done.pk}
    assert shown(account=kixie.account.account_id, state="closed") == {done.pk}
    assert shown(account=kixie.other_account.account_id) == set()
    assert shown(plan=str(kixie.plan.pk)) == {port_out.pk, cancellation.pk}
    # A preset's values can be overridden by the query string; junk is ignored, not a 500.
    assert shown(preset="port-outs", kind="account_cancellation") == {cancellation.pk}
    response = client.get(reverse("queues:list"), {"kind": "bogus", "sort": "nope", "page": "x"})
    assert response.status_code == 200 and response.context["filters"].errors


@pytest.mark.django_db
def test_sort_and_pagination(client, kixie):
    now = timezone.now()
    made = [ticket(kixie.account, created_at=now - dt.timedelta(hours=i)) for i in range(selectors.PAGE_SIZE + 5)]
    login(client, kixie.manager)
    first = client.get(reverse("queues:list")).context["page"]
    assert [r.ticket.pk for r in first.rows] == [t.pk for t in made[: selectors.PAGE_SIZE]]
    assert first.has_next and first.count == len(made)
    second = client.get(reverse("queues:list"), {"page": 2}).context["page"]
    assert [r.ticket.pk for r in second.rows] == [t.pk for t in made[selectors.PAGE_SIZE :]]
    assert not second.has_next and second.count == len(made)
    past_the_end = client.get(reverse("queues:list"), {"page": 9}).context["page"]
    assert past_the_end.rows == [] and past_the_end.count == len(made)
    oldest = client.get(reverse("queues:list"), {"sort": "created"}).context["page"]
    assert oldest.rows[0].ticket.pk == made[-1].pk


@pytest.mark.django_db
def test_the_count_stops_at_its_cap_on_every_page(client, kixie, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 20)
    bulk_tickets(kixie.account, 140)
    login(client, kixie.manager)
    for number in (1, 2):
        page = client.get(reverse("queues:list"), {"state": "all", "page": number}).context["page"]
        assert len(page.rows) == selectors.PAGE_SIZE and page.count_label == "20+"


@pytest.mark.django_db
def test_sla_and_age_filters_match_each_row(client, kixie):
    now = timezone.now()
    for days in (0, 0.2, 1, 2, 4, 6, 9, 20, 60):
        ticket(kixie.account, created_at=now - dt.timedelta(days=days))
        ticket(kixie.account, created_at=now - dt.timedelta(days=days), first_response_at=now)
    ticket(kixie.account, created_at=now - dt.timedelta(days=3), waiting_on_customer_since=now)
    login(client, kixie.manager)
    seen = 0
    for status in sla.Status.FILTERS:
        page = client.get(reverse("queues:list"), {"sla": status}).context["page"]
        assert all(r.sla.status == status for r in page.rows), status
        seen += len(page.rows)
    for key, *_ in sla.AGE_BUCKETS:
        page = client.get(reverse("queues:list"), {"age": key}).context["page"]
        assert all(r.age_bucket == key for r in page.rows), key
    assert seen == Ticket.objects.count()


@pytest.mark.django_db
def test_overview_counts_kind_by_state_and_ageing(client, kixie):
    now = timezone.now()
    ticket(kixie.account, kind=Kind.PORT_OUT, state=State.VERIFIED, created_at=now - dt.timedelta(days=20))
    ticket(kixie.account, kind=Kind.PORT_OUT)
    ticket(kixie.account, state=State.COMPLETED)  # closed work is not load
    data = login(client, kixie.manager).get(reverse("queues:overview")).context["data"]
    assert data.matrix["port_out"] == {"submitted": 1, "verified": 1, "approved": 0}
    assert data.total_open == 2
    assert data.ageing["7plus"] == 1 and sum(data.ageing.values()) == 2
    assert data.sla_totals["breached"] >= 1


@pytest.mark.django_db
def test_overview_counts_match_the_queue_filters(client, kixie):
    """Each SLA status and age bucket of the overview counts what its link's queue view lists."""
    now = timezone.now()
    ids = [t.pk for t in bulk_tickets(kixie.account, 120, assignee=kixie.agent, now=now)]
    Ticket.objects.filter(pk__in=ids[::7]).update(waiting_on_customer_since=now - dt.timedelta(hours=1))
    Ticket.objects.filter(pk__in=ids[3::5]).update(first_response_at=now - dt.timedelta(hours=2))
    login(client, kixie.manager)
    data = client.get(reverse("queues:overview")).context["data"]

    def listed(**query):
        return client.get(reverse("queues:list"), query).context["page"].count

    for status in sla.Status.FILTERS:
        assert sum(data.sla_by_kind[k][status] for k, _ in data.kinds) == listed(sla=status), status
    for key, *_ in sla.AGE_BUCKETS:
        assert data.ageing[key] == listed(age=key), key
    breached = {row["assignee_id"]: row["breached"] for row in data.by_assignee}
    assert breached[kixie.agent.pk] == listed(sla="breached", assignee=str(kixie.agent.pk))
    assert sum(data.sla_totals.values()) == sum(data.ageing.values()) == data.total_open == listed()


@pytest.mark.django_db
def test_insights_show_throughput_reasons_retention_and_port_outs(client, kixie):
    from tests.factories import RetentionOutcomeFactory

    now = timezone.now()
    ticket(kixie.account, state=State.COMPLETED, created_at=now - dt.timedelta(days=1), reason="too_expensive")
    ticket(kixie.account, kind=Kind.PORT_OUT, state=State.APPROVED, foc_date=now.date(), gaining_carrier="Telnyx")
    RetentionOutcomeFactory(account=kixie.account, plan=kixie.plan, offers_shown=["downgrade"], outcome="downgraded")
    RetentionOutcomeFactory(account=kixie.account, plan=kixie.plan, offers_shown=["downgrade"], outcome="cancelled")
    response = login(client, kixie.manager).get(reverse("queues:insights"))
    context = response.context
    assert sum(w["completed"] for w in context["weeks"]) == 1
    assert context["reasons"]["totals"]["too_expensive"] == 1
    month = context["retention"][-1]
    assert (month["shown"], month["saved"], month["rate"]) == (2, 1, 50.0)
    assert context["port_outs"]["by_state"]["approved"] == 1
    html = response.content.decode()
    assert html.count("<svg") == 4 and "Telnyx" in html


# Sunday 20:00 UTC: already Monday in Tokyo, so a local week would start a day after the UTC one.
SUNDAY_EVENING_UTC = dt.datetime(2026, 11, 29, 20, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_insights_count_weeks_in_utc_whatever_the_time_zone(client, kixie, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    with time_machine.travel(SUNDAY_EVENING_UTC, tick=False):
        ticket(kixie.account, state=State.COMPLETED, created_at=SUNDAY_EVENING_UTC, closed_at=SUNDAY_EVENING_UTC)
        response = login(client, kixie.manager).get(reverse("queues:insights"))
    assert response.status_code == 200
    this_week = response.context["weeks"][-1]
    assert this_week["week"] == dt.date(2026, 11, 23)
    assert (this_week["opened"], this_week["completed"]) == (1, 1)


@pytest.mark.django_db
def test_insights_leave_out_a_ticket_dated_after_this_week(client, kixie):
    # Written by a web server whose clock runs ahead: no column for it, and no error.
    now = timezone.now()
    ticket(kixie.account, state=State.COMPLETED, created_at=now, closed_at=now + dt.timedelta(days=8))
    response = login(client, kixie.manager).get(reverse("queues:insights"))
    assert response.status_code == 200
    assert sum(w["completed"] for w in response.context["weeks"]) == 0
    assert sum(w["opened"] for w in response.context["weeks"]) == 1


# -- assignment ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_agent_claims_an_unassigned_ticket(kixie):
    client = Client(enforce_csrf_checks=True)
    t = ticket(kixie.account)
    login(client, kixie.agent)
    assert client.post(reverse("queues:assign"), {"claim": t.pk}).status_code == 403  # no CSRF token
    page = client.get(reverse("queues:list"))
    token = page.cookies["csrftoken"].value
    response = client.post(
        reverse("queues:assign"), {"claim": t.pk, "csrfmiddlewaretoken": token, "query": "sort=kind"}
    )
    assert response.status_code == 302 and response["Location"].endswith("?sort=kind")
    t.refresh_from_db()
    assert t.assignee == kixie.agent


@pytest.mark.django_db
def test_agent_cannot_assign_to_others_or_take_anothers_ticket(client, kixie):
    other = StaffFactory()
    t = ticket(kixie.account)
    taken = ticket(kixie.account, assignee=other)
    login(client, kixie.agent)
    assert client.post(reverse("queues:assign"), {"tickets": [t.pk], "assignee": other.pk}).status_code == 403
    client.post(reverse("queues:assign"), {"claim": taken.pk})
    taken.refresh_from_db()
    assert taken.assignee == other


@pytest.mark.django_db
def test_manager_bulk_assigns_and_unassigns(client, kixie):
    tickets = [ticket(kixie.account) for _ in range(3)]
    login(client, kixie.manager)
    response = client.post(
        reverse("queues:assign"), {"tickets": [t.pk for t in tickets[:2]], "assignee": kixie.agent.pk}
    )
    assert response.status_code == 302
    assert set(Ticket.objects.filter(assignee=kixie.agent).values_list("pk", flat=True)) == {t.pk for t in tickets[:2]}
    client.post(reverse("queues:assign"), {"tickets": [tickets[0].pk], "assignee": "none"})
    assert Ticket.objects.filter(assignee=kixie.agent).count() == 1
    # A customer is never an assignee.
    client.post(reverse("queues:assign"), {"tickets": [tickets[2].pk], "assignee": kixie.owner.pk})
    tickets[2].refresh_from_db()
    assert tickets[2].assignee is None


@pytest.mark.django_db
def test_assignment_needs_post(client, kixie):
    assert login(client, kixie.manager).get(reverse("queues:assign")).status_code == 405


@pytest.mark.django_db
def test_wait_on_customer_pauses_and_resumes(client, kixie):
    t = ticket(kixie.account, assignee=kixie.agent)
    login(client, kixie.agent)
    client.post(reverse("queues:clock", args=[t.pk, "wait"]))
    t.refresh_from_db()
    assert t.waiting_on_customer_since is not None
    paused = client.get(reverse("queues:list"), {"sla": "paused"}).context["page"].rows
    assert [r.ticket.pk for r in paused] == [t.pk]
    client.post(reverse("queues:clock", args=[t.pk, "resume"]))
    t.refresh_from_db()
    assert t.waiting_on_customer_since is None and t.sla_clock_started_at is not None


# -- CSV -------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_csv_streams_the_filtered_view(client, kixie):
    kixie.account.name = '=HYPERLINK("http://evil")'
    kixie.account.save()
    port_out = ticket(kixie.account, kind=Kind.PORT_OUT, foc_date=dt.date(2030, 1, 2), assignee=kixie.agent)
    ticket(kixie.account)
    response = login(client, kixie.manager).get(reverse("queues:export"), {"kind": "port_out"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == selectors.CSV_HEADER
    assert len(rows) == 2
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["id"] == str(port_out.pk)
    assert line["kind"] == "port_out" and line["state"] == "submitted"
    assert line["account_id"] == kixie.account.account_id
    assert line["account"].startswith("'=")  # a formula in a customer's name is not run by a spreadsheet
    assert line["assignee"] == kixie.agent.email
    assert line["foc_date"] == "2030-01-02"
    assert line["sla_status"] in sla.Status.FILTERS and line["sla_due"]
    assert line["age_bucket"] == "lt1"


@pytest.mark.django_db
def test_csv_of_an_agent_holds_only_their_part(client, kixie):
    ticket(kixie.account, assignee=StaffFactory())
    mine = ticket(kixie.account, assignee=kixie.agent)
    response = login(client, kixie.agent).get(reverse("queues:export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r[0] for r in rows[1:]] == [str(mine.pk)]


# -- the agents' admin ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_changelist_filters_by_sla(client, kixie):
    now = timezone.now()
    breached = ticket(kixie.account, created_at=now - dt.timedelta(days=30))
    ticket(kixie.account, created_at=now - dt.timedelta(days=30), waiting_on_customer_since=now)
    response = login(client, kixie.agent).get(reverse("admin:tickets_ticket_changelist"), {"sla": "breached"})
    assert response.status_code == 200
    assert [t.pk for t in response.context["cl"].result_list] == [breached.pk]


# -- constant query counts ----------------------------------------------------------------------------------

COUNTED = [
    ("queues:overview", {}),
    ("queues:list", {}),
    ("queues:list", {"state": "all", "sla": "breached", "age": "7plus", "sort": "sla"}),
    ("queues:insights", {}),
    ("admin:tickets_ticket_changelist", {}),
    ("admin:tickets_ticket_changelist", {"sla": "at_risk"}),
]


def _queries(client, django_assert_max_num_queries, name, query) -> int:
    with django_assert_max_num_queries(15) as captured:
        assert client.get(reverse(name), query).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "query"), COUNTED)
def test_query_count_is_the_same_at_10_and_1000_rows(client, kixie, django_assert_max_num_queries, name, query):
    login(client, kixie.manager)
    bulk_tickets(kixie.account, 10, assignee=kixie.agent)
    small = _queries(client, django_assert_max_num_queries, name, query)
    bulk_tickets(kixie.other_account, 990, assignee=kixie.manager)
    assert Ticket.objects.count() == 1000
    large = _queries(client, django_assert_max_num_queries, name, query)
    assert small == large


# What a page costs, whatever the desk's size: session, user, then the page's own. The queue pages read the user's
# permissions in one query (tickets.queues.views.read_permissions), the admin in Django's two.
BUDGETS = [
    ("queues:list", {}, 6),  # permissions, plans for the rows and the filter form, the page's rows with the capped
    # count, staff for the filter form
    ("queues:overview", {}, 7),  # permissions, policies and plans for the SLA cutoffs, two GROUP BY queries
    ("admin:tickets_ticket_changelist", {}, 8),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "query", "budget"), BUDGETS)
def test_the_queue_pages_stay_within_their_query_budget(
    client, kixie, django_assert_max_num_queries, name, query, budget
):
    login(client, kixie.manager)
    bulk_tickets(kixie.account, 60, assignee=kixie.agent)
    client.get(reverse(name), query)  # the session's first use writes it
    with django_assert_max_num_queries(budget) as captured:
        assert client.get(reverse(name), query).status_code == 200
    assert len(captured.captured_queries) == budget  # the budget is what it costs: lower it when a page gets cheaper


def _logs(tickets) -> None:
    TransitionLog.objects.bulk_create(
        TransitionLog(ticket=t, transition="submit", source="", target="submitted", actor_label="x", channel="api")
        for t in tickets
    )


@pytest.mark.django_db
def test_the_transition_log_changelist_never_counts_every_row(client, kixie, django_assert_max_num_queries):
    from tickets.desk import changelist as queue_admin

    login(client, kixie.manager)
    _logs(bulk_tickets(kixie.account, 10))
    small = _queries(client, django_assert_max_num_queries, "admin:tickets_transitionlog_changelist", {})
    _logs(bulk_tickets(kixie.other_account, 990))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queue_admin, "COUNT_CAP", 500)  # the cap, made small enough to reach here
        with django_assert_max_num_queries(15) as captured:
            response = client.get(reverse("admin:tickets_transitionlog_changelist"))
    assert len(captured.captured_queries) == small
    assert not [q for q in captured.captured_queries if "DISTINCT" in q["sql"]]  # filters offer fixed choices
    assert response.context["cl"].result_count == 500  # the count stopped at the cap, not at the 1,000 rows
    assert len(response.context["cl"].result_list) == 100


@pytest.mark.django_db
def test_the_log_and_email_lists_filter_on_their_fixed_choices(client, kixie):
    from accounts.models import User
    from tickets.models import EmailNotice

    login(client, kixie.manager)
    first, second = ticket(kixie.account), ticket(kixie.account)
    _logs([first, second])
    TransitionLog.objects.create(
        ticket=first, transition="withdraw", source="submitted", target="withdrawn", actor_label="x", channel="web"
    )
    EmailNotice.objects.create(key="a", template="ticket_submitted")
    EmailNotice.objects.create(key="b", template="sla_warning")
    logs = client.get(reverse("admin:tickets_transitionlog_changelist"), {"transition": "withdraw"})
    assert [row.ticket_id for row in logs.context["cl"].result_list] == [first.pk]
    assert "?target=withdrawn" in logs.content.decode()  # every state offered, found or not
    superuser = User.objects.create_superuser(email="root@exitdesk.test", password="x-long-password-1")
    notices = login(client, superuser).get(reverse("admin:tickets_emailnotice_changelist"), {"template": "sla_warning"})
    assert [n.key for n in notices.context["cl"].result_list] == ["b"]


@pytest.mark.django_db
def test_csv_query_count_does_not_grow_with_rows(client, kixie, django_assert_max_num_queries):
    login(client, kixie.manager)
    bulk_tickets(kixie.account, 1000)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("queues:export"), {"state": "all"})
        rows = b"".join(response.streaming_content).decode().splitlines()
    assert len(rows) == 1001


@pytest.mark.django_db
def test_admin_assignee_and_route_filters_and_capped_count(client, kixie, monkeypatch):
    from tickets.desk import changelist as queue_admin

    mine = ticket(kixie.account, assignee=kixie.agent, route="support_case")
    pool = ticket(kixie.account, route="self_service")
    login(client, kixie.manager)
    changelist = reverse("admin:tickets_ticket_changelist")

    def shown(**query):
        return {t.pk for t in client.get(changelist, query).context["cl"].result_list}

    assert shown(assignee=str(kixie.agent.pk)) == {mine.pk}
    assert shown(assignee="none") == {pool.pk}
    assert shown(route="self_service") == {pool.pk}
    monkeypatch.setattr(queue_admin, "COUNT_CAP", 1)
    assert client.get(changelist).context["cl"].result_count == 1
