"""Exitdesk's queue page against django-helpdesk 2.6.1's staff ticket list, side by side on one PostgreSQL.

    .venv/bin/python bench/helpdesk_compare.py                  # 100,000 tickets, 500 open, 8 rounds × 10
    .venv/bin/python bench/helpdesk_compare.py --rounds 4 --keep  # keep both databases (reused by the next run)
    .venv/bin/python bench/helpdesk_compare.py --reload           # load kept databases again

django-helpdesk is installed, pinned, into a virtualenv of its own outside the project (--venv, default
~/.cache/exitdesk-bench/helpdesk-venv), with the Django and psycopg versions this project runs, so both sides
stand on the same stack; nothing of it is committed but this script. Each side gets its own database on
BENCH_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/), `<prefix>_exitdesk_<tickets>` and
`<prefix>_helpdesk_<tickets>`, migrated and loaded with the same shape by COPY, a chunk at a time:
- Exitdesk: bench/queue_bench.py's loader: `--tickets` tickets, `--open` of them open, 1–4 transition-log rows
  and a comment each, 20 agents, two years of history;
- django-helpdesk: as many tickets in three queues, as many open (status Open or Reopened), three follow-ups
  each (opened, a reply, resolved or closed; open tickets have the first two), the same 20 agents.
Each side is timed in-process with Django's test client (middleware, sessions, templates and SQL; no
network), DEBUG off (the cached template loader), a persistent connection (CONN_MAX_AGE=600), signed in as a
member of staff who is not a superuser: Exitdesk's support manager on `/queues/list/` (50 rows); helpdesk's
staff user on its ticket list, which is two requests, the page (`/helpdesk/tickets/`) and the DataTables JSON
call the page makes for its rows (its first call: draw 1, start 0, the user's page length, the page's own
query), with 50 tickets a page in the user's settings like Exitdesk's 50 rows (--helpdesk-rows; its default
is 25). Exitdesk runs in this process, helpdesk in a worker
process of its own virtualenv driven over a pipe; rounds alternate which side goes first, so a busy machine
slows both alike. Prints p50, p95, queries and the ratio helpdesk / Exitdesk; the target is ≥ 10 at p50.
The databases are dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
HELPDESK = "django-helpdesk==2.6.1"
DEFAULT_VENV = Path.home() / ".cache" / "exitdesk-bench" / "helpdesk-venv"
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/").rstrip("/")
AGENTS = 20
QUEUES = ["Cancellations", "Port-outs", "Billing"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


def _counter(counted: list[str]):
    def wrapper(execute, sql, params, many, context):
        counted.append(sql)
        return execute(sql, params, many, context)

    return wrapper


# -- the django-helpdesk side: runs in its own virtualenv, driven over stdin/stdout -------------------------


def helpdesk_settings(database: str) -> dict:
    url = urlsplit(SERVER_URL)
    return {
        "DEBUG": False,
        "SECRET_KEY": "helpdesk-bench-only",
        "ALLOWED_HOSTS": ["testserver"],
        "INSTALLED_APPS": [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "django.contrib.sites",
            "django.contrib.humanize",
            "rest_framework",
            "helpdesk",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "ROOT_URLCONF": "__main__",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": database,
                "USER": url.username or "postgres",
                "PASSWORD": url.password or "",
                "HOST": url.hostname or "127.0.0.1",
                "PORT": url.port or 5432,
                "CONN_MAX_AGE": 600,
            }
        },
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "SITE_ID": 1,
        "STATIC_URL": "/static/",
        "LOGIN_URL": "helpdesk:login",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "HELPDESK_TEAMS_MODE_ENABLED": False,  # no pinax-teams: its default needs that extra package
    }


def helpdesk_load(size: int, open_count: int, seed: int = 7) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from helpdesk.models import FollowUp, Queue, Ticket

    from bench import copyload

    rng = random.Random(seed)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE helpdesk_ticketchange, helpdesk_followup, helpdesk_ticket CASCADE")
    user_model = get_user_model()
    manager, _ = user_model.objects.get_or_create(username="bench-manager", defaults={"is_staff": True})
    agents = [
        user_model.objects.get_or_create(username=f"bench-agent{i}", defaults={"is_staff": True})[0].pk
        for i in range(AGENTS)
    ]
    queues = [Queue.objects.get_or_create(slug=title.lower(), defaults={"title": title})[0].pk for title in QUEUES]
    now = dt.datetime.now(dt.UTC)
    open_ids = set(rng.sample(range(size), min(open_count, size)))
    opened, reopened, resolved, closed, duplicate = (
        Ticket.OPEN_STATUS,
        Ticket.REOPENED_STATUS,
        Ticket.RESOLVED_STATUS,
        Ticket.CLOSED_STATUS,
        Ticket.DUPLICATE_STATUS,
    )
    first_pk = copyload.next_id(Ticket)
    started = time.perf_counter()
    chunk = 20_000
    for first in range(0, size, chunk):
        tickets, followups = [], []
        for i in range(first, min(first + chunk, size)):
            if i in open_ids:
                status = rng.choice([opened, opened, opened, reopened])
                created = now - dt.timedelta(hours=rng.uniform(0, 24 * 21))
            else:
                status = rng.choices([resolved, closed, duplicate], weights=[2, 7, 1])[0]
                created = now - dt.timedelta(hours=rng.uniform(0, 24 * 730))
            answered = created + dt.timedelta(hours=rng.uniform(1, 8))
            done = answered + dt.timedelta(hours=rng.uniform(1, 24 * 5))
            assignee = rng.choice(agents) if rng.random() < 0.7 else None
            ticket = Ticket(
                pk=first_pk + i,
                title=f"Cancel my account, please ({i})",
                queue_id=rng.choice(queues),
                created=created,
                modified=done if status not in (opened, reopened) else answered,
                submitter_email=f"customer{i % 5000}@example.test",
                assigned_to_id=assignee,
                status=status,
                description="We are moving to another provider at the end of the month.",
                priority=rng.choice([1, 2, 3, 3, 3, 4, 5]),
            )
            tickets.append(ticket)
            followups.append(
                FollowUp(ticket_id=ticket.pk, date=created, title="Ticket Opened", comment="", public=True)
            )
            followups.append(
                FollowUp(
                    ticket_id=ticket.pk,
                    date=answered,
                    title="Comment",
                    comment="Thanks, we are on it.",
                    public=True,
                    user_id=assignee,
                )
            )
            if status not in (opened, reopened):
                followups.append(
                    FollowUp(
                        ticket_id=ticket.pk,
                        date=done,
                        title="Closed",
                        comment="Done.",
                        public=True,
                        user_id=assignee,
                        new_status=status,
                    )
                )
        with transaction.atomic():
            copyload.copy_instances(Ticket, tickets, with_pk=True)
            copyload.copy_instances(FollowUp, followups)
    copyload.reset_sequence(Ticket)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "tickets": Ticket.objects.count(),
        "open": Ticket.objects.filter(status__in=[opened, reopened]).count(),
        "history": FollowUp.objects.count(),
        "load_seconds": time.perf_counter() - started,
    }


class HelpdeskSide:
    """Inside the worker: the staff ticket list page, then the DataTables call it makes."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.client = Client()
        self.client.force_login(get_user_model().objects.get(username="bench-manager"))
        page = self.client.get("/helpdesk/tickets/")
        assert page.status_code == 200, page.status_code
        # The JSON address exactly as the page hands it to DataTables (its query, base64 in the path).
        self.json_url = re.search(rb'"url": "(/helpdesk/datatables_ticket_list/[^"]+)"', page.content).group(1).decode()
        length = re.search(rb"data-page-length='(\d+)'", page.content).group(1).decode()
        self.json_query = {"draw": "1", "start": "0", "length": length, "search[value]": "", "search[regex]": "false"}
        data = self.fetch_json()
        self.rows, self.total = len(data["data"]), data["recordsTotal"]

    def fetch_page(self) -> None:
        response = self.client.get("/helpdesk/tickets/")
        assert response.status_code == 200, response.status_code

    def fetch_json(self) -> dict:
        response = self.client.get(self.json_url, self.json_query)
        assert response.status_code == 200, response.status_code
        return json.loads(response.content)

    def queries(self) -> dict:
        from django.db import connection

        counts = {}
        for name, fetch in (("page", self.fetch_page), ("json", self.fetch_json)):
            counted: list[str] = []
            with connection.execute_wrapper(_counter(counted)):
                fetch()
            counts[name] = len(counted)
        return counts

    def measure(self, requests: int) -> dict:
        page, data = [], []
        for _ in range(requests):
            started = time.perf_counter()
            self.fetch_page()
            middle = time.perf_counter()
            self.fetch_json()
            page.append((middle - started) * 1000)
            data.append((time.perf_counter() - middle) * 1000)
        return {"page": page, "json": data}


