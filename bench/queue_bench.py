"""Manager-queue benchmark: p50/p95 of the queue pages at 1,000 tickets and at larger sizes, on PostgreSQL.

    .venv/bin/python bench/queue_bench.py                      # sizes 1000 and 100000, 5 rounds of 10 requests
    .venv/bin/python bench/queue_bench.py --sizes 1000 100000 1000000 --prefix mine
    .venv/bin/python bench/queue_bench.py --sizes 1000 10000 --rounds 3 --open 500 --reload

Each size gets its own database, `<prefix>_<size>` (default prefix `exitdesk_bench`) on BENCH_DATABASE_URL's
server (default postgres://postgres@127.0.0.1:5432/), migrated and loaded once (again with --reload): that many
tickets by COPY, 20,000 at a time with their history (memory stays flat whatever the size), 1–4
transition-log rows and one comment each, ages spread over two years, retention outcomes, and an open working
set fixed by --open (the same at every size: history grows, today's work does not; pass --open-share to make
open work grow with the desk instead). Pages are fetched in-process with Django's test
client signed in as a support manager (middleware, sessions, templates and SQL included; no network), in
rounds that alternate between the sizes so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "queue-bench-only")
os.environ.setdefault("CONN_MAX_AGE", "600")
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/").rstrip("/")
os.environ["DATABASE_URL"] = f"{SERVER_URL}/postgres"

PAGES = [
    ("queue page", "/queues/list/"),
    ("queue: breached, by SLA", "/queues/list/?sla=breached&sort=sla"),
    ("queue: completed history", "/queues/list/?state=completed"),
    ("overview", "/queues/"),
    ("admin changelist", "/admin/tickets/ticket/"),
    ("admin: transition log", "/admin/tickets/transitionlog/"),
    ("admin: accounts", "/admin/accounts/account/"),
    ("insights", "/queues/insights/"),
]
CHUNK = 20_000  # tickets loaded per COPY round
HEADLINE = {"queue page", "overview", "admin changelist", "admin: transition log", "admin: accounts"}


def use_database(size: int, prefix: str = "exitdesk_bench") -> bool:
    """Point Django's connection at this size's database, creating it if need be and migrating it; True if new."""
    import psycopg
    from django.core.management import call_command
    from django.db import connections

    name = f"{prefix}_{size}"
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        created = not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if created:
            conn.execute(f'CREATE DATABASE "{name}"')
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = name
    # Always: a database kept from an earlier run gets the migrations added since (a no-op when up to date).
    call_command("migrate", verbosity=0, interactive=False)
    return created


def setup_django() -> None:
    import django
    from django.conf import settings

    django.setup()
    # Templates call {% static %}; the manifest storage of production would need collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def load(size: int, open_count: int, seed: int = 7) -> dict:
    """Empty the ticket tables and load `size` tickets with their log rows and comments."""
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from accounts.models import STAFF_GROUP_AGENTS, STAFF_GROUP_MANAGERS, Account, User
    from bench import copyload
    from billing.models import Plan
    from tickets.models import CLOSED_STATES, Comment, ExitReason, Kind, RetentionOutcome, Ticket, TransitionLog

    rng = random.Random(seed)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE tickets_transitionlog, tickets_comment, tickets_retentionoutcome, tickets_ticket_numbers, "
            "tickets_emailnotice, tickets_idempotencykey, tickets_attachment, tickets_ticket CASCADE"
        )
    manager, _ = User.objects.get_or_create(email="bench-manager@exitdesk.test", defaults={"is_staff": True})
    manager.groups.add(Group.objects.get(name=STAFF_GROUP_MANAGERS))
    agents = []
    for i in range(20):
        agent, _ = User.objects.get_or_create(email=f"bench-agent{i}@exitdesk.test", defaults={"is_staff": True})
        agent.groups.add(Group.objects.get(name=STAFF_GROUP_AGENTS))
        agents.append(agent)
    plans = list(Plan.objects.all())
    wanted_accounts = max(150, size // 20)  # more than a changelist page at every size
    have = Account.objects.filter(name__startswith="Bench ").count()
    for first in range(have, wanted_accounts, 5000):
        Account.objects.bulk_create(
            [
                # Ids in sequence: 50,000 random 8-hex-digit ids would likely hold a duplicate.
                Account(name=f"Bench {i:06d}", plan=plans[i % len(plans)], account_id=f"AC-{0xB0000000 + i:08X}")
                for i in range(first, min(first + 5000, wanted_accounts))
            ]
        )
    accounts = list(Account.objects.filter(name__startswith="Bench ").values_list("pk", "plan_id"))[:wanted_accounts]

    now = dt.datetime.now(dt.UTC)
    kinds = list(Kind.values)
    open_states = ["submitted", "verified", "approved"]
    reasons = list(ExitReason.values)
    # The open tickets' positions, drawn without listing every position (a set of `open_count` ints).
    open_ids = set(rng.sample(range(size), min(open_count, size)))
    steps_of = {"submitted": 1, "verified": 2, "approved": 3, "completed": 4, "rejected": 2, "withdrawn": 2}
    names = ["submit", "verify", "approve", "complete"]

    def chunk_of_tickets(first: int, last: int, first_pk: int) -> list:
        tickets = []
        for i in range(first, last):
            kind = rng.choice(kinds)
            account_id, _plan_id = rng.choice(accounts)
            if i in open_ids:
                state = rng.choice(open_states)
                created = now - dt.timedelta(hours=rng.uniform(0, 24 * 21))
                closed = None
            else:
                state = rng.choices(CLOSED_STATES, weights=[8, 1, 1])[0]
                created = now - dt.timedelta(hours=rng.uniform(0, 24 * 730))
                closed = created + dt.timedelta(hours=rng.uniform(1, 24 * 5))
            tickets.append(
                Ticket(
                    pk=first_pk + i,
                    kind=kind,
                    state=state,
                    account_id=account_id,
                    assignee_id=rng.choice(agents).pk if rng.random() < 0.7 else None,
                    created_at=created,
                    closed_at=closed,
                    first_response_at=created + dt.timedelta(hours=2) if rng.random() < 0.6 else None,
                    waiting_on_customer_since=now - dt.timedelta(hours=3)
                    if state != "completed" and not closed and rng.random() < 0.1
                    else None,
                    reason=rng.choice(reasons) if kind == "account_cancellation" else "",
                    rejection_reason="Does not match the account." if state == "rejected" else "",
                    foc_date=(created + dt.timedelta(days=2)).date()
                    if kind == "port_out" and state != "submitted"
                    else None,
                    gaining_carrier="Telnyx" if kind == "port_out" else "",
                    full_name="Bench Customer",
                    contact="customer@example.test",
                )
            )
        return tickets

    def history(tickets: list) -> tuple[list, list]:
        logs = [
            TransitionLog(
                ticket_id=t.pk,
                transition=names[step],
                source="",
                target=t.state,
                actor_label="bench",
                channel="web",
                at=t.created_at + dt.timedelta(hours=step),
            )
            for t in tickets
            for step in range(steps_of[t.state])
        ]
        comments = [Comment(ticket_id=t.pk, body="Thanks, we are on it.", created_at=t.created_at) for t in tickets]
        return logs, comments

    # COPY a chunk at a time: memory holds one chunk of tickets and their history, whatever the size.
    started = time.perf_counter()
    first_pk = copyload.next_id(Ticket)
    for first in range(0, size, CHUNK):
        with transaction.atomic():
            tickets = chunk_of_tickets(first, min(first + CHUNK, size), first_pk)
            copyload.copy_instances(Ticket, tickets, with_pk=True)
            logs, comments = history(tickets)
            copyload.copy_instances(TransitionLog, logs)
            copyload.copy_instances(Comment, comments)
        del tickets, logs, comments
        if size > CHUNK:
            print(f"  {min(first + CHUNK, size):,} / {size:,} tickets", end="\r", flush=True)
    copyload.reset_sequence(Ticket)
    outcomes = (
        RetentionOutcome(
            account_id=account_id,
            plan_id=plan_id,
            reason=rng.choice(reasons),
            offers_shown=["downgrade"] if rng.random() < 0.7 else [],
            outcome=rng.choice(["kept", "downgraded", "meeting", "cancelled", "abandoned"]),
            created_at=now - dt.timedelta(days=rng.uniform(0, 730)),
        )
        for account_id, plan_id in (rng.choice(accounts) for _ in range(max(10, size // 10)))
    )
    copyload.copy_instances(RetentionOutcome, outcomes)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "tickets": Ticket.objects.count(),
        "open": Ticket.objects.filter(closed_at__isnull=True).count(),
        "log_rows": TransitionLog.objects.count(),
        "comments": Comment.objects.count(),
        "load_seconds": time.perf_counter() - started,
    }


def _counter(counted: list[str]):
    def wrapper(execute, sql, params, many, context):
        counted.append(sql)
        return execute(sql, params, many, context)

    return wrapper


def measure(client, results: dict[str, list[float]], requests: int) -> None:
    for label, url in PAGES:
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url)
            results.setdefault(label, []).append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, url


def count_queries(client) -> dict[str, int]:
    from django.db import connection

    counts = {}
    for label, url in PAGES:
        for _ in range(3):  # warm caches and the connection
            assert client.get(url).status_code == 200, url
        counted: list[str] = []
        with connection.execute_wrapper(_counter(counted)):
            client.get(url)
        counts[label] = len(counted)
    return counts


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


def manager_client():
    """The bench manager signed in as staff are in production: password and a TOTP code, so the session is
    two-factor verified (django-otp's session key for a confirmed device) and the middleware lets it through."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts.models import User
    from accounts.two_factor import create_authenticator

    manager = User.objects.get(email="bench-manager@exitdesk.test")
    device = manager.totpdevice_set.filter(confirmed=True).first() or create_authenticator(manager)
    client = Client()
    client.force_login(manager)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10, help="requests per page, size and round")
    parser.add_argument("--open", type=int, default=500, help="open tickets at every size (the working set)")
    parser.add_argument("--open-share", type=float, default=None, help="open tickets as a share of the size")
    parser.add_argument("--reload", action="store_true", help="empty and load the databases again")
    parser.add_argument("--prefix", default="exitdesk_bench", help="database names: <prefix>_<size>")
    args = parser.parse_args()

    setup_django()

    queries = {}
    for size in args.sizes:
        created = use_database(size, args.prefix)
        if created or args.reload:
            open_count = int(size * args.open_share) if args.open_share is not None else args.open
            info = load(size, open_count)
            print(
                f"loaded {info['tickets']:,} tickets ({info['open']:,} open), {info['log_rows']:,} log rows, "
                f"{info['comments']:,} comments in {info['load_seconds']:.1f} s",
                flush=True,
            )
        client = manager_client()
        queries[size] = count_queries(client)

    timings: dict[int, dict[str, list[float]]] = {size: {} for size in args.sizes}
    for round_ in range(args.rounds):
        for size in args.sizes if round_ % 2 == 0 else reversed(args.sizes):
            use_database(size, args.prefix)
            client = manager_client()
            client.get(PAGES[0][1])
            measure(client, timings[size], args.requests)
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)

    sizes = sorted(args.sizes)
    small, larger = sizes[0], sizes[1:]
    print()
    print(
        f"{dt.date.today()} · {platform.node()} · {os.cpu_count()} cores · {platform.processor() or platform.machine()}"
    )
    print(f"{args.rounds} rounds × {args.requests} requests per page and size, alternating sizes")
    # Each size's p50 / p95, then each larger size's ratios to the smallest, then the queries at every size.
    head = [f"p50 / p95 {size:,}" for size in sizes] + [f"ratio {size:,} (p50 / p95)" for size in larger]
    print(f"| page | {' | '.join(head)} | queries |")
    print("|---" + "|---:" * (len(head) + 1) + "|")
    for label, _ in PAGES:
        p50 = {size: statistics.median(timings[size][label]) for size in sizes}
        p95 = {size: percentile(timings[size][label], 0.95) for size in sizes}
        cells = [f"{p50[size]:.1f} / {p95[size]:.1f} ms" for size in sizes]
        cells += [f"{p50[size] / p50[small]:.2f}× / {p95[size] / p95[small]:.2f}×" for size in larger]
        counts = " / ".join(str(queries[size][label]) for size in sizes)
        mark = "" if label in HEADLINE else " (extra)"
        print(f"| {label}{mark} | {' | '.join(cells)} | {counts} |")


if __name__ == "__main__":
    main()
