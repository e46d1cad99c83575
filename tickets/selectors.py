"""Reads the manager queues share: the queue list, its CSV export, the overview and the insights.

Every query here is bounded by what it shows, never by the size of the desk's history: the list counts at
most COUNT_CAP rows, the overview aggregates open tickets only (served by ticket_queue_idx), and the insights
read a fixed window of weeks or months through the date indexes added in 0002_queue_sla_clock_and_indexes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import urlencode

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.http import QueryDict
from django.utils import timezone

from accounts.models import User
from billing.models import Plan
from config.ids import as_id

from . import access, sla
from .models import CLOSED_STATES, OPEN_STATES, ExitReason, Kind, Priority, RetentionOutcome, State, Ticket

PAGE_SIZE = 50
COUNT_CAP = 1000
WEEKS = 12
MONTHS = 12

# -- the queue's filters, as a query string ------------------------------------------------------------------

STATE_CHOICES = [("open", "Open"), ("closed", "Closed"), ("all", "All")] + list(State.choices)
SORTS = {
    "-created": ("Newest first", ["-created_at", "-pk"]),
    "created": ("Oldest first", ["created_at", "pk"]),
    "sla": ("SLA clock (longest running first)", [F("sla_start").asc(), "pk"]),
    "kind": ("Kind", ["kind", "-created_at", "-pk"]),
    "state": ("State", ["state", "-created_at", "-pk"]),
    "assignee": ("Assignee", [F("assignee__email").asc(nulls_first=True), "-created_at", "-pk"]),
    "account": ("Account", ["account__name", "-created_at", "-pk"]),
    "priority": ("Priority (urgent first)", ["-priority_rank", "-created_at", "-pk"]),
}
# Named presets: saved filters a manager bookmarks or picks from the list.
PRESETS = {
    "open": ("All open work", {"state": "open"}),
    "unassigned": ("Unassigned", {"state": "open", "assignee": "none", "sort": "sla"}),
    "mine": ("Assigned to me", {"state": "open", "assignee": "me", "sort": "sla"}),
    "breached": ("SLA breached", {"sla": sla.Status.BREACHED, "sort": "sla"}),
    "at-risk": ("SLA at risk", {"sla": sla.Status.AT_RISK, "sort": "sla"}),
    "waiting": ("Waiting on customer", {"sla": sla.Status.PAUSED}),
    "port-outs": ("Open port-outs", {"state": "open", "kind": Kind.PORT_OUT, "sort": "created"}),
    "cancellations": ("Open account cancellations", {"state": "open", "kind": Kind.ACCOUNT_CANCELLATION}),
    "ageing": ("Older than 7 business days", {"state": "open", "age": "7plus", "sort": "created"}),
    "done-this-week": ("Recently completed", {"state": State.COMPLETED}),
}


@dataclass
class QueueFilters:
    kind: str = ""
    state: str = "open"
    assignee: str = ""  # "", "me", "none" or a user id
    account: str = ""  # public account id (AC-…) or pk
    plan: str = ""
    sla: str = ""
    age: str = ""
    sort: str = "-created"
    page: int = 1
    errors: list[str] = field(default_factory=list)

    FIELDS = ("kind", "state", "assignee", "account", "plan", "sla", "age", "sort")

    @classmethod
    def from_query(cls, query: QueryDict) -> QueueFilters:
        """Parse a query string; anything unknown is dropped with a note rather than failing the page."""
        preset = PRESETS.get(query.get("preset", ""))
        values = dict(preset[1]) if preset else {}
        for name in cls.FIELDS:
            if name in query:
                values[name] = query.get(name, "").strip()
        filters = cls(**{k: v for k, v in values.items() if k in cls.FIELDS})
        filters._validate()
        try:
            filters.page = max(1, min(int(query.get("page", 1)), 10_000))
        except ValueError:
            filters.page = 1
        return filters

    def _validate(self) -> None:
        checks = {
            "kind": Kind.values,
            "state": [k for k, _ in STATE_CHOICES],
            "sla": sla.Status.FILTERS,
            "age": [k for k, *_ in sla.AGE_BUCKETS],
            "sort": list(SORTS),
        }
        if not self.sort:  # `?sort=` is no sort asked for
            self.sort = QueueFilters.__dataclass_fields__["sort"].default
        for name, allowed in checks.items():
            value = getattr(self, name)
            if value and value not in allowed:
                self.errors.append(f"Unknown {name} {value!r} ignored.")
                setattr(self, name, QueueFilters.__dataclass_fields__[name].default)
        if self.assignee and self.assignee not in {"me", "none"} and as_id(self.assignee) is None:
            self.errors.append(f"Unknown assignee {self.assignee!r} ignored.")
            self.assignee = ""
        if self.plan and as_id(self.plan) is None:
            self.errors.append(f"Unknown plan {self.plan!r} ignored.")
            self.plan = ""

    def query(self, **changes) -> str:
        """This view's query string, with some values changed (for sort links, pages and the CSV link)."""
        values = {name: getattr(self, name) for name in self.FIELDS}
        values["page"] = self.page
        values.update(changes)
        defaults = {"state": "open", "sort": "-created", "page": 1}
        kept = {k: v for k, v in values.items() if v not in ("", None) and not (k in defaults and defaults[k] == v)}
        if values.get("state") == "":
            kept["state"] = ""
        return urlencode(kept)

    @property
    def is_filtered(self) -> bool:
        return any(getattr(self, n) for n in ("kind", "assignee", "account", "plan", "sla", "age"))


