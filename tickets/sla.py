"""Business-hours arithmetic and SLA status, counted in a policy's intake calendar.

A policy's business hours are its intake weekdays between intake_start and intake_end, as wall-clock times in
its intake time zone (so a DST change moves them in UTC, not in local time), minus the closed days of
its calendar (`Policy.is_closed_day`: the public holidays of the policy's `holiday_country` and
`holiday_subdivision` from the holidays library, and its `closed_dates`), the same calendar the intake hours use (K6).

Each SLA clock starts at `Ticket.sla_clock_started_at` (NULL means the ticket's created_at). While a ticket
waits on the customer the clock is paused; when the customer answers, the start is moved forward by the
paused time (`resume_clock`), so "elapsed" stays one business_hours_between(start, now) and the queue
filters become one cutoff per policy and kind:

    breached  ⇔  now ≥ due  ⇔  business_hours_between(start, now) ≥ target
              ⇔  start ≤ subtract_business_hours(now, target)
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

from django.contrib import admin
from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone

from billing.models import Plan, Policy, closed_days, valid_sla_hours
from tickets.models import OPEN_STATES, Kind, Ticket

# The policy fields the SLA arithmetic reads (a page loads these only).
POLICY_FIELDS = (
    "preset",
    "name",
    "intake_time_zone",
    "intake_weekdays",
    "intake_start",
    "intake_end",
    "holiday_country",
    "holiday_subdivision",
    "closed_dates",
    "sla_targets",
)
DEFAULT_TARGETS = {"first_response": 4.0, "resolution": 16.0}
# A ticket is at risk once this share of its target is used up.
AT_RISK_SHARE = 0.75
ZERO = dt.timedelta(0)


# -- the calendar ------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _calendar_opening(calendar: tuple, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
    time_zone, weekdays, intake_start, intake_end, country, subdivision, extra = calendar
    if day.weekday() not in weekdays or day in closed_days(country, subdivision, extra, day.year):
        return None
    tz = zoneinfo.ZoneInfo(time_zone)
    start = dt.datetime.combine(day, intake_start, tzinfo=tz)
    end = dt.datetime.combine(day, intake_end, tzinfo=tz)
    # Compare in UTC: aware datetimes sharing a tzinfo compare as wall-clock times otherwise.
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    return (start, end) if end > start else None


def _open_weekly(policy: Policy) -> bool:
    return bool(policy.intake_weekdays) and policy.intake_start < policy.intake_end


def business_day_length(policy: Policy) -> dt.timedelta:
    """How long one business day is (ageing buckets count in these)."""
    start = dt.datetime.combine(dt.date(2001, 1, 1), policy.intake_start)
    end = dt.datetime.combine(dt.date(2001, 1, 1), policy.intake_end)
    return max(end - start, dt.timedelta(minutes=1))


# -- the arithmetic: a table of openings with the business time before each, searched by bisection ----------
#
# A calendar's openings (one a local day at most, each inside its own local day) are listed in order, in UTC,
# with the business time that passed before each since the table's first day. The business time up to any
# instant is then one bisection (`_Table.position`), "between" is a difference of two positions, and a due
# time or a cutoff is a bisection on the running totals: a queue page's fifty rows cost microseconds each,
# not a walk over every day of their age. Tables are kept per calendar and grow to the days asked for.

_PAD = dt.timedelta(days=62)  # a table grows by at least this much, so growing is rare


class _Table:
    __slots__ = ("first", "last", "lo", "hi", "starts", "lengths", "before", "after")

    def __init__(self, calendar: tuple, tz: zoneinfo.ZoneInfo, first: dt.date, last: dt.date) -> None:
        self.first, self.last = first, last
        one = dt.timedelta(days=1)
        # Instants in [lo, hi) fall on local days first + 1 … last - 1: a day either side is in the table.
        self.lo = dt.datetime.combine(first + one, dt.time(), tzinfo=tz).astimezone(dt.UTC)
        self.hi = dt.datetime.combine(last, dt.time(), tzinfo=tz).astimezone(dt.UTC)
        self.starts, self.lengths, self.before, self.after = [], [], [], []
        total, day = ZERO, first
        while day <= last:
            opening = _calendar_opening(calendar, day)
            if opening:
                length = opening[1] - opening[0]
                self.starts.append(opening[0])
                self.lengths.append(length)
                self.before.append(total)
                total += length
                self.after.append(total)
            day += one

    def covers(self, moment: dt.datetime) -> bool:
        return self.lo <= moment < self.hi

    def position(self, moment: dt.datetime) -> dt.timedelta:
        """Business time from the table's first day to `moment` (a UTC instant the table covers)."""
        k = bisect.bisect_right(self.starts, moment) - 1
        if k < 0:
            return ZERO
        into = moment - self.starts[k]
        return self.before[k] + (into if into < self.lengths[k] else self.lengths[k])


