"""Concurrency check: simultaneous writes through the API on a real server, on PostgreSQL and on the embedded
SQLite default.

    .venv/bin/python bench/concurrency.py                      # both databases, 50 calls a scenario
    .venv/bin/python bench/concurrency.py --database sqlite --calls 20

PostgreSQL (fresh database `exitdesk_bench_concurrency` on BENCH_DATABASE_URL, Redis as the broker): gunicorn,
2 gthread workers x 16 threads. SQLite (a fresh file in a temporary folder, tasks in-process, no broker): served
as `make run` serves it, by `manage.py runserver` (one process, a thread per request), with the settings' WAL,
busy timeout and BEGIN IMMEDIATE. Loopback only.

In each scenario N clients, each with its connection already open, wait at a barrier and send their request at
the same moment:
- approve one: N x `POST /api/v1/tickets/{id}/transitions/ {"name": "approve"}` on one verified port-out, with a
  support manager's token: exactly one 200, every other call 409 (`invalid_state`), one `approve` log row;
- approve many: the same on N different verified port-outs: N x 200;
- create many: N x `POST /api/v1/tickets/` number cancellations of N different numbers by the account's owner:
  N x 201;
- create one: N x the same number cancellation: one 201, every other call 400 (`already_requested`: the API
  answers a refused submission with 400), one ticket for the number.
Never a 500. Exit status 0 when every scenario holds on every database run.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack  # noqa: E402

DATABASE = "exitdesk_bench_concurrency"
REDIS_DB = 12


@dataclass
class Fixture:
    one: int  # the verified port-out every client of "approve one" approves
    many: list[int]  # one verified port-out per client of "approve many"
    account: int
    numbers: list[int]  # one active number per client of "create many"
    shared_number: int  # the number every client of "create one" asks to cancel
    manager_token: str
    owner_token: str


def make_data(calls: int) -> Fixture:
    """Verified port-outs, free numbers, a support manager's and the owner's tokens."""
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from accounts import services as provisioning
    from accounts.models import STAFF_GROUP_AGENTS, STAFF_GROUP_MANAGERS, User
    from billing.models import Plan
    from tickets import services

    plan = Plan.objects.filter(policy__preset="avoxi").order_by("rank").first()
    account = provisioning.create_account(name="Concurrency Bench Ltd", plan=plan, port_out_pin="1234")
    owner = provisioning.add_member(
        account=account, email="owner@bench.test", full_name="Bench Owner", role="owner"
    ).user
    agent = User.objects.create_user(email="agent@bench.test", password="bench-pass-2026", is_staff=True)
    agent.groups.add(Group.objects.get(name=STAFF_GROUP_AGENTS))
    manager = User.objects.create_user(email="manager@bench.test", password="bench-pass-2026", is_staff=True)
    manager.groups.add(Group.objects.get(name=STAFF_GROUP_MANAGERS))
    serial = iter(range(1000, 10000))

    def number():
        return provisioning.add_number(account=account, number=f"+1202555{next(serial):04d}")

    def verified_port_out() -> int:
        ticket = services.submit_ticket(
            account=account,
            kind="port_out",
            requester=owner,
            request=services.Request(
                numbers=[number()], gaining_carrier="Telnyx", authorized_name="Bench Owner", pin="1234"
            ),
        )
        services.transition_ticket(ticket=ticket, name="verify", actor=agent)
        return ticket.pk

    return Fixture(
        one=verified_port_out(),
        many=[verified_port_out() for _ in range(calls)],
        account=account.pk,
        numbers=[number().pk for _ in range(calls)],
        shared_number=number().pk,
        manager_token=Token.objects.create(user=manager).key,
        owner_token=Token.objects.create(user=owner).key,
    )


def fire(port: int, requests: list[tuple[str, dict, str]]) -> list[tuple[int, str]]:
    """Send every (path, body, token) at once from its own thread and connection; (status, code) of each.

    The connections are opened one after the other first (a burst of connects can overflow a server's listen
    backlog, `runserver`'s is small), so the barrier releases requests, not handshakes.
    """
    barrier = threading.Barrier(len(requests))
    results: list[tuple[int, str]] = [(0, "no answer")] * len(requests)
    connections = []
    for _ in requests:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=90)
        connection.connect()
        connections.append(connection)
        time.sleep(0.01)

    def call(index: int, path: str, body: dict, token: str) -> None:
        connection = connections[index]
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        try:
            barrier.wait(timeout=60)
            connection.request("POST", path, body=json.dumps(body), headers=headers)
            response = connection.getresponse()
            payload = response.read()
            code = ""
            if response.status >= 400:
                try:
                    code = json.loads(payload).get("code", "")
                except ValueError:
                    code = "not JSON"
            results[index] = (response.status, code)
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(i, *request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def scenarios(data: Fixture, calls: int) -> list[tuple[str, list[tuple[str, dict, str]], collections.Counter]]:
    """(name, requests, the statuses expected)."""
    approve = {"name": "approve"}

    def transitions(pk: int) -> str:
        return f"/api/v1/tickets/{pk}/transitions/"

    def cancel(number: int) -> dict:
        return {
            "kind": "number_cancellation",
            "account": data.account,
            "number": number,
            "full_name": "Bench Owner",
            "contact": "owner@bench.test",
            "company": "Bench",
        }

    tickets = "/api/v1/tickets/"
    return [
        (
            "approve one ticket",
            [(transitions(data.one), approve, data.manager_token)] * calls,
            collections.Counter({200: 1, 409: calls - 1}),
        ),
        (
            "approve many tickets",
            [(transitions(pk), approve, data.manager_token) for pk in data.many],
            collections.Counter({200: calls}),
        ),
        (
            "create many tickets",
            [(tickets, cancel(pk), data.owner_token) for pk in data.numbers],
            collections.Counter({201: calls}),
        ),
        (
            "create one ticket",
            [(tickets, cancel(data.shared_number), data.owner_token)] * calls,
            collections.Counter({201: 1, 400: calls - 1}),
        ),
    ]


def invariants(data: Fixture) -> list[str]:
    """What the database must hold afterwards; a list of what does not."""
    from tickets.models import OPEN_STATES, Ticket, TransitionLog

    wrong = []
    approves = TransitionLog.objects.filter(ticket_id=data.one, transition="approve").count()
    if approves != 1 or Ticket.objects.get(pk=data.one).state != "approved":
        wrong.append(f"approve one: {approves} approve rows")
    approved = Ticket.objects.filter(pk__in=data.many, state="approved").count()
    if approved != len(data.many):
        wrong.append(f"approve many: {approved} of {len(data.many)} approved")
    created = Ticket.objects.filter(kind="number_cancellation", numbers__in=data.numbers).distinct().count()
    if created != len(data.numbers):
        wrong.append(f"create many: {created} tickets for {len(data.numbers)} numbers")
    shared = Ticket.objects.filter(kind="number_cancellation", numbers=data.shared_number)
    if shared.count() != 1:
        wrong.append(f"create one: {shared.count()} tickets for one number")
    if Ticket.objects.filter(numbers=data.shared_number, state__in=OPEN_STATES).count() > 1:
        wrong.append("create one: more than one open ticket for one number")
    return wrong


def run(database: str, calls: int, work: Path, args: argparse.Namespace) -> tuple[str, list[str], bool]:
    """One database: load the data, start the server, run every scenario; (header, lines, all held)."""
    from django.core.management import call_command
    from django.db import connections

    if database == "postgres":
        url = stack.fresh_database(args.db_name)
        stack.flush_redis(args.redis_db)
        env = stack.stack_env(url, args.redis_db)
    else:
        path = work / "exitdesk.sqlite3"
        # The embedded default: no broker (tasks in-process), no persistent connections.
        env = stack.stack_env(f"sqlite:///{path}", args.redis_db, CELERY_BROKER_URL="", CONN_MAX_AGE="0")
    stack.use_env(env)
    lines: list[str] = []
    ok = True
    try:
        call_command("migrate", verbosity=0, interactive=False)
        data = make_data(calls)
        connections.close_all()
        with stack.Processes(work / f"logs-{database}") as processes:
            port = stack.free_port()
            if database == "postgres":
                processes.gunicorn("gunicorn", port, env, workers=2, threads=16)
                server = "gunicorn 2 workers x 16 threads, PostgreSQL"
            else:
                args = [stack.PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
                processes.start("runserver", args, env)
                stack.wait_for_http(f"http://127.0.0.1:{port}/accounts/login/")
                server = "manage.py runserver (a thread per request), SQLite: WAL, busy timeout, BEGIN IMMEDIATE"
            for name, requests, expected in scenarios(data, calls):
                results = fire(port, requests)
                statuses = collections.Counter(status for status, _ in results)
                codes = collections.Counter(code for status, code in results if status >= 400)
                held = statuses == expected
                ok &= held
                lines.append(
                    f"  {name:<22} "
                    + ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
                    + (" (" + ", ".join(f"{n} x {c}" for c, n in codes.items()) + ")" if codes else "")
                    + ("" if held else "   EXPECTED " + ", ".join(f"{n} x {s}" for s, n in sorted(expected.items())))
                )
        wrong = invariants(data)
        ok &= not wrong
        lines.append("  database afterwards: " + ("as expected" if not wrong else "; ".join(wrong)))
    finally:
        connections.close_all()
        if database == "postgres":
            stack.flush_redis(args.redis_db)
            if not args.keep:
                stack.drop_database(args.db_name)
    return f"{database}: {calls} simultaneous calls a scenario ({server})", lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--database", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--budget", type=int, default=600, help="stop with an error past this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--db-name", default=DATABASE, help="the PostgreSQL database to create and drop")
    parser.add_argument("--redis-db", type=int, default=REDIS_DB, help="the Redis database to use and flush")
    args = parser.parse_args()

    databases = ["postgres", "sqlite"] if args.database == "both" else [args.database]
    if len(databases) > 1:
        # Django is set up once a process, on one database: each database runs in a child process of its own.
        import subprocess

        codes = [
            subprocess.run(  # noqa: S603 - our own interpreter and script
                [sys.executable, __file__, "--calls", str(args.calls), "--database", db, "--budget", str(args.budget)]
                + ["--db-name", args.db_name, "--redis-db", str(args.redis_db)]
                + (["--keep"] if args.keep else []),
                check=False,
            ).returncode
            for db in databases
        ]
        return 0 if not any(codes) else 1

    work = Path(tempfile.mkdtemp(prefix="exitdesk-concurrency-"))
    try:
        with stack.deadline(args.budget):
            header, lines, ok = run(databases[0], args.calls, work, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nExitdesk concurrency check, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {stack.machine()}")
    print(header)
    print("\n".join(lines))
    print("every scenario as expected, no 500: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
