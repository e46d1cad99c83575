"""Manager queues: overview, queue list, insights, CSV export and assignment. Staff only.

Support managers (tickets.view_queues) see every ticket; support agents see their own part (tickets assigned
to them and the open pool they can claim). Customers get 404: the pages do not exist for them.
"""

from __future__ import annotations

import csv
import math
import zoneinfo
from collections.abc import Callable, Iterable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Value
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.exceptions import Refusal
from accounts.models import User
from config.ids import as_id
from tickets import access, selectors, services, sla
from tickets.models import Kind, Ticket
from tickets.queues import render as queue_render

# -- access ---------------------------------------------------------------------------------------------------


def staff_view(*, managers_only: bool = False) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not access.is_staff(user):
                raise Http404  # customers do not learn these pages exist
            read_permissions(user)
            allowed = access.may_see_insights(user) if managers_only else access.may_use_queues(user)
            if not allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def read_permissions(user) -> None:
    """The user's permissions, direct and through groups, in one query instead of Django's two, kept where
    Django's ModelBackend keeps them on the user object (`_user_perm_cache`, `_group_perm_cache`, `_perm_cache`),
    so every `has_perm` of this request (access.*, the template's nav) asks the same object and no query."""
    if hasattr(user, "_perm_cache") or not user.is_active or user.is_superuser:
        return  # read already, or Django's own path (a superuser holds every permission without reading them)
    fields = ("content_type__app_label", "codename", "direct")
    direct = Permission.objects.filter(user=user).annotate(direct=Value(True)).values_list(*fields).order_by()
    grouped = Permission.objects.filter(group__user=user).annotate(direct=Value(False)).values_list(*fields).order_by()
    by_source: dict[bool, set[str]] = {True: set(), False: set()}
    for app_label, codename, is_direct in direct.union(grouped, all=True):
        by_source[bool(is_direct)].add(f"{app_label}.{codename}")
    user._user_perm_cache, user._group_perm_cache = by_source[True], by_source[False]
    user._perm_cache = by_source[True] | by_source[False]


def staff_time_zone(user) -> zoneinfo.ZoneInfo:
    """The time zone a member of staff reads times in: their own where the user model has one (`time_zone`),
    else the desk's (settings.TIME_ZONE); the pages name it beside every time."""
    for name in (getattr(user, "time_zone", ""), settings.TIME_ZONE, "UTC"):
        try:
            return zoneinfo.ZoneInfo(name)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def _nav(request: HttpRequest, current: str) -> dict:
    tz = timezone.get_current_timezone()
    return {"current": current, "is_manager": access.is_manager(request.user), "tz_label": _tz_label(tz)}


def _tz_label(tz: zoneinfo.ZoneInfo) -> str:
    abbreviation = timezone.now().astimezone(tz).tzname() or ""
    name = str(tz)
    return name if abbreviation in {name, ""} or not abbreviation.isalpha() else f"{name} ({abbreviation})"


# -- charts: server-side SVG, each shown with its numbers' table ---------------------------------------------

PALETTE = ["#2b6cb0", "#dd6b20", "#38a169", "#c53030", "#6b46c1", "#718096", "#d69e2e", "#319795"]


# SLA states in colours of their own (the badges' hues), always beside their names: never colour alone.
SLA_COLORS = {"on_track": "#2f855a", "at_risk": "#c05621", "breached": "#c53030", "paused": "#4a5568"}


def bar_chart(
    labels: list[str],
    series: list[tuple[str, list[int | float]]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    bar_colors: list[str] | None = None,
) -> dict:
    """Grouped vertical bars: one group per label, one bar per series; geometry for templates/queues/_chart.html.
    Counts get whole-number ticks; `bar_colors` colours one series' bars per label (then the legend names the
    labels), and a single series prints each bar's value above it, so no reading depends on colour."""
    left, bottom, top = 40, 40, 14
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([v for _, values in series for v in values] + [0])
    counts = all(isinstance(v, int) for _, values in series for v in values)
    step = _tick_step(peak, whole=counts)
    scale_max = step * 4
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    groups = []
    for i, label in enumerate(labels):
        bars = []
        for j, (name, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / scale_max if scale_max else 0
            x = left + i * group_w + group_w * 0.1 + j * bar_w
            color = bar_colors[i] if bar_colors else PALETTE[j % len(PALETTE)]
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(top + plot_h - h, 1),
                    "w": round(bar_w - 1, 1),
                    "h": round(h, 1),
                    "value": value,
                    "series": name,
                    "color": color,
                    "label_x": round(x + (bar_w - 1) / 2, 1),
                    "label_y": round(top + plot_h - h - 3, 1),
                }
            )
        # One word a line, so long kind names do not run into their neighbours.
        groups.append(
            {"label": label, "lines": str(label).split(), "x": round(left + i * group_w + group_w / 2, 1), "bars": bars}
        )
    ticks = [{"value": _tick_text(step * k), "y": round(top + plot_h - plot_h * k / 4, 1)} for k in range(5)]
    if bar_colors:
        legend = [{"name": str(label), "color": color} for label, color in zip(labels, bar_colors, strict=True)]
    else:
        legend = [{"name": name, "color": PALETTE[j % len(PALETTE)]} for j, (name, _) in enumerate(series)]
    return {
        "title": title,
        "width": width,
        "height": height,
        "left": left,
        "right": width - 10,
        "baseline": top + plot_h,
        "label_y": top + plot_h + 16,
        "groups": groups,
        "ticks": ticks,
        "legend": legend,
        "value_labels": len(series) == 1,
        "bar_colors": bool(bar_colors),
        "rotate_labels": len(labels) > 8,
    }


