"""Concurrency check: N simultaneous `approve` calls on one ticket through the API, on a real server.

    .venv/bin/python bench/concurrency.py              # 50 calls
    .venv/bin/python bench/concurrency.py --calls 100

gunicorn (2 gthread workers x 16 threads) on PostgreSQL (fresh database `exitdesk_bench_concurrency`) and Redis,
loopback only. A port-out is submitted and verified by an agent; then N clients, each with its connection
already open, wait at a barrier and send `POST /api/v1/tickets/{id}/transitions/ {"name": "approve"}` with a
support manager's token at the same moment. Expected: exactly one 200, every other call 409 (`invalid_state`),
one `approve` row in the transition log and the ticket approved. Exit status 0 when that holds.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import http.client
import json
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack  # noqa: E402

DATABASE = "exitdesk_bench_concurrency"
REDIS_DB = 12


def make_ticket() -> tuple[int, str]:
    """A verified port-out and a support manager's token."""
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
    number = provisioning.add_number(account=account, number="+12025550199")
    agent = User.objects.create_user(email="agent@bench.test", password="bench-pass-2026", is_staff=True)
    agent.groups.add(Group.objects.get(name=STAFF_GROUP_AGENTS))
    manager = User.objects.create_user(email="manager@bench.test", password="bench-pass-2026", is_staff=True)
    manager.groups.add(Group.objects.get(name=STAFF_GROUP_MANAGERS))
    ticket = services.submit_ticket(
        account=account,
        kind="port_out",
        requester=owner,
        request=services.Request(
            numbers=[number], gaining_carrier="Telnyx", authorized_name="Bench Owner", pin="1234", company="Bench"
        ),
    )
    services.transition_ticket(ticket=ticket, name="verify", actor=agent)
    return ticket.pk, Token.objects.create(user=manager).key


def fire(port: int, ticket_id: int, token: str, calls: int) -> list[tuple[int, str]]:
    barrier = threading.Barrier(calls)
    results: list[tuple[int, str]] = [(0, "")] * calls
    body = json.dumps({"name": "approve"})
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def call(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.connect()  # open first, so the barrier releases requests, not handshakes
        barrier.wait(timeout=60)
        connection.request("POST", f"/api/v1/tickets/{ticket_id}/transitions/", body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        code = json.loads(payload).get("code", "") if response.status != 200 else ""
        results[index] = (response.status, code)
        connection.close()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--budget", type=int, default=300, help="stop with an error past this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="exitdesk-concurrency-"))
    with stack.deadline(args.budget):
        url = stack.fresh_database(DATABASE)
        stack.flush_redis(REDIS_DB)
        env = stack.stack_env(url, REDIS_DB)
        stack.use_env(env)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0, interactive=False)
        ticket_id, token = make_ticket()
        connections.close_all()
        try:
            with stack.Processes(work / "logs") as processes:
                port = stack.free_port()
                processes.gunicorn("gunicorn", port, env, workers=2, threads=16)
                results = fire(port, ticket_id, token, args.calls)
            from tickets.models import Ticket, TransitionLog

            ticket = Ticket.objects.get(pk=ticket_id)
            approve_rows = TransitionLog.objects.filter(ticket_id=ticket_id, transition="approve").count()
            log_rows = TransitionLog.objects.filter(ticket_id=ticket_id).count()
            state = ticket.state
        finally:
            connections.close_all()
            stack.flush_redis(REDIS_DB)
            if not args.keep:
                stack.drop_database(DATABASE)

    statuses = collections.Counter(status for status, _ in results)
    codes = collections.Counter(code for status, code in results if status == 409)
    print(f"\nExitdesk concurrency check, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {stack.machine()}")
    print(
        f"{args.calls} simultaneous approve calls on ticket {ticket_id} (gunicorn 2 workers x 16 threads, PostgreSQL)"
    )
    print("responses: " + ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items())))
    print("409 codes: " + ", ".join(f"{count} x {code}" for code, count in codes.items()))
    print(f"approve rows in the transition log: {approve_rows} (all rows: {log_rows}); ticket state: {state}")
    ok = statuses == {200: 1, 409: args.calls - 1} and approve_rows == 1 and state == "approved"
    print("exactly one succeeded, the rest got 409: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
