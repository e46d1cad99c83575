"""The queue list's table rows as HTML, in one pass of string formatting.

The rows were a template loop: some thirty variable lookups, filters, `{% url %}` tags and localizations a row,
which cost most of the page's time. Here every URL is reversed once a page, labels are looked up in dicts, and
each value is escaped once (html.escape, as Django's own escape); templates/queues/list.html places the result in its
table. The markup is the template's, row for row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape  # what django.utils.html.escape calls, without its lazy-string wrapper
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from tickets import sla
from tickets.models import OPEN_STATES, Kind, Priority, State

if TYPE_CHECKING:
    from tickets.selectors import Row

_PK = 2_147_483_647  # a stand-in id: each URL is reversed once and the row's id put in its place


def options(choices: Iterable[tuple[object, object]], selected: str) -> SafeString:
    """A select's <option> tags, the chosen one marked (values compared as text, as the query string has them)."""
    return mark_safe(  # noqa: S308 - values and labels escaped  # nosec B308 B703
        "".join(
            f'<option value="{escape(str(value))}"{" selected" if str(value) == selected else ""}>'
            f"{escape(str(label))}</option>"
            for value, label in choices
        )
    )


def preset_links(presets: Iterable[tuple[str, str]], current: str) -> SafeString:
    chosen = ' aria-current="true"'
    return mark_safe(  # noqa: S308 - keys and labels escaped  # nosec B308 B703
        "".join(
            f'<a href="?preset={escape(key)}"{chosen if key == current else ""}>{escape(label)}</a>'
            for key, label in presets
        )
    )


def _url_pattern(name: str, *args) -> tuple[str, str]:
    url = reverse(name, args=[_PK, *args])
    before, _, after = url.partition(str(_PK))
    return escape(before), escape(after)


def _hours(value: float) -> str:
    """floatformat:"-1": one decimal, none when it is a whole number."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def rows_html(rows: Sequence[Row], *, manager: bool, page_query: str) -> SafeString:
    if not rows:
        return mark_safe('<tr><td colspan="11">No tickets match this view.</td></tr>')  # noqa: S308 - fixed text  # nosec B308
    change_a, change_b = _url_pattern("admin:tickets_ticket_change")
    wait_a, wait_b = _url_pattern("queues:clock", "wait")
    resume_a, resume_b = _url_pattern("queues:clock", "resume")
    kinds = {key: escape(label) for key, label in Kind.choices}
    states = {key: escape(label) for key, label in State.choices}
    priorities = {key: escape(label) for key, label in Priority.choices}
    statuses = {key: escape(label) for key, label in sla.Status.LABELS.items()}
    clocks = {"first_response": "first response", "resolution": "resolution"}
    account_href = f"?{escape(page_query)}&amp;account="
    open_states = set(OPEN_STATES)
    local = timezone.localtime
    out = []
    for row in rows:
        t, s = row.ticket, row.sla
        pk = t.pk
        account = t.account
        account_id = escape(account.account_id)
        tick = (
            f'<td><input type="checkbox" name="tickets" value="{pk}" aria-label="Ticket {pk}"></td>' if manager else ""
        )
        foc = f'<br><span class="muted">FOC {t.foc_date:%Y-%m-%d}</span>' if t.foc_date else ""
        if s.due:
            due_at = local(s.due)
            due = f'<time datetime="{due_at.isoformat()}">{due_at:%Y-%m-%d}<br>{due_at:%H:%M}</time>'
        else:
            due = "—"
        actions = ""
        is_open = t.state in open_states
        if is_open and not t.assignee_id:
            actions = f'<button type="submit" name="claim" value="{pk}">Claim</button>'
        if is_open:
            if t.waiting_on_customer_since:
                actions += f'<button type="submit" formaction="{resume_a}{pk}{resume_b}">Customer answered</button>'
            else:
                actions += f'<button type="submit" formaction="{wait_a}{pk}{wait_b}">Wait on customer</button>'
        out.append(
            f"<tr>{tick}"
            f'<td><a href="{change_a}{pk}{change_b}">#{pk}</a></td>'
            f'<td class="kind">{kinds.get(t.kind, escape(t.kind))}{foc}</td>'
            f"<td>{states.get(t.state, escape(t.state))}</td>"
            f'<td class="account"><a href="{account_href}{account_id}">{account_id}</a><br>'
            f'<span class="muted">{escape(account.name)}</span><br>'
            f'<span class="muted">Plan: {escape(account.plan.name)}</span></td>'
            f"<td>{escape(t.assignee.email) if t.assignee_id else '—'}</td>"
            f"<td>{priorities.get(t.priority, escape(t.priority))}</td>"
            f'<td class="n" title="{row.age_days:.2f} business days">{row.age_days:.1f} d</td>'
            f'<td class="sla-cell"><span class="sla sla-{s.status}">{statuses[s.status]}</span><br><span class="muted">'
            f"{clocks.get(s.target, 'resolution')} · {s.elapsed_hours:.1f}/{_hours(s.target_hours)} h</span></td>"
            f'<td class="due">{due}</td>'
            f'<td><div class="actions">{actions}</div></td></tr>\n'
        )
    return mark_safe("".join(out))  # noqa: S308 - all escaped  # nosec B308 B703