def worker(database: str) -> None:
    """The helpdesk side: one JSON command a line on stdin, one JSON answer a line on stdout."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # anything Django or helpdesk prints stays off the protocol
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    settings.configure(**helpdesk_settings(database))
    django.setup()
    from django.contrib import admin
    from django.urls import include, path

    sys.modules["__main__"].urlpatterns = [
        path("helpdesk/", include("helpdesk.urls", namespace="helpdesk")),
        path("admin/", admin.site.urls),
    ]
    side = None
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "load":
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
            answer = helpdesk_load(command["tickets"], command["open"])
        elif command["cmd"] == "start":
            from django.contrib.auth import get_user_model
            from helpdesk.models import UserSettings

            # The staff user's page length: DataTables asks for this many rows (Exitdesk's page shows 50).
            manager = get_user_model().objects.get(username="bench-manager")
            UserSettings.objects.filter(user=manager).update(tickets_per_page=command["rows"])
            side = HelpdeskSide()
            for _ in range(3):
                side.measure(1)  # warm the caches and the connection
            import django as django_module

            answer = {
                "rows": side.rows,
                "total": side.total,
                "queries": side.queries(),
                "django": django_module.__version__,
            }
        elif command["cmd"] == "measure":
            answer = side.measure(command["requests"])
        else:
            break
        out.write(json.dumps(answer) + "\n")
        out.flush()
    from django.db import connections

    connections.close_all()


class Worker:
    def __init__(self, python: Path, database: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [str(python), __file__, "--worker", database],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def ask(self, **command) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the helpdesk worker stopped (its error is above)")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)


# -- the Exitdesk side and the run ----------------------------------------------------------------------------


def ensure_venv(venv: Path) -> Path:
    """The helpdesk virtualenv with django-helpdesk pinned and this project's Django and psycopg versions."""
    import django
    import psycopg

    python = venv / "bin" / "python"
    pins = [HELPDESK, f"Django=={django.__version__}", f"psycopg[binary]=={psycopg.__version__}"]
    marker = venv / "exitdesk-bench-pins.txt"
    if python.exists() and marker.exists() and marker.read_text() == "\n".join(pins):
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    print(f"installing {', '.join(pins)} into {venv}", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)  # noqa: S603
    marker.write_text("\n".join(pins))
    return python