def queue(user, filters: QueueFilters, now: dt.datetime | None = None) -> QuerySet[Ticket]:
    """The tickets of a queue view, filtered and sorted, with what each row shows joined in."""
    now = now or timezone.now()
    tickets = access.queue_for(user).select_related("account__plan__policy", "assignee")
    if filters.state == "open":
        tickets = tickets.filter(state__in=OPEN_STATES)
    elif filters.state == "closed":
        tickets = tickets.filter(state__in=CLOSED_STATES)
    elif filters.state and filters.state != "all":
        tickets = tickets.filter(state=filters.state)
    if filters.kind:
        tickets = tickets.filter(kind=filters.kind)
    if filters.assignee == "me":
        tickets = tickets.filter(assignee=user)
    elif filters.assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif filters.assignee:
        tickets = tickets.filter(assignee_id=as_id(filters.assignee))
    if filters.account:
        value, pk = filters.account, as_id(filters.account)
        tickets = tickets.filter(Q(account__account_id__iexact=value) | (Q(account_id=pk) if pk else Q(pk__in=[])))
    if filters.plan:
        tickets = tickets.filter(account__plan_id=as_id(filters.plan))
    if filters.sla or filters.age:
        scopes = sla.policy_scopes()
        if filters.sla:
            tickets = tickets.filter(sla.status_q(filters.sla, scopes, now))
        if filters.age:
            tickets = tickets.filter(sla.age_bucket_q(filters.age, scopes, now))
    return tickets.annotate(**ROW_ORDER_ANNOTATIONS).order_by(*SORTS[filters.sort][1])


# What the sorts order by besides columns (SORTS): the queue's query and its page's rows annotate both.
ROW_ORDER_ANNOTATIONS = {
    "sla_start": Coalesce("sla_clock_started_at", "created_at"),
    "priority_rank": Case(
        *[When(priority=p, then=Value(i)) for i, p in enumerate(Priority.values)],
        default=Value(0),
        output_field=IntegerField(),
    ),
}


@dataclass
class Row:
    ticket: Ticket
    sla: sla.Sla
    age_days: float

    @property
    def age_bucket(self) -> str:
        return sla.age_bucket(self.age_days)


def row(ticket: Ticket, now: dt.datetime) -> Row:
    policy = ticket.account.plan.policy
    return Row(ticket, sla.ticket_sla(ticket, policy, now), sla.age_in_business_days(ticket, policy, now))


@dataclass
class Page:
    rows: list[Row]
    number: int
    has_next: bool
    count: int  # capped at COUNT_CAP + 1
    page_size: int

    @property
    def count_label(self) -> str:
        return f"{COUNT_CAP:,}+" if self.count > COUNT_CAP else f"{self.count:,}"

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.page_size + (1 if self.rows else 0)

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.page_size + len(self.rows)


# What a queue row shows and what its SLA is computed from; its plan and policy come from plans_with_policies().
ROW_FIELDS = (
    *("pk", "kind", "state", "priority", "foc_date", "created_at", "closed_at", "first_response_at"),
    *("waiting_on_customer_since", "sla_clock_started_at", "assignee_id", "assignee__email"),
    *("account_id", "account__account_id", "account__name", "account__plan_id"),
)


