"""What the queue pages say besides their numbers (issue 17): whole-number axes for counts, SLA states told
apart by more than colour, times in the reader's time zone with its name, the desk's own footer, and the page's
count and permissions read in the fewest queries."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from tests.queues.conftest import bulk_tickets, ticket
from tickets.queues.views import SLA_COLORS, bar_chart, read_permissions


@pytest.mark.parametrize("peak", [1, 3, 5, 7, 9, 12, 17, 41, 99, 101, 1234])
def test_count_charts_tick_on_whole_numbers(peak):
    chart = bar_chart(["a", "b"], [("Open", [peak, 0])], title="t")
    values = [int(t["value"].replace(",", "")) for t in chart["ticks"]]
    assert all(re.fullmatch(r"[\d,]+", t["value"]) for t in chart["ticks"])  # never 1.2 or 2.5
    assert values[0] == 0 and values[-1] >= peak and len(set(values)) == 5
    assert values[1] * 4 == values[-1]  # evenly spaced


def test_sla_chart_gives_each_state_its_colour_its_name_and_its_number():
    labels = ["On track", "At risk", "Breached", "Paused"]
    chart = bar_chart(labels, [("Open tickets", [4, 2, 1, 0])], title="SLA", bar_colors=list(SLA_COLORS.values()))
    colours = [g["bars"][0]["color"] for g in chart["groups"]]
    assert len(set(colours)) == 4
    assert [item["name"] for item in chart["legend"]] == labels  # a legend naming each colour
    assert chart["value_labels"]  # and each bar's count printed on it


@pytest.mark.django_db
def test_overview_draws_sla_states_in_distinct_colours_with_a_legend(client, kixie):
    ticket(kixie.account, created_at=timezone.now() - dt.timedelta(days=30))
    client.force_login(kixie.manager)
    html = client.get(reverse("queues:overview")).content.decode()
    for colour in SLA_COLORS.values():
        assert f'fill="{colour}"' in html and f"background:{colour}" in html


@pytest.mark.django_db
def test_times_are_in_the_desks_time_zone_and_say_so(client, kixie, settings):
    settings.TIME_ZONE = "America/Los_Angeles"  # the user model has no time zone of its own: the desk's
    breached = ticket(kixie.account, created_at=timezone.now() - dt.timedelta(days=30))
    client.force_login(kixie.manager)
    response = client.get(reverse("queues:list"))
    html = response.content.decode()
    assert "America/Los_Angeles (P" in html  # PST or PDT beside the zone's name
    row = next(r for r in response.context["page"].rows if r.ticket.pk == breached.pk)
    shown = row.sla.due.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles"))
    assert f'datetime="{shown.isoformat()}"' in html
    for name in ("queues:overview", "queues:insights"):
        assert "America/Los_Angeles" in client.get(reverse(name)).content.decode()


@pytest.mark.django_db
def test_queue_footer_names_the_support_desk_not_the_customer_portal(client, kixie):
    client.force_login(kixie.manager)
    html = client.get(reverse("queues:list")).content.decode()
    footer = html[html.index('<footer class="site">') :]
    assert "support desk" in footer and "customer portal" not in footer


@pytest.mark.django_db
def test_permissions_are_read_once_and_answer_as_django_does(kixie, django_assert_num_queries):
    user = type(kixie.manager).objects.get(pk=kixie.manager.pk)
    direct = Permission.objects.get(codename="view_inboundmessage")
    user.user_permissions.add(direct)
    user = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        read_permissions(user)
        assert user.has_perm("tickets.view_queues") and user.has_perm("inbound.view_inboundmessage")
    fresh = type(user).objects.get(pk=user.pk)
    assert fresh.get_all_permissions() == user._perm_cache
    assert fresh.get_user_permissions() == user._user_perm_cache
    assert fresh.get_group_permissions() == user._group_perm_cache


@pytest.mark.django_db
@pytest.mark.parametrize("page", [1, 2, 30])
def test_capped_count_and_next_page_come_with_the_rows(client, kixie, page):
    bulk_tickets(kixie.account, 150)  # every state: all 150 listed
    client.force_login(kixie.manager)
    response = client.get(reverse("queues:list"), {"state": "all", "page": page})
    result = response.context["page"]
    assert result.count == 150
    assert len(result.rows) == {1: 50, 2: 50, 30: 0}[page]
    assert result.has_next == (page < 3)
    created = [(r.ticket.created_at, r.ticket.pk) for r in result.rows]
    assert created == sorted(created, reverse=True)  # newest first, as the ids were chosen