def database(name: str, *, drop: bool = False) -> bool:
    """Create the database if missing (True if created), or drop it."""
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return False
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
        return not exists


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=500, help="open tickets on each side")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=10, help="requests per side and round")
    parser.add_argument("--prefix", default="exitdesk_hdbench", help="database names: <prefix>_<side>_<tickets>")
    parser.add_argument(
        "--helpdesk-rows", type=int, default=50, help="helpdesk's page length (its default is 25; Exitdesk shows 50)"
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--keep", action="store_true", help="keep both databases (the next run reuses them)")
    parser.add_argument("--reload", action="store_true", help="load kept databases again")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("SECRET_KEY", "helpdesk-compare-only")
    os.environ.setdefault("CONN_MAX_AGE", "600")
    from bench import queue_bench  # sets DJANGO_SETTINGS_MODULE and the server's DATABASE_URL

    python = ensure_venv(args.venv)
    queue_bench.setup_django()
    from django.db import connection, connections

    exitdesk_prefix, helpdesk_db = f"{args.prefix}_exitdesk", f"{args.prefix}_helpdesk_{args.tickets}"
    exitdesk_db = f"{exitdesk_prefix}_{args.tickets}"
    helper = None
    try:
        if queue_bench.use_database(args.tickets, exitdesk_prefix) or args.reload:
            info = queue_bench.load(args.tickets, args.open)
            print(
                f"Exitdesk: {info['tickets']:,} tickets ({info['open']:,} open), {info['log_rows']:,} log rows, "
                f"{info['comments']:,} comments, loaded in {info['load_seconds']:.0f} s",
                flush=True,
            )
        fresh = database(helpdesk_db)
        helper = Worker(python, helpdesk_db)
        if fresh or args.reload:
            info = helper.ask(cmd="load", tickets=args.tickets, open=args.open)
            print(
                f"helpdesk: {info['tickets']:,} tickets ({info['open']:,} open), {info['history']:,} follow-ups, "
                f"loaded in {info['load_seconds']:.0f} s",
                flush=True,
            )
        started = helper.ask(cmd="start", rows=args.helpdesk_rows)

        client = queue_bench.manager_client()
        for _ in range(3):
            first = client.get("/queues/list/")
            assert first.status_code == 200
        shown = first.content.count(b'name="tickets"')  # one checkbox a row
        counted: list[str] = []
        with connection.execute_wrapper(_counter(counted)):
            client.get("/queues/list/")
        exitdesk_queries = len(counted)

        mine: list[float] = []
        theirs: dict[str, list[float]] = {"page": [], "json": []}

        def ours() -> None:
            for _ in range(args.requests):
                begun = time.perf_counter()
                assert client.get("/queues/list/").status_code == 200
                mine.append((time.perf_counter() - begun) * 1000)

        def helpdesk() -> None:
            answer = helper.ask(cmd="measure", requests=args.requests)
            for key in theirs:
                theirs[key].extend(answer[key])

        for round_ in range(args.rounds):
            for side in (ours, helpdesk) if round_ % 2 == 0 else (helpdesk, ours):
                side()
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    finally:
        if helper is not None:
            helper.close()
        connections.close_all()
        if not args.keep:
            database(exitdesk_db, drop=True)
            database(helpdesk_db, drop=True)

    both = [p + j for p, j in zip(theirs["page"], theirs["json"], strict=True)]
    ours50, ours95 = statistics.median(mine), percentile(mine, 0.95)
    hd50, hd95 = statistics.median(both), percentile(both, 0.95)
    hq = started["queries"]
    print()
    when = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    print(f"{when} · {platform.node()} · {os.cpu_count()} cores · Django {started['django']}")
    print(
        f"{args.tickets:,} tickets, {args.open:,} open, on each side; {args.rounds} rounds × {args.requests} requests "
        f"a side, alternating; rows shown: Exitdesk {shown}, helpdesk {started['rows']} of {started['total']:,}"
    )
    print("| system | request | p50 | p95 | queries |")
    print("|---|---|---:|---:|---:|")
    print(f"| Exitdesk | `/queues/list/` | {ours50:.1f} ms | {ours95:.1f} ms | {exitdesk_queries} |")
    print(
        f"| django-helpdesk 2.6.1 | page `/helpdesk/tickets/` | {statistics.median(theirs['page']):.1f} ms "
        f"| {percentile(theirs['page'], 0.95):.1f} ms | {hq['page']} |"
    )
    print(
        f"| django-helpdesk 2.6.1 | its DataTables JSON call | {statistics.median(theirs['json']):.1f} ms "
        f"| {percentile(theirs['json'], 0.95):.1f} ms | {hq['json']} |"
    )
    print(f"| django-helpdesk 2.6.1 | page + JSON | {hd50:.1f} ms | {hd95:.1f} ms | {hq['page'] + hq['json']} |")
    ratio = hd50 / ours50
    print(f"ratio helpdesk / Exitdesk: {ratio:.1f}× at p50, {hd95 / ours95:.1f}× at p95 (target ≥ 10× at p50)")
    return 0 if ratio >= 10 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        sys.exit(main())