class _Calendar:
    def __init__(self, key: tuple) -> None:
        self.key = key
        self.tz = zoneinfo.ZoneInfo(key[0])
        self.table: _Table | None = None

    def day(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.tz).date()

    def table_for(self, *moments: dt.datetime, first: dt.date | None = None, last: dt.date | None = None) -> _Table:
        """A table that covers these instants (and the days first … last when given)."""
        table = self.table
        if table is not None and all(table.covers(m) for m in moments):
            if (first is None or first >= table.first) and (last is None or last <= table.last):
                return table
        one = dt.timedelta(days=1)
        days = [self.day(m) for m in moments] + [d for d in (first, last) if d is not None]
        lo, hi = min(days) - one, max(days) + one
        if table is not None:
            lo, hi = min(lo, table.first), max(hi, table.last)
        table = _Table(self.key, self.tz, lo - _PAD, hi + _PAD)
        self.table = table  # a whole new table: a reader holding the old one is unaffected
        return table


@functools.lru_cache(maxsize=256)
def _calendar_for(key: tuple) -> _Calendar:
    return _Calendar(key)


def _calendar(policy: Policy) -> _Calendar:
    return _calendar_for(
        (
            policy.intake_time_zone,
            tuple(policy.intake_weekdays),
            policy.intake_start,
            policy.intake_end,
            policy.holiday_country,
            policy.holiday_subdivision,
            tuple(policy.closed_dates or ()),
        )
    )