class RowTicket:
    """A ticket as a queue row reads it: the columns of ROW_FIELDS as attributes, its account and assignee as small
    objects of their own. Read with values_list, not as model instances: fifty Ticket, Account and User objects
    with deferred fields cost twice the SQL's own time (the page's largest cost after the SQL itself)."""

    __slots__ = (
        *("pk", "kind", "state", "priority", "foc_date", "created_at", "closed_at", "first_response_at"),
        *("waiting_on_customer_since", "sla_clock_started_at", "assignee_id", "assignee", "account_id", "account"),
    )

    def __init__(self, values: tuple, plans: dict[int, Plan]) -> None:
        (
            self.pk,
            self.kind,
            self.state,
            self.priority,
            self.foc_date,
            self.created_at,
            self.closed_at,
            self.first_response_at,
            self.waiting_on_customer_since,
            self.sla_clock_started_at,
            self.assignee_id,
            assignee_email,
            self.account_id,
            account_code,
            account_name,
            plan_id,
        ) = values
        self.assignee = SimpleNamespace(pk=self.assignee_id, email=assignee_email) if self.assignee_id else None
        self.account = SimpleNamespace(
            pk=self.account_id, account_id=account_code, name=account_name, plan_id=plan_id, plan=plans[plan_id]
        )


def plans_with_policies() -> list[Plan]:
    """Every plan (a handful) with its policy's calendar and targets, by name: the filter form's choices and the
    rows' plans, so fifty rows do not each carry a copy of their plan and policy."""
    fields = ("name", "policy", *(f"policy__{name}" for name in sla.POLICY_FIELDS))
    return list(Plan.objects.select_related("policy").only(*fields).order_by("name"))


def page_of(
    tickets: QuerySet[Ticket],
    number: int,
    now: dt.datetime,
    size: int = PAGE_SIZE,
    plans: list[Plan] | None = None,
    sort: str = "-created",
) -> Page:
    """One page without COUNT(*) over the whole desk: a count capped at COUNT_CAP and one row fetched ahead."""
    offset = (number - 1) * size
    # One query: the page's rows (one ahead) with what they show, and the count capped at COUNT_CAP beside them.
    # The rows are chosen by an inner query in the view's order (the joins only where a filter or the sort needs
    # them), then read by primary key with only the columns a row shows or its SLA needs: nested-loop lookups
    # of 51 rows, never a hash join over every account. The count reads the view's ids on to the cap (page 1
    # reads at most COUNT_CAP + 1 ids, an index range) in a scalar subquery the database runs once.
    chosen = tickets.values("pk")[offset : offset + size + 1]
    capped_sql, capped_params = tickets.values("pk")[
        offset : max(offset + size + 1, COUNT_CAP + 1)
    ].query.sql_with_params()
    # Django's own compiled SQL, every value a parameter.
    counted_sql = f"SELECT COUNT(*) FROM ({capped_sql}) capped"  # noqa: S608  # nosec B608
    counted = RawSQL(counted_sql, capped_params, output_field=IntegerField())  # noqa: S611  # nosec B611
    values = list(
        Ticket.objects.filter(pk__in=chosen)
        .annotate(**ROW_ORDER_ANNOTATIONS, capped_count=counted)
        .order_by(*SORTS[sort][1])
        .values_list(*ROW_FIELDS, "capped_count")
    )
    if values:
        count = min(offset + values[0][-1], COUNT_CAP + 1)
    elif offset == 0:
        count = 0
    else:  # a page past the end: count what there is
        count = tickets.values("pk").order_by()[: COUNT_CAP + 1].count()
    has_next = len(values) > size
    values = [v[:-1] for v in values[:size]]
    by_pk = {plan.pk: plan for plan in (plans if plans is not None else plans_with_policies())}
    missing = {v[-1] for v in values} - by_pk.keys()
    if missing:  # a plan added since the caller read them
        by_pk.update((plan.pk, plan) for plan in Plan.objects.select_related("policy").filter(pk__in=missing))
    rows = [row(RowTicket(v, by_pk), now) for v in values]
    return Page(rows=rows, number=number, has_next=has_next, count=count, page_size=size)


def staff_choices() -> QuerySet[User]:
    """Whom the queues offer as assignees: tickets.access.assignable_staff."""
    return access.assignable_staff().only("pk", "email", "full_name")


# -- CSV ------------------------------------------------------------------------------------------------------