def _tick_step(peak: float, *, whole: bool) -> float:
    """The step between the chart's four gridlines: 1, 2, 2.5 or 5 times a power of ten, and a whole number
    (1, 2, 5, 10, 20, 25, …) when the values are counts, so a count's axis never reads 1.2 or 2.5."""
    if peak <= 0:
        return 1
    raw = peak / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if whole and (step < 1 or step != int(step)):
            continue
        if step >= raw:
            return int(step) if whole else step
    return 10 * magnitude


def _tick_text(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")


# -- pages ----------------------------------------------------------------------------------------------------


@require_GET
@staff_view()
def overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    data = selectors.overview(request.user, now)
    rows = [
        {
            "kind": kind,
            "label": label,
            "cells": [(state, data.matrix[kind][state]) for state, _ in data.states],
            "total": sum(data.matrix[kind].values()),
            "sla": [(status, data.sla_by_kind[kind][status]) for status in sla.Status.FILTERS],
        }
        for kind, label in data.kinds
    ]
    ageing = [(key, label, data.ageing[key]) for key, label, *_ in sla.AGE_BUCKETS]
    charts = {
        "ageing": bar_chart(
            [label for _, label, _ in ageing], [("Open tickets", [n for *_, n in ageing])], title="Ageing of open work"
        ),
        "sla": bar_chart(
            [sla.Status.LABELS[s].split(" (")[0] for s in sla.Status.FILTERS],
            [("Open tickets", [data.sla_totals[s] for s in sla.Status.FILTERS])],
            title="SLA status of open work",
            bar_colors=[SLA_COLORS[s] for s in sla.Status.FILTERS],
        ),
        "load": bar_chart(
            [label for _, label in data.kinds],
            [(label, [data.matrix[k][s] for k, _ in data.kinds]) for s, label in data.states],
            title="Open work by kind and state",
            height=260,
        ),
    }
    context = {
        **_nav(request, "overview"),
        "data": data,
        "rows": rows,
        "ageing": ageing,
        "statuses": [(s, sla.Status.LABELS[s]) for s in sla.Status.FILTERS],
        "charts": charts,
        "now": now,
        "list_url": reverse("queues:list"),  # once, not a {% url %} tag for each of the table's links
    }
    return render(request, "queues/overview.html", context)


@require_GET
@staff_view()
def queue_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    filters = selectors.QueueFilters.from_query(request.GET)
    tickets = selectors.queue(request.user, filters, now)
    all_plans = selectors.plans_with_policies()
    page = selectors.page_of(tickets, filters.page, now, plans=all_plans, sort=filters.sort)
    manager = access.may_assign_anyone(request.user)
    presets = [(key, label) for key, (label, _) in selectors.PRESETS.items()]
    statuses = [(s, sla.Status.LABELS[s]) for s in sla.Status.FILTERS]
    ages = [(key, label) for key, label, *_ in sla.AGE_BUCKETS]
    sorts = [(key, label) for key, (label, _) in selectors.SORTS.items()]
    plans = all_plans if manager else []
    staff_choices = list(selectors.staff_choices().values_list("pk", "email")) if manager else []
    # The filter form's options, built here rather than by template loops (tickets/queues/render.py).
    form = {
        "presets": queue_render.preset_links(presets, request.GET.get("preset", "")),
        "kind": queue_render.options(Kind.choices, filters.kind),
        "state": queue_render.options(selectors.STATE_CHOICES, filters.state),
        "assignee": queue_render.options(staff_choices, filters.assignee),
        "plan": queue_render.options([(p.pk, p.name) for p in plans], filters.plan),
        "sla": queue_render.options(statuses, filters.sla),
        "age": queue_render.options(ages, filters.age),
        "sort": queue_render.options(sorts, filters.sort),
        "bulk": queue_render.options(staff_choices, ""),
    }
    context = {
        **_nav(request, "list"),
        "filters": filters,
        "page": page,
        "rows_html": queue_render.rows_html(page.rows, manager=manager, page_query=filters.query(page="")),
        "form": form,
        "presets": presets,
        "current_preset": request.GET.get("preset", ""),
        "kinds": Kind.choices,
        "states": selectors.STATE_CHOICES,
        "statuses": statuses,
        "ages": ages,
        "sorts": sorts,
        "plans": plans,
        "staff": staff_choices,
        "query": filters.query(),
        "page_query": filters.query(page=""),
        "csv_query": filters.query(page=""),
        "now": now,
    }
    return render(request, "queues/list.html", context)


@require_GET
@staff_view(managers_only=True)
def insights(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    weeks = selectors.throughput(now)
    reasons = selectors.exit_reasons(now)
    retention = selectors.retention(now)
    port_outs = selectors.port_outs(now)
    charts = {
        "throughput": bar_chart(
            [f"{w['week']:%d %b}" for w in weeks],
            [("Opened", [w["opened"] for w in weeks]), ("Completed", [w["completed"] for w in weeks])],
            title="Tickets opened and completed per week",
        ),
        "reasons": bar_chart(
            [key.replace("_", " ") for key, _ in reasons["reasons"]],
            [("Cancellations", [reasons["totals"][key] for key, _ in reasons["reasons"]])],
            title="Exit-survey reasons",
        ),
        "retention": bar_chart(
            [f"{m['month']:%b %y}" for m in retention],
            [("Offers shown", [m["shown"] for m in retention]), ("Saved", [m["saved"] for m in retention])],
            title="Retention offers shown and accepted",
        ),
        "port_outs": bar_chart(
            [label for _, label in Ticket._meta.get_field("state").choices],
            [("Port-outs", [port_outs["by_state"][s] for s, _ in Ticket._meta.get_field("state").choices])],
            title="Port-outs by state",
        ),
    }
    context = {
        **_nav(request, "insights"),
        "weeks": weeks,
        "reasons": reasons,
        "retention": retention,
        "port_outs": port_outs,
        "port_out_states": [(label, port_outs["by_state"][s]) for s, label in Ticket._meta.get_field("state").choices],
        "charts": charts,
        "now": now,
    }
    return render(request, "queues/insights.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@staff_view()
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The queue view of this query string, every row (no pagination), streamed."""
    if not access.may_export_queue(request.user):
        raise PermissionDenied
    now = timezone.now()
    filters = selectors.QueueFilters.from_query(request.GET)
    tickets = selectors.queue(request.user, filters, now)
    writer = csv.writer(_Echo())
    body: Iterable[str] = (writer.writerow(line) for line in selectors.csv_rows(tickets, now))
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="queue-{now:%Y%m%d-%H%M}.csv"'
    return response


# -- assignment and the customer clock --------------------------------------------------------------------


def _back(request: HttpRequest) -> HttpResponseRedirect:
    # Only a query string comes back from the form: the redirect stays on this page whatever it holds.
    query = request.POST.get("query", "")
    return HttpResponseRedirect(reverse("queues:list") + (f"?{query}" if query else ""))


@require_POST
@staff_view()
def assign(request: HttpRequest) -> HttpResponseRedirect:
    """Claim one ticket (button `claim`), or assign the ticked tickets to someone: each through
    tickets.services.assign_ticket, which asks tickets.access (agents claim unassigned tickets only)."""
    user = request.user
    if request.POST.get("claim"):
        ids, target = [request.POST["claim"]], "me"
    else:
        ids, target = request.POST.getlist("tickets"), request.POST.get("assignee", "")
    ids = [pk for pk in map(as_id, ids) if pk is not None]
    if not ids:
        messages.warning(request, "Tick at least one ticket.")
        return _back(request)
    if target == "me":
        assignee: User | None = user
    elif not access.may_assign_anyone(user):
        raise PermissionDenied  # agents claim for themselves only
    elif target == "none":
        assignee = None
    else:
        pk = as_id(target)
        assignee = access.assignable_staff().filter(pk=pk).first() if pk else None
        if assignee is None:
            messages.error(request, "Choose an active member of staff.")
            return _back(request)
    tickets = list(access.queue_for(user).filter(pk__in=ids).order_by("pk"))
    done = skipped = 0
    for ticket in tickets:
        if not access.may_assign(user, ticket, assignee):
            skipped += 1  # another agent's ticket is not theirs to take
            continue
        try:
            services.assign_ticket(ticket=ticket, assignee=assignee, actor=user)
        except Refusal as refusal:
            messages.error(request, f"#{ticket.pk}: {refusal.detail}")
        else:
            done += 1
    who = "nobody" if assignee is None else ("you" if assignee == user else assignee.email)
    if done:
        messages.success(request, f"{done} ticket{'s' if done != 1 else ''} assigned to {who}.")
    skipped += len(ids) - len(tickets)
    if skipped:
        messages.warning(request, f"{skipped} ticket(s) were not yours to assign and were skipped.")
    return _back(request)


@require_POST
@staff_view()
def customer_clock(request: HttpRequest, pk: int, action: str) -> HttpResponseRedirect:
    """Mark a ticket as waiting on the customer (the SLA clock pauses) or as answered (it runs again)."""
    ticket = get_object_or_404(access.queue_for(request.user).select_related("account__plan__policy"), pk=pk)
    if not access.may_change_ticket(request.user, ticket):
        raise PermissionDenied
    if action == "wait":
        changed = sla.pause_clock(ticket)
        text = "is waiting on the customer: SLA clock paused" if changed else "was already waiting on the customer"
    elif action == "resume":
        changed = sla.resume_clock(ticket, ticket.account.plan.policy)
        text = "has the customer's answer: SLA clock running" if changed else "was not waiting on the customer"
    else:
        raise Http404
    messages.info(request, f"#{ticket.pk} {text}.")
    return _back(request)