def business_time_between(policy: Policy, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Exact business time in [start, end); zero when end ≤ start."""
    if end <= start or not _open_weekly(policy):
        return ZERO
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    table = _calendar(policy).table_for(start, end)
    return table.position(end) - table.position(start)


def business_hours_between(policy: Policy, start: dt.datetime, end: dt.datetime) -> float:
    """Business hours from start to end in the policy's calendar (0.0 when end ≤ start)."""
    return business_time_between(policy, start, end).total_seconds() / 3600


def _as_delta(hours: float | dt.timedelta) -> dt.timedelta:
    return hours if isinstance(hours, dt.timedelta) else dt.timedelta(hours=hours)


# A policy with no open day at all would search forever; ten years of closed days is "never".
_MAX_DAYS = 3660


def add_business_hours(policy: Policy, start: dt.datetime, hours: float | dt.timedelta) -> dt.datetime:
    """The earliest instant at which `hours` business hours have passed since `start` (a due time)."""
    remaining = _as_delta(hours)
    if remaining <= ZERO:
        return start
    if not _open_weekly(policy):
        raise ValueError(f"Policy {policy} has no business hours.")
    calendar, moment = _calendar(policy), start.astimezone(dt.UTC)
    table = calendar.table_for(moment)
    limit = calendar.day(moment) + dt.timedelta(days=_MAX_DAYS)
    while True:
        target = table.position(moment) + remaining
        if table.after and table.after[-1] >= target:
            i = bisect.bisect_left(table.after, target)  # the first opening by whose end the time has passed
            return table.starts[i] + (target - table.before[i])
        if table.last >= limit:
            raise ValueError(f"Policy {policy} has no business hours in ten years.")
        table = calendar.table_for(moment, last=min(table.last + dt.timedelta(days=366), limit))


def subtract_business_hours(policy: Policy, end: dt.datetime, hours: float | dt.timedelta) -> dt.datetime:
    """The latest instant from which `hours` business hours have passed by `end`.

    So `business_hours_between(policy, s, end) >= hours` exactly when `s <= subtract_business_hours(...)`:
    the queue filters turn "breached", "at risk" and "older than N days" into one cutoff per policy.
    """
    remaining = _as_delta(hours)
    if remaining <= ZERO:
        return end
    if not _open_weekly(policy):
        raise ValueError(f"Policy {policy} has no business hours.")
    calendar, moment = _calendar(policy), end.astimezone(dt.UTC)
    table = calendar.table_for(moment)
    limit = calendar.day(moment) - dt.timedelta(days=_MAX_DAYS)
    while True:
        target = table.position(moment) - remaining
        if table.before and target >= ZERO:
            i = bisect.bisect_right(table.before, target) - 1  # the last opening that starts by the target
            return table.starts[i] + (target - table.before[i])
        if table.first <= limit:
            raise ValueError(f"Policy {policy} has no business hours in ten years.")
        table = calendar.table_for(moment, first=max(table.first - dt.timedelta(days=366), limit))


# -- targets and status ------------------------------------------------------------------------------------


def targets(policy: Policy, kind: str) -> dict[str, float]:
    """{"first_response": h, "resolution": h} for this kind, from the policy's sla_targets (business hours)."""
    # A row saved before sla_targets was validated may hold anything: fall back to the defaults.
    configured = policy.sla_targets if isinstance(policy.sla_targets, dict) else {}
    chosen = configured.get(kind) or configured.get("default")
    chosen = chosen if isinstance(chosen, dict) else {}
    return {
        name: float(chosen[name]) if valid_sla_hours(chosen.get(name)) else default
        for name, default in DEFAULT_TARGETS.items()
    }


class Status:
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"

    LABELS = {
        "on_track": "On track",
        "at_risk": "At risk",
        "breached": "Breached",
        "paused": "Paused (waiting on customer)",
        "met": "Met",
        "missed": "Missed",
    }
    # What the filters offer: the statuses of open tickets.
    FILTERS = [ON_TRACK, AT_RISK, BREACHED, PAUSED]


@dataclass(frozen=True)
class Sla:
    """One ticket's SLA as shown on every queue row."""

    status: str
    target: str  # which clock decides: "first_response" or "resolution"
    due: dt.datetime | None
    elapsed_hours: float
    target_hours: float
    first_response_due: dt.datetime
    resolution_due: dt.datetime | None

    @property
    def label(self) -> str:
        return Status.LABELS[self.status]

    @property
    def remaining_hours(self) -> float:
        return self.target_hours - self.elapsed_hours


def clock_start(ticket: Ticket) -> dt.datetime:
    return ticket.sla_clock_started_at or ticket.created_at


def ticket_sla(ticket: Ticket, policy: Policy, now: dt.datetime | None = None) -> Sla:
    """The SLA of one ticket: the pending clock (first response until staff answer, then resolution) decides.

    Open tickets are on track, at risk (≥ 75 % of the target used), breached (now ≥ due) or paused while they
    wait on the customer; closed tickets met or missed their resolution target.
    """
    now = now or timezone.now()
    goal = targets(policy, ticket.kind)
    start = clock_start(ticket)
    first_due = add_business_hours(policy, start, goal["first_response"])
    resolution_due = add_business_hours(policy, start, goal["resolution"])
    if ticket.closed_at is not None:
        elapsed = business_time_between(policy, start, ticket.closed_at)
        late = elapsed >= _as_delta(goal["resolution"]) or (
            ticket.first_response_at is not None and ticket.first_response_at > first_due
        )
        return Sla(
            Status.MISSED if late else Status.MET,
            "resolution",
            resolution_due,
            elapsed.total_seconds() / 3600,
            goal["resolution"],
            first_due,
            resolution_due,
        )
    which = "first_response" if ticket.first_response_at is None else "resolution"
    target = goal[which]
    due = first_due if which == "first_response" else resolution_due
    if ticket.waiting_on_customer_since is not None:
        elapsed = business_time_between(policy, start, ticket.waiting_on_customer_since)
        return Sla(Status.PAUSED, which, None, elapsed.total_seconds() / 3600, target, first_due, resolution_due)
    elapsed = business_time_between(policy, start, now)
    if elapsed >= _as_delta(target):
        status = Status.BREACHED
    elif elapsed >= _as_delta(target * AT_RISK_SHARE):
        status = Status.AT_RISK
    else:
        status = Status.ON_TRACK
    return Sla(status, which, due, elapsed.total_seconds() / 3600, target, first_due, resolution_due)


# -- the clock's pause ---------------------------------------------------------------------------------------


def pause_clock(ticket: Ticket, when: dt.datetime | None = None) -> bool:
    """The ticket now waits on the customer: the clock stops. Returns False if it was already paused."""
    when = when or timezone.now()
    done = Ticket.objects.filter(pk=ticket.pk, waiting_on_customer_since__isnull=True, closed_at__isnull=True).update(
        waiting_on_customer_since=when
    )
    if done:
        ticket.waiting_on_customer_since = when
    return bool(done)


def resume_clock(ticket: Ticket, policy: Policy, when: dt.datetime | None = None) -> bool:
    """The customer answered: restart the clock with the business time already used before the pause.

    The new start is `elapsed` business hours before `when`, so business_hours_between(start, t) for any later
    t counts the time before the pause plus the time after it, and the queue filters need no per-row sums.
    """
    when = when or timezone.now()
    if ticket.waiting_on_customer_since is None:
        return False
    used = business_time_between(policy, clock_start(ticket), ticket.waiting_on_customer_since)
    new_start = subtract_business_hours(policy, when, used) if used > ZERO else when
    # Conditional update: of two concurrent resumes only the first moves the clock.
    done = Ticket.objects.filter(pk=ticket.pk, waiting_on_customer_since=ticket.waiting_on_customer_since).update(
        waiting_on_customer_since=None, sla_clock_started_at=new_start
    )
    if done:
        ticket.waiting_on_customer_since = None
        ticket.sla_clock_started_at = new_start
    return bool(done)


# -- queries: one cutoff per policy and kind ------------------------------------------------------------


@dataclass(frozen=True)
class PolicyScope:
    """A policy with the plans that use it: tickets belong to it through account__plan_id."""

    policy: Policy
    plan_ids: tuple[int, ...]


def policy_scopes() -> list[PolicyScope]:
    plans: dict[int, list[int]] = {}
    for plan_id, policy_id in Plan.objects.values_list("pk", "policy_id"):
        plans.setdefault(policy_id, []).append(plan_id)
    return [
        PolicyScope(policy, tuple(plans[policy.pk]))
        for policy in Policy.objects.filter(pk__in=list(plans)).order_by("pk")
        if _open_weekly(policy)
    ]


def _kind_groups(policy: Policy) -> dict[tuple[float, float], list[str]]:
    groups: dict[tuple[float, float], list[str]] = {}
    for kind in Kind.values:
        goal = targets(policy, kind)
        groups.setdefault((goal["first_response"], goal["resolution"]), []).append(kind)
    return groups


def _started_by(cutoff: dt.datetime, prefix: str = "") -> Q:
    return Q(**{f"{prefix}sla_clock_started_at__lte": cutoff}) | Q(
        **{f"{prefix}sla_clock_started_at__isnull": True, f"{prefix}created_at__lte": cutoff}
    )


def used_share_q(scopes: list[PolicyScope], share: float, now: dt.datetime, prefix: str = "") -> Q:
    """Open, running tickets whose pending clock has used at least `share` of its target."""
    clauses = Q(pk__in=[])
    for scope in scopes:
        for (first_response, resolution), kinds in _kind_groups(scope.policy).items():
            first_cut = subtract_business_hours(scope.policy, now, first_response * share)
            resolution_cut = subtract_business_hours(scope.policy, now, resolution * share)
            clauses |= Q(**{f"{prefix}account__plan_id__in": scope.plan_ids, f"{prefix}kind__in": kinds}) & (
                (Q(**{f"{prefix}first_response_at__isnull": True}) & _started_by(first_cut, prefix))
                | (Q(**{f"{prefix}first_response_at__isnull": False}) & _started_by(resolution_cut, prefix))
            )
    return clauses


def status_q(status: str, scopes: list[PolicyScope], now: dt.datetime, prefix: str = "") -> Q:
    """A filter for the SLA status of open tickets, exactly matching ticket_sla()."""
    is_open = Q(**{f"{prefix}state__in": OPEN_STATES})
    running = is_open & Q(**{f"{prefix}waiting_on_customer_since__isnull": True})
    breached = used_share_q(scopes, 1.0, now, prefix)
    at_risk_or_worse = used_share_q(scopes, AT_RISK_SHARE, now, prefix)
    if status == Status.PAUSED:
        return is_open & Q(**{f"{prefix}waiting_on_customer_since__isnull": False})
    if status == Status.BREACHED:
        return running & breached
    if status == Status.AT_RISK:
        return running & at_risk_or_worse & ~breached
    if status == Status.ON_TRACK:
        return running & ~at_risk_or_worse
    raise ValueError(f"Unknown SLA status {status!r}")


def status_case(scopes: list[PolicyScope], now: dt.datetime, prefix: str = "") -> Case:
    """The SLA status of an open ticket as one SQL expression, for GROUP BY: the same cutoffs as status_q (paused
    first, then breached, then at risk), each built once rather than once per status."""
    return Case(
        When(Q(**{f"{prefix}waiting_on_customer_since__isnull": False}), then=Value(Status.PAUSED)),
        When(used_share_q(scopes, 1.0, now, prefix), then=Value(Status.BREACHED)),
        When(used_share_q(scopes, AT_RISK_SHARE, now, prefix), then=Value(Status.AT_RISK)),
        default=Value(Status.ON_TRACK),
        output_field=CharField(),
    )


def age_at_least_q(days: float, scopes: list[PolicyScope], now: dt.datetime, prefix: str = "") -> Q:
    """Tickets at least `days` business days old (business days of their own policy), counted from created_at."""
    clauses = Q(pk__in=[])
    for scope in scopes:
        cutoff = subtract_business_hours(scope.policy, now, business_day_length(scope.policy) * days)
        clauses |= Q(**{f"{prefix}account__plan_id__in": scope.plan_ids, f"{prefix}created_at__lte": cutoff})
    return clauses


AGE_BUCKETS = [
    ("lt1", "< 1 business day", 0, 1),
    ("1to3", "1–3 business days", 1, 3),
    ("3to7", "3–7 business days", 3, 7),
    ("7plus", "7+ business days", 7, None),
]


def age_bucket_q(key: str, scopes: list[PolicyScope], now: dt.datetime, prefix: str = "") -> Q:
    """Buckets are half-open: [1, 3) business days is "1–3"; exactly 7 days is "7+"."""
    for bucket_key, _label, low, high in AGE_BUCKETS:
        if bucket_key == key:
            q = age_at_least_q(low, scopes, now, prefix) if low else Q()
            if high is not None:
                q &= ~age_at_least_q(high, scopes, now, prefix)
            return q
    raise ValueError(f"Unknown age bucket {key!r}")


def age_bucket_case(scopes: list[PolicyScope], now: dt.datetime, prefix: str = "") -> Case:
    """The age bucket as one SQL expression (the oldest bucket whose lower bound is reached), as age_bucket_q."""
    whens = [
        When(age_at_least_q(low, scopes, now, prefix), then=Value(key))
        for key, _label, low, _high in reversed(AGE_BUCKETS)
        if low
    ]
    return Case(*whens, default=Value(AGE_BUCKETS[0][0]), output_field=CharField())


def age_in_business_days(ticket: Ticket, policy: Policy, now: dt.datetime | None = None) -> float:
    end = ticket.closed_at or now or timezone.now()
    return business_time_between(policy, ticket.created_at, end) / business_day_length(policy)


def age_bucket(days: float) -> str:
    for key, _label, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days < high):
            return key
    return AGE_BUCKETS[0][0]


# -- the agents' admin -------------------------------------------------------------------------------------------


class SlaStatusListFilter(admin.SimpleListFilter):
    """SLA status of open tickets in the agents' ticket list, with the same cutoffs as the manager queues."""

    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [(status, Status.LABELS[status]) for status in Status.FILTERS]

    def queryset(self, request, queryset):
        if self.value() in Status.FILTERS:
            return queryset.filter(status_q(self.value(), policy_scopes(), timezone.now()))
        return queryset