CSV_HEADER = [
    "id",
    "kind",
    "state",
    "account_id",
    "account",
    "plan",
    "assignee",
    "priority",
    "channel",
    "created_at",
    "age_business_days",
    "age_bucket",
    "sla_status",
    "sla_clock",
    "sla_due",
    "first_response_at",
    "waiting_on_customer_since",
    "closed_at",
    "foc_date",
    "reason",
]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # Spreadsheets run a cell that starts like a formula; customers type account names.
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def csv_rows(tickets: QuerySet[Ticket], now: dt.datetime) -> Iterator[list[str]]:
    """Every row of a queue view for the CSV export, read in chunks so memory stays flat."""
    yield CSV_HEADER
    for ticket in tickets.iterator(chunk_size=2000):
        item = row(ticket, now)
        yield [
            _cell(v)
            for v in (
                ticket.pk,
                ticket.kind,
                ticket.state,
                ticket.account.account_id,
                ticket.account.name,
                ticket.account.plan.name,
                ticket.assignee.email if ticket.assignee else "",
                ticket.priority,
                ticket.channel,
                ticket.created_at,
                f"{item.age_days:.2f}",
                item.age_bucket,
                item.sla.status,
                item.sla.target,
                item.sla.due,
                ticket.first_response_at,
                ticket.waiting_on_customer_since,
                ticket.closed_at,
                ticket.foc_date,
                ticket.reason,
            )
        ]


# -- overview: open work only ---------------------------------------------------------------------------------


@dataclass
class Overview:
    kinds: list[tuple[str, str]]
    states: list[tuple[str, str]]
    matrix: dict[str, dict[str, int]]  # kind → state → count
    sla_by_kind: dict[str, dict[str, int]]  # kind → status → count
    ageing: dict[str, int]  # bucket → count
    by_assignee: list[dict]
    total_open: int

    @property
    def state_totals(self) -> dict[str, int]:
        return {s: sum(self.matrix[k][s] for k, _ in self.kinds) for s, _ in self.states}

    @property
    def sla_totals(self) -> dict[str, int]:
        return {s: sum(self.sla_by_kind[k][s] for k, _ in self.kinds) for s in sla.Status.FILTERS}


def overview(user, now: dt.datetime | None = None) -> Overview:
    """Open work by kind × state, SLA status and age, and by assignee: two GROUP BY queries over open tickets only."""
    now = now or timezone.now()
    open_tickets = access.queue_for(user).filter(state__in=OPEN_STATES)
    kinds = list(Kind.choices)
    states = [(s.value, s.label) for s in OPEN_STATES]
    matrix = {k: {s: 0 for s, _ in states} for k, _ in kinds}

    # One GROUP BY over open tickets for kind × state, SLA status and age: each SLA and age cutoff appears once in
    # the SQL (a CASE), not once per status and bucket, so building and running the query stays small.
    scopes = sla.policy_scopes()
    status = sla.status_case(scopes, now)
    sla_by_kind = {k: {s: 0 for s in sla.Status.FILTERS} for k, _ in kinds}
    ageing = {key: 0 for key, *_ in sla.AGE_BUCKETS}
    grouped = (
        open_tickets.order_by()
        .annotate(sla_status=status, age=sla.age_bucket_case(scopes, now))
        .values("kind", "state", "sla_status", "age")
        .annotate(n=Count("pk"))
    )
    for item in grouped:
        matrix[item["kind"]][item["state"]] += item["n"]
        sla_by_kind[item["kind"]][item["sla_status"]] += item["n"]
        ageing[item["age"]] += item["n"]

    by_assignee = list(
        open_tickets.order_by()
        .alias(sla_status=status)
        .values("assignee_id", "assignee__email")
        .annotate(n=Count("pk"), breached=Count("pk", filter=Q(sla_status=sla.Status.BREACHED)))
        .order_by("-n", "assignee__email")[:50]
    )
    total = sum(sum(v.values()) for v in matrix.values())
    return Overview(kinds, states, matrix, sla_by_kind, ageing, by_assignee, total)


