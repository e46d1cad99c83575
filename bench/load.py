"""Load benchmark: ticket creation through the API and the queue page, against bare DRF create endpoints
measured in the same run, under gunicorn (2 workers) on PostgreSQL with a pooled connection, loopback only.

    .venv/bin/python bench/load.py                    # 3 rounds of 10 s per target, 8 connections
    .venv/bin/python bench/load.py --rounds 2 --seconds 5 --connections 4
    .venv/bin/python bench/load.py --persistent       # CONN_MAX_AGE=600 instead of the pool

Needs wrk (`apt-get install -y wrk`; installed on first run when root), PostgreSQL and Redis on 127.0.0.1
(BENCH_DATABASE_URL, BENCH_REDIS_URL). A fresh database `exitdesk_bench_load` is created and migrated, an
AVOXI-preset account is given an owner, a support manager and 30,000 numbers; then, in rounds that alternate
the targets so a busy machine slows them alike:
- bare-ticket: POST /bench/bare-ticket/ the same number cancellation through a bare DRF ModelSerializer over
               Ticket (bench/urls.py): validated and saved as given, with none of the service's work;
- bare:        POST /bench/bare/ (a ModelSerializer saving one auth Group row: the smallest create there is);
- tickets:     POST /api/v1/tickets/ number cancellations, each on a number of its own, owner's token (the whole
               request path: validation, role and policy guards under the account's lock, the ticket, its log
               row, the email queued to Redis);
- queue:       GET /queues/list/ as the support manager (session cookie), over the tickets created so far;
- tickets_metrics: the same ticket creation on a second gunicorn with metrics on (METRICS_TOKEN: django-prometheus's
               middleware and database and cache wrappers; PROMETHEUS_MULTIPROC_DIR and config/gunicorn.py), scraped
               once a round;
- tickets_webhook: the same ticket creation with a webhook endpoint subscribed to every event (issue 26: the
               request pays for the event row only; the fan-out is queued to Redis after the commit, and no worker
               runs here). The endpoint is enabled for this target only.
Prints requests/s of each; the target is tickets / bare-ticket >= 0.75 (SPEC §9), and tickets / bare (one Group row) is
printed beside it, with tickets_metrics / tickets (issue 27: at least 0.95) and tickets_webhook / tickets (issue 26:
at least 0.9). The run is bounded (--budget seconds),
and the servers, database and Redis queue are cleaned up at the end (--keep keeps the database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack  # noqa: E402

DATABASE = "exitdesk_bench_load"
REDIS_DB = 13
NUMBERS = 30_000
TARGETS = {
    "bare_ticket": "bare DRF ticket create (POST /bench/bare-ticket/)",
    "bare": "bare DRF Group create (POST /bench/bare/)",
    "tickets": "ticket creation (POST /api/v1/tickets/)",
    "queue": "queue page (GET /queues/list/)",
    "tickets_metrics": "ticket creation, metrics on (POST /api/v1/tickets/)",
    "tickets_webhook": "ticket creation, a webhook endpoint subscribed",
}
METRICS_TOKEN = "bench-metrics-token"

TICKETS_LUA = """
local token, account, first = "%(token)s", %(account)d, %(first)d
counter = -1  -- a global: done() reads it from each thread
local threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  counter = counter + 1
  local body = string.format('{"kind": "number_cancellation", "account": %%d, "number": %%d, '
    .. '"full_name": "Bench Owner", "company": "Load Bench Ltd", "contact": "owner@bench.test"}',
    account, first + counter)
  return wrk.format("POST", "/api/v1/tickets/",
    {["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status >= 300 and not shown then shown = true; io.write("FIRST BAD " .. status .. " " .. body .. "\\n") end
end
function done(summary, latency, requests)
  local used = 0
  for _, t in ipairs(threads) do used = used + t:get("counter") + 1 end
  io.write(string.format("USED %%d\\n", used))
end
"""

BARE_LUA = """
local token = "%(token)s"
local i = 0
local prefix = "%(prefix)s"
function request()
  i = i + 1
  return wrk.format("POST", "/bench/bare/",
    {["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json"},
    string.format('{"name": "%%s-%%d"}', prefix, i))
end
"""

BARE_TICKET_LUA = """
local token, body = "%(token)s", '{"kind": "number_cancellation", "account": %(account)d, "numbers": [%(first)d], '
  .. '"full_name": "Bench Owner", "company": "Load Bench Ltd", "contact": "owner@bench.test"}'
function request()
  return wrk.format("POST", "/bench/bare-ticket/",
    {["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json"}, body)
end
"""

QUEUE_LUA = """
wrk.method = "GET"
wrk.path = "/queues/list/"
wrk.headers["Cookie"] = "sessionid=%(session)s"
"""


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() != 0:
        sys.exit("wrk is missing: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)  # noqa: S607
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)  # noqa: S607
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)  # noqa: S607
    return shutil.which("wrk") or sys.exit("could not install wrk")


def load_data() -> dict:
    """The account, its owner and manager, tokens, a session, and NUMBERS numbers; ids returned for the scripts."""
    from django.contrib.auth.models import Group
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts import services
    from accounts.models import STAFF_GROUP_MANAGERS, User
    from billing.models import Plan
    from numbers.models import PhoneNumber

    plan = Plan.objects.filter(policy__preset="avoxi").order_by("rank").first()
    account = services.create_account(name="Load Bench Ltd", plan=plan, port_out_pin="1234")
    owner = services.add_member(
        account=account, email="owner@bench.test", full_name="Bench Owner", role="owner", password="bench-pass-2026"
    ).user
    manager = User.objects.create_user(email="manager@bench.test", password="bench-pass-2026", is_staff=True)
    manager.groups.add(Group.objects.get(name=STAFF_GROUP_MANAGERS))
    PhoneNumber.objects.bulk_create(
        [PhoneNumber(account=account, number=f"+1{415 + i // 10_000}555{i % 10_000:04d}") for i in range(NUMBERS)],
        batch_size=5000,
    )
    first = PhoneNumber.objects.filter(account=account).order_by("pk").values_list("pk", flat=True).first()
    client = Client()
    client.force_login(manager)
    from tickets.webhooks.models import WebhookEndpoint

    # Enabled for the tickets_webhook target only (subscribe()); a literal address, never connected to here.
    WebhookEndpoint.objects.create(url="https://203.0.113.10/exitdesk", events=["*"], enabled=False)
    return {
        "account": account.pk,
        "first_number": first,
        "token": Token.objects.create(user=owner).key,
        "session": client.cookies["sessionid"].value,
    }


def subscribe(enabled: bool) -> None:
    """Turn the bench's webhook endpoint on or off (the web processes read it from the database)."""
    from tickets.webhooks.models import WebhookEndpoint

    WebhookEndpoint.objects.update(enabled=enabled)


def run_wrk(wrk: str, url: str, script: Path, seconds: int, connections: int) -> dict:
    result = subprocess.run(  # noqa: S603
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    out = result.stdout
    if result.stderr.strip():  # wrk falls back to plain GETs when its script fails: never count those
        raise RuntimeError(f"wrk: {result.stderr.strip()}")
    total = int(re.search(r"(\d+) requests in", out).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)(m?s)", out).group(1))
    if re.search(r"requests in [\d.]+ms", out):
        elapsed /= 1000
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    used = re.search(r"USED (\d+)", out)
    first_bad = re.search(r"FIRST BAD (.*)", out)
    if first_bad:
        print(f"  first refused request: {first_bad.group(1)[:300]}")
    return {
        "requests": total,
        "seconds": elapsed,
        "bad": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        **({"used": int(used.group(1))} if used else {}),
    }


def scrape(base: str) -> str:
    import urllib.request

    request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return response.read().decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="per target per round")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=int, default=600, help="stop with an error past this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", default=DATABASE, help="the PostgreSQL database to create, use and drop")
    parser.add_argument("--redis-db", type=int, default=REDIS_DB, help="the Redis database to use and flush")
    parser.add_argument(
        "--persistent", action="store_true", help="a persistent connection per worker (CONN_MAX_AGE) instead of a pool"
    )
    args = parser.parse_args()

    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="exitdesk-load-"))
    with stack.deadline(args.budget):
        url = stack.fresh_database(args.database)
        stack.flush_redis(args.redis_db)
        connection = {"CONN_MAX_AGE": "600"} if args.persistent else {"CONN_MAX_AGE": "0", "DATABASE_POOL_SIZE": "2"}
        env = stack.stack_env(url, args.redis_db, **connection)
        stack.use_env(env)
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        data = load_data()
        from django.db import connections

        connections.close_all()

        port, metrics_port = stack.free_port(), stack.free_port()
        base = f"http://127.0.0.1:{port}"
        bases = {name: base for name in TARGETS} | {"tickets_metrics": f"http://127.0.0.1:{metrics_port}"}
        numbered = ("tickets_metrics", "tickets_webhook")  # their scripts start after the numbers used so far
        metrics_env = {**env, "METRICS_TOKEN": METRICS_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus")}
        totals = {name: {"requests": 0, "seconds": 0.0, "bad": 0} for name in TARGETS}
        used = 0
        try:
            with stack.Processes(work / "logs") as processes:
                processes.gunicorn("gunicorn", port, env, workers=args.workers)
                processes.start(
                    "gunicorn-metrics",
                    [str(stack.BIN / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi:application"]
                    + ["--bind", f"127.0.0.1:{metrics_port}", "--workers", str(args.workers)]
                    + ["--access-logfile", "/dev/null", "--timeout", "60"],
                    metrics_env,
                )
                stack.wait_for_http(f"{bases['tickets_metrics']}/healthz")
                for round_number in range(-1, args.rounds):  # round -1 warms up (not counted)
                    seconds = 2 if round_number < 0 else args.seconds
                    scripts = {
                        "bare_ticket": BARE_TICKET_LUA
                        % {"token": data["token"], "account": data["account"], "first": data["first_number"]},
                        "bare": BARE_LUA % {"token": data["token"], "prefix": f"bare-{round_number + 1}"},
                        "tickets": TICKETS_LUA
                        % {"token": data["token"], "account": data["account"], "first": data["first_number"] + used},
                        "queue": QUEUE_LUA % {"session": data["session"]},
                        "tickets_metrics": "",  # written below: it starts after the numbers `tickets` used
                        "tickets_webhook": "",
                    }
                    for name, lua in scripts.items():
                        script = work / f"{name}.lua"
                        script.write_text(lua)
                        if name in numbered:  # the numbers the tickets targets used are taken
                            lua = TICKETS_LUA % {
                                "token": data["token"],
                                "account": data["account"],
                                "first": data["first_number"] + used,
                            }
                            script.write_text(lua)
                        subscribe(name == "tickets_webhook")
                        result = run_wrk(wrk, bases[name], script, seconds, args.connections)
                        subscribe(False)
                        if name == "tickets_metrics":
                            scraped = scrape(bases[name])
                            if "exitdesk_tickets_open" not in scraped or "django_db_execute_total" not in scraped:
                                raise RuntimeError(f"/metrics did not hold the desk's gauges: {scraped[:300]}")
                        if name.startswith("tickets") and "used" not in result:
                            raise RuntimeError("the ticket script did not report the numbers it used")
                        used += result.get("used", 0)
                        if used > NUMBERS:
                            raise RuntimeError("ran out of numbers: raise NUMBERS")
                        if round_number >= 0:
                            for key in ("requests", "seconds", "bad"):
                                totals[name][key] += result[key]
                        if result["bad"] or result["socket_errors"]:
                            print(f"  {name}: {result['bad']} non-2xx, socket errors: {result['socket_errors']}")
        finally:
            from tickets.models import Ticket, TransitionLog

            created = TransitionLog.objects.filter(transition="submit").count()  # only the API writes a history
            bare_created = Ticket.objects.count() - created
            connections.close_all()
            stack.flush_redis(args.redis_db)
            if not args.keep:
                stack.drop_database(args.database)

    rates = {name: (t["requests"] - t["bad"]) / t["seconds"] for name, t in totals.items()}
    ratio = rates["tickets"] / rates["bare_ticket"]
    pooled = "CONN_MAX_AGE=600" if args.persistent else "a pool of 2 connections per worker"
    print(f"\nExitdesk load benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {stack.machine()}")
    print(
        f"gunicorn {args.workers} sync workers, PostgreSQL ({pooled}), Redis broker, wrk -t1 "
        f"-c{args.connections}, {args.rounds} rounds x {args.seconds} s per target"
    )
    print(f"{'target':<52}{'requests':>10}{'non-2xx':>9}{'req/s':>9}")
    for name, label in TARGETS.items():
        t = totals[name]
        print(f"{label:<52}{t['requests']:>10}{t['bad']:>9}{rates[name]:>9.1f}")
    print(f"tickets in the database: {created} through the API, {bare_created} by the bare ticket create")
    verdict = "meets" if ratio >= 0.75 else "MISSES"
    print(f"ratio ticket creation / bare DRF ticket create: {ratio:.2f} ({verdict} the target of 0.75)")
    print(f"ratio ticket creation / bare one-row Group create: {rates['tickets'] / rates['bare']:.2f}")
    with_metrics = rates["tickets_metrics"] / rates["tickets"]
    verdict = "meets" if with_metrics >= 0.95 else "MISSES"
    print(f"ratio ticket creation metrics on / off: {with_metrics:.2f} ({verdict} the target of 0.95)")
    with_webhook = rates["tickets_webhook"] / rates["tickets"]
    verdict = "meets" if with_webhook >= 0.9 else "MISSES"
    print(f"ratio ticket creation with / without a webhook endpoint: {with_webhook:.2f} ({verdict} the target of 0.9)")
    return 0 if not any(t["bad"] for t in totals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
