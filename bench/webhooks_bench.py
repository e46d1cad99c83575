"""Webhook delivery benchmark (issue 26): N events recorded on one account, delivered by real Celery workers to a
local receiver process that verifies every signature with `standardwebhooks`; prints deliveries/s and the workers'
peak memory.

    .venv/bin/python bench/webhooks_bench.py                   # 10,000 events, one solo worker
    .venv/bin/python bench/webhooks_bench.py --events 1000     # the short run
    .venv/bin/python bench/webhooks_bench.py --workers 2

Needs PostgreSQL and Redis on 127.0.0.1 (BENCH_DATABASE_URL, BENCH_REDIS_URL). A fresh database
`exitdesk_bench_webhooks` is created, migrated and dropped at the end. The events are recorded first (each fan-out
queued to Redis at its commit, as in production), then the workers start: the clock runs from their start to the
last delivery, so the rate is the delivery path's (fan-out, claim, signing, the POST, the attempt row).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack  # noqa: E402

DATABASE = "exitdesk_bench_webhooks"
REDIS_DB = 12
RECEIVER = stack.ROOT / "tests" / "webhooks" / "receiver.py"


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def control(port: int, **values) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_control", data=json.dumps(values).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - loopback


def received(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_log", timeout=60) as answer:  # noqa: S310 - loopback
        return json.loads(answer.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="solo Celery worker processes")
    parser.add_argument("--budget", type=int, default=1200, help="stop with an error past this many seconds")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="exitdesk-webhooks-"))
    with stack.deadline(args.budget):
        url = stack.fresh_database(args.database)
        stack.flush_redis(args.redis_db)
        env = stack.stack_env(
            url, args.redis_db, WEBHOOK_ALLOWED_HOSTS="127.0.0.1", WEBHOOK_ALLOW_NETWORKS="127.0.0.1/32"
        )
        stack.use_env(env)
        from django.core.management import call_command
        from django.db import connections

        from accounts import services
        from accounts.outbox import EventType, record
        from billing.models import Plan
        from tickets.webhooks.models import Delivery, WebhookEndpoint

        call_command("migrate", verbosity=0, interactive=False)
        port = stack.free_port()
        try:
            with stack.Processes(work / "logs") as processes:
                processes.start("receiver", [stack.PYTHON, str(RECEIVER), str(port)], env)
                stack.wait_for_http(f"http://127.0.0.1:{port}/_log")
                plan = Plan.objects.filter(policy__preset="avoxi").order_by("rank").first()
                account = services.create_account(name="Webhook Bench Ltd", plan=plan, port_out_pin="1234")
                endpoint = WebhookEndpoint.objects.create(url=f"http://127.0.0.1:{port}/hooks", events=["*"])
                control(port, secrets=[endpoint.secret])
                started = time.monotonic()
                for n in range(args.events):
                    record(account, EventType.LICENSE_CHANGED, {"license": n, "quantity": n % 10})
                recorded_in = time.monotonic() - started
                connections.close_all()

                started = time.monotonic()
                workers = [
                    processes.start(
                        f"worker-{n}",
                        [str(stack.BIN / "celery"), "-A", "config", "worker", "-P", "solo", "-c", "1"]
                        + ["-n", f"bench-{n}@%h", "--without-gossip", "--without-mingle", "-l", "ERROR"],
                        env,
                    )
                    for n in range(args.workers)
                ]
                done = Delivery.objects.filter(status="delivered")
                while done.count() < args.events:
                    processes.require_alive()
                    time.sleep(0.5)
                took = time.monotonic() - started
                peaks = [peak_memory_mb(worker.pid) for worker in workers]
                log = received(port)
        finally:
            connections.close_all()
            stack.flush_redis(args.redis_db)
            stack.drop_database(args.database)

    ids = [entry["id"] for entry in log]
    verified = sum(1 for entry in log if entry["verified"] == [True])
    print(f"\nExitdesk webhook delivery benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {stack.machine()}")
    print(f"{args.events:,} events recorded in {recorded_in:.1f} s ({args.events / recorded_in:.0f} events/s)")
    print(f"{args.workers} solo Celery worker(s), PostgreSQL, Redis broker, a local receiver verifying every signature")
    print(f"delivered {len(set(ids)):,} of {args.events:,} in {took:.1f} s: {args.events / took:.0f} deliveries/s")
    print(
        f"received {len(ids):,} requests, {verified:,} verified by standardwebhooks, {len(ids) - len(set(ids))} repeats"
    )
    print(f"peak memory of each worker: {', '.join(f'{peak:.0f} MB' for peak in peaks)}")
    return 0 if len(set(ids)) == args.events == verified else 1


if __name__ == "__main__":
    sys.exit(main())