# -- insights: fixed windows ------------------------------------------------------------------------------


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def throughput(now: dt.datetime, weeks: int = WEEKS) -> list[dict]:
    """Tickets opened and closed (completed / rejected / withdrawn) per week, the last `weeks` weeks (UTC)."""
    first = _week_start(now.date()) - dt.timedelta(weeks=weeks - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    table = {first + dt.timedelta(weeks=i): {"opened": 0, **{s: 0 for s in CLOSED_STATES}} for i in range(weeks)}
    closed = (
        Ticket.objects.filter(state__in=CLOSED_STATES, closed_at__gte=since)
        .annotate(week=TruncWeek("closed_at", tzinfo=dt.UTC))
        .order_by()
        .values("week", "state")
        .annotate(n=Count("pk"))
    )
    # A row dated after this week (a web server's clock ahead of this one's) has no column: it is left out.
    for item in closed:
        if (week := table.get(_as_date(item["week"]))) is not None:
            week[item["state"]] += item["n"]
    opened = (
        Ticket.objects.filter(created_at__gte=since)
        .annotate(week=TruncWeek("created_at", tzinfo=dt.UTC))
        .order_by()
        .values("week")
        .annotate(n=Count("pk"))
    )
    for item in opened:
        if (week := table.get(_as_date(item["week"]))) is not None:
            week["opened"] += item["n"]
    return [{"week": week, **counts} for week, counts in table.items()]


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _month_starts(now: dt.datetime, months: int) -> list[dt.date]:
    year, month = now.year, now.month
    out = []
    for _ in range(months):
        out.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def exit_reasons(now: dt.datetime, months: int = MONTHS) -> dict:
    """Exit-survey reasons of account cancellations per plan and month (the survey is on the ticket)."""
    starts = _month_starts(now, months)
    since = dt.datetime.combine(starts[0], dt.time(), tzinfo=dt.UTC)
    rows = (
        Ticket.objects.filter(kind=Kind.ACCOUNT_CANCELLATION, created_at__gte=since)
        .exclude(reason="")
        .annotate(month=TruncMonth("created_at", tzinfo=dt.UTC))
        .order_by()
        .values("month", "account__plan__name", "reason")
        .annotate(n=Count("pk"))
    )
    reasons = list(ExitReason.choices)
    table: dict[tuple[str, dt.date], dict[str, int]] = {}
    totals = {key: 0 for key, _ in reasons}
    for item in rows:
        key = (item["account__plan__name"], _as_date(item["month"]))
        table.setdefault(key, {r: 0 for r, _ in reasons})[item["reason"]] += item["n"]
        totals[item["reason"]] += item["n"]
    lines = [
        {"plan": plan, "month": month, "counts": [counts[r] for r, _ in reasons], "total": sum(counts.values())}
        for (plan, month), counts in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0]), reverse=True)
    ]
    return {"reasons": reasons, "lines": lines, "totals": totals, "since": starts[0]}


def retention(now: dt.datetime, months: int = MONTHS) -> list[dict]:
    """Per month: cancellation flows that showed an offer, and how many of those customers were saved."""
    starts = _month_starts(now, months)
    since = dt.datetime.combine(starts[0], dt.time(), tzinfo=dt.UTC)
    table = {m: {"flows": 0, "shown": 0, "saved": 0, "downgraded": 0, "meeting": 0, "kept": 0} for m in starts}
    saved = {RetentionOutcome.Outcome.KEPT, RetentionOutcome.Outcome.DOWNGRADED, RetentionOutcome.Outcome.MEETING}
    rows = (
        RetentionOutcome.objects.filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at", tzinfo=dt.UTC))
        .order_by()
        .values("month", "outcome", "offers_shown")
        .annotate(n=Count("pk"))
    )
    for item in rows:
        month = table.get(_as_date(item["month"]))
        if month is None:
            continue
        month["flows"] += item["n"]
        if item["offers_shown"]:
            month["shown"] += item["n"]
            if item["outcome"] in saved:
                month["saved"] += item["n"]
        if item["outcome"] in saved:
            month[item["outcome"]] += item["n"]
    return [
        {"month": m, **v, "rate": (100.0 * v["saved"] / v["shown"]) if v["shown"] else None} for m, v in table.items()
    ]


def port_outs(now: dt.datetime, weeks: int = WEEKS) -> dict:
    """Open port-outs by state, those closed in the window, and the upcoming FOC dates."""
    since = now - dt.timedelta(weeks=weeks)
    by_state = {s: 0 for s in State.values}
    for item in (
        Ticket.objects.filter(kind=Kind.PORT_OUT, state__in=OPEN_STATES)
        .order_by()
        .values("state")
        .annotate(n=Count("pk"))
    ):
        by_state[item["state"]] = item["n"]
    for item in (
        Ticket.objects.filter(kind=Kind.PORT_OUT, state__in=CLOSED_STATES, closed_at__gte=since)
        .order_by()
        .values("state")
        .annotate(n=Count("pk"))
    ):
        by_state[item["state"]] = item["n"]
    upcoming = list(
        Ticket.objects.filter(kind=Kind.PORT_OUT, state__in=OPEN_STATES)
        .select_related("account", "assignee")
        .order_by(F("foc_date").asc(nulls_last=True), "created_at")[:50]
    )
    return {"by_state": by_state, "upcoming": upcoming, "since": since}
