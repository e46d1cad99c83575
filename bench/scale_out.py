"""Scale-out run: two gunicorn processes, two Celery workers and beat on PostgreSQL and Redis (loopback only),
demo traffic driven through them, then the invariants checked; everything is stopped at the end.

    .venv/bin/python bench/scale_out.py                  # 24 accounts, 3 tickets each
    .venv/bin/python bench/scale_out.py --accounts 50 --clients 8

1. A fresh database `exitdesk_bench_scale` is migrated and `manage.py demo` loads the presets, the demo accounts,
   people and tickets (its emails go through the workers like any other).
2. Started: gunicorn on two ports (2 workers each), Celery workers `scale1@` and `scale2@` (2 processes each) and
   one beat, all with DATABASE_URL, CELERY_BROKER_URL (Redis db 11), CACHE_URL (Redis db 10, so the API
   throttles are shared by both web processes) and EMAIL_URL=filemail://<dir> (every email sent lands in a file).
3. Traffic through the API, alternating the two web processes, from --clients threads: the demo manager and agent
   get tokens; per account the manager provisions an AVOXI account, its owner and three numbers; the owner gets a
   token and submits a port-out, a number cancellation and a second port-out; the agent verifies and the manager
   approves the first two, the agent completes them; the owner withdraws the third.
4. When the queue is drained, the invariants: no lost tickets (every 201 is a row in its expected state, the
   counts match); every log row (each ticket's log is its submission plus exactly the transitions that
   answered 200, in order); every email sent once (every EmailNotice of the run has sent_at; each API ticket
   has one notice per log row, and a port-out one alert per owner and billing admin; the mail files hold exactly
   one message per notice sent, a ticket's notice one copy per recipient, by ticket).
Exit status 0 when every invariant holds. The run is bounded (--budget seconds).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack  # noqa: E402

DATABASE = "exitdesk_bench_scale"
BROKER_DB, CACHE_DB = 11, 10
DEMO_PASSWORD = "demo-pass-2026"  # the demo command's password for every login


class Api:
    """A tiny JSON client that sends each request to the next web process in turn."""

    def __init__(self, bases: list[str]) -> None:
        self._bases = itertools.cycle(bases)
        self._lock = threading.Lock()
        self.calls = collections.Counter()

    def __call__(self, method: str, path: str, token: str | None = None, body: dict | None = None):
        with self._lock:
            base = next(self._bases)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{base}{path}", data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        with self._lock:
            self.calls[base] += 1
        return status, (json.loads(payload) if payload else {})


def expect(result: tuple[int, dict], status: int, what: str) -> dict:
    if result[0] != status:
        raise RuntimeError(f"{what}: expected {status}, got {result[0]} {result[1]}")
    return result[1]


def account_traffic(api: Api, index: int, staff: dict[str, str], plan_id: int) -> list[dict]:
    """One customer's story; returns each ticket with the transitions that answered 200, in order."""
    manager, agent = staff["manager"], staff["agent"]
    account = expect(
        api("POST", "/api/v1/accounts/", manager, {"name": f"Scale {index}", "plan": plan_id, "port_out_pin": "4321"}),
        201,
        "create account",
    )
    aid = account["id"]
    email = f"owner{index}@scale.test"
    body = {"email": email, "full_name": f"Owner {index}", "role": "owner", "password": "scale-pass-2026"}
    expect(api("POST", f"/api/v1/accounts/{aid}/members/", manager, body), 201, "add owner")
    numbers = [
        expect(
            api("POST", f"/api/v1/accounts/{aid}/numbers/", manager, {"number": f"+1415555{index * 3 + n:04d}"}),
            201,
            "add number",
        )["id"]
        for n in range(3)
    ]
    owner = expect(
        api("POST", "/api/v1/auth/token/", None, {"email": email, "password": "scale-pass-2026"}), 200, "token"
    )
    owner = owner["token"]
    common = {"account": aid, "full_name": f"Owner {index}", "company": f"Scale {index}", "contact": email}
    port_out = {"kind": "port_out", "gaining_carrier": "Telnyx", "authorized_name": f"Owner {index}", "pin": "4321"}
    requests = [
        (
            {**common, **port_out, "numbers": [numbers[0]]},
            [("verify", agent), ("approve", manager), ("complete", agent)],
        ),
        ({**common, "kind": "number_cancellation", "number": numbers[1]}, [("verify", agent), ("approve", manager)]),
        ({**common, **port_out, "numbers": [numbers[2]]}, [("withdraw", owner)]),
    ]
    requests[1][1].append(("complete", agent))
    tickets = []
    for body, steps in requests:
        ticket = expect(api("POST", "/api/v1/tickets/", owner, body), 201, f"submit {body['kind']}")
        done = []
        for name, token in steps:
            extra = {"foc_date": (dt.date.today() + dt.timedelta(days=2)).isoformat()} if name == "approve" else {}
            status, payload = api(
                "POST", f"/api/v1/tickets/{ticket['id']}/transitions/", token, {"name": name, **extra}
            )
            if status != 200:
                raise RuntimeError(f"{name} on ticket {ticket['id']}: {status} {payload}")
            done.append(name)
        tickets.append({"id": ticket["id"], "kind": body["kind"], "transitions": done, "state": payload["state"]})
    return tickets


def wait_for_emails(expected_min: int, timeout: float) -> float:
    """Until every notice is sent and the broker queue is empty; returns the seconds waited."""
    import redis
    from django.conf import settings
    from django.db import connection

    from tickets.models import EmailNotice

    broker = redis.Redis.from_url(f"{stack.REDIS_URL}/{BROKER_DB}")
    started = time.monotonic()
    while True:
        pending = EmailNotice.objects.filter(sent_at__isnull=True).count()
        total = EmailNotice.objects.count()
        queued = broker.llen(settings.CELERY_TASK_DEFAULT_QUEUE)
        connection.close()
        if pending == 0 and queued == 0 and total >= expected_min:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"emails not drained after {timeout:.0f} s: {pending} unsent, {queued} queued")
        time.sleep(0.5)


def mail_subjects(mail_dir: Path) -> list[str]:
    subjects = []
    for path in mail_dir.glob("*.log"):
        subjects += re.findall(r"^Subject: (.*)$", path.read_text(errors="replace"), flags=re.MULTILINE)
    return subjects


def check(api_tickets: list[dict], mail_dir: Path) -> list[tuple[str, bool, str]]:
    from accounts.models import Membership
    from tickets.access import PORT_OUT_ALERT_ROLES
    from tickets.models import EmailNotice, Ticket, TransitionLog

    checks = []
    ids = [t["id"] for t in api_tickets]
    rows = {t.pk: t for t in Ticket.objects.filter(pk__in=ids)}
    lost = [i for i in ids if i not in rows]
    wrong_state = [t["id"] for t in api_tickets if t["id"] in rows and rows[t["id"]].state != t["state"]]
    checks.append(
        (
            "no lost tickets",
            not lost and not wrong_state and len(set(ids)) == len(ids),
            f"{len(ids)} created through the API, {len(rows)} in the database, {len(wrong_state)} in another state",
        )
    )

    logs = collections.defaultdict(list)
    for ticket_id, name in (
        TransitionLog.objects.filter(ticket_id__in=ids).order_by("at", "pk").values_list("ticket_id", "transition")
    ):
        logs[ticket_id].append(name)
    bad_logs = [t["id"] for t in api_tickets if logs[t["id"]] != ["submit", *t["transitions"]]]
    log_total = sum(len(v) for v in logs.values())
    expected_total = sum(1 + len(t["transitions"]) for t in api_tickets)
    checks.append(
        (
            "every log row",
            not bad_logs and log_total == expected_total,
            f"{log_total} log rows for {expected_total} submissions and transitions answered 200; {len(bad_logs)} off",
        )
    )

    notices = EmailNotice.objects.all()
    unsent = notices.filter(sent_at__isnull=True).count()
    # A ticket's own emails: one per log row. A port-out also alerts each owner and billing admin at once (SPEC §4).
    per_ticket = collections.Counter(
        notices.filter(ticket_id__in=ids).exclude(template="port_out_alert").values_list("ticket_id", flat=True)
    )
    alerts = collections.Counter(
        notices.filter(ticket_id__in=ids, template="port_out_alert").values_list("ticket_id", flat=True)
    )
    alerted = collections.Counter(
        Membership.objects.filter(
            account__tickets__pk__in=ids, role__in=PORT_OUT_ALERT_ROLES, user__is_active=True
        ).values_list("account__tickets__pk", flat=True)
    )
    missing = [
        t["id"]
        for t in api_tickets
        if per_ticket[t["id"]] != len(logs[t["id"]])
        or alerts[t["id"]] != (alerted[t["id"]] if t["kind"] == "port_out" else 0)
    ]
    subjects = mail_subjects(mail_dir)
    # An email about a ticket goes to each of its recipients apart (a reply address signed for each, issue 24);
    # any other email is one message to all of its recipients.
    sent = notices.filter(sent_at__isnull=False).exclude(recipients=[]).values_list("ticket_id", "recipients")
    copies_by_ticket: collections.Counter = collections.Counter()
    copies = 0
    for ticket_id, recipients in sent:
        n = len(recipients) if ticket_id else 1
        copies += n
        if ticket_id:
            copies_by_ticket[ticket_id] += n
    mailed = collections.Counter(int(m.group(1)) for s in subjects if (m := re.match(r"\[Exitdesk #(\d+)\]", s)))
    # The purge empties the recipients of a purged account's notices (the demo purges one): their copies are
    # in the mail files but can no longer be counted per recipient, so those tickets are left out of both sides.
    purged = set(Ticket.objects.filter(redacted_at__isnull=False).values_list("pk", flat=True))
    subjects = [s for s in subjects if not ((m := re.match(r"\[Exitdesk #(\d+)\]", s)) and int(m.group(1)) in purged)]
    twice = [t for t, n in mailed.items() if n > copies_by_ticket[t] and t not in purged]
    checks.append(
        (
            "every email sent once",
            unsent == 0 and not missing and not twice and len(subjects) == copies,
            f"{notices.count()} notices, {unsent} unsent; {len(subjects)} messages in the mail files for "
            f"{copies} copies of {len(sent)} notices sent; API tickets with a notice per log row (and a port-out's "
            "alerts): "
            f"{len(ids) - len(missing)}"
            f"/{len(ids)}; tickets mailed more often than noticed: {len(twice)}",
        )
    )
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=24)
    parser.add_argument("--clients", type=int, default=6, help="client threads driving the API")
    parser.add_argument("--budget", type=int, default=600, help="stop with an error past this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the database and the mail files")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="exitdesk-scale-"))
    mail_dir = work / "mail"
    mail_dir.mkdir()
    with stack.deadline(args.budget):
        url = stack.fresh_database(DATABASE)
        for db in (BROKER_DB, CACHE_DB):
            stack.flush_redis(db)
        env = stack.stack_env(
            url,
            BROKER_DB,
            CACHE_URL=f"{stack.REDIS_URL}/{CACHE_DB}",
            EMAIL_URL=f"filemail:///{mail_dir}",
            # One agent and one manager work every ticket of the run: the per-user throttles would hold them back.
            API_THROTTLE_VERIFICATION="100000/minute",
            API_THROTTLE_AUTH_TOKEN="100000/minute",
        )
        stack.use_env(env)
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        assert str(settings.EMAIL_FILE_PATH) == str(mail_dir), settings.EMAIL_FILE_PATH
        call_command("migrate", verbosity=0, interactive=False)
        connections.close_all()
        started = time.monotonic()
        try:
            with stack.Processes(work / "logs") as processes:
                celery = [str(stack.BIN / "celery"), "-A", "config"]  # the README's commands, as an operator runs them
                for name in ("scale1", "scale2"):
                    processes.start(
                        name,
                        [
                            *celery,
                            "worker",
                            "-n",
                            f"{name}@%h",
                            "-c",
                            "2",
                            "--without-gossip",
                            "--without-mingle",
                            "--loglevel",
                            "WARNING",
                        ],
                        env,
                    )
                processes.start(
                    "beat", [*celery, "beat", "-s", str(work / "beat-schedule"), "--loglevel", "WARNING"], env
                )
                ports = [stack.free_port(), stack.free_port()]
                for i, port in enumerate(ports):
                    processes.gunicorn(f"web{i + 1}", port, env, workers=2)
                time.sleep(3)  # a Celery process that dies at start-up does so within a second or two
                processes.require_alive()
                demo = subprocess.run(  # noqa: S603
                    [stack.PYTHON, "manage.py", "demo"],
                    cwd=stack.ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=True,
                )
                del demo
                api = Api([f"http://127.0.0.1:{port}" for port in ports])
                staff = {
                    role: expect(
                        api(
                            "POST",
                            "/api/v1/auth/token/",
                            None,
                            {"email": f"{role}@exitdesk.demo", "password": DEMO_PASSWORD},
                        ),
                        200,
                        f"{role} token",
                    )["token"]
                    for role in ("manager", "agent")
                }
                plans = expect(api("GET", "/api/v1/plans/", staff["manager"]), 200, "plans")
                plans = plans["results"] if isinstance(plans, dict) else plans
                plan_id = next(p["id"] for p in plans if p["policy"]["preset"] == "avoxi")
                traffic_started = time.monotonic()
                with ThreadPoolExecutor(args.clients) as pool:
                    stories = list(pool.map(lambda i: account_traffic(api, i, staff, plan_id), range(args.accounts)))
                traffic_seconds = time.monotonic() - traffic_started
                api_tickets = [t for story in stories for t in story]
                from tickets.models import TransitionLog

                expected_notices = TransitionLog.objects.count()  # at least one email per log row of the run
                connections.close_all()
                drained = wait_for_emails(expected_notices // 2, timeout=180)
                alive = processes.alive()
                died = processes.dead()
                checks = check(api_tickets, mail_dir)
                from tickets.models import EmailNotice, Ticket

                totals = {
                    "tickets": Ticket.objects.count(),
                    "log rows": TransitionLog.objects.count(),
                    "emails": EmailNotice.objects.filter(sent_at__isnull=False).count(),
                }
                connections.close_all()
        finally:
            connections.close_all()
            for db in (BROKER_DB, CACHE_DB):
                stack.flush_redis(db)
            if not args.keep:
                stack.drop_database(DATABASE)

    up = [name for name, ok in alive.items() if ok]
    down = [name for name, ok in alive.items() if not ok]
    detail = f"up: {', '.join(up) or 'none'}" + (f"; DIED: {', '.join(down)}" if down else "")
    checks.append(("every process up to the end", not down, detail))
    print(f"\nExitdesk scale-out run, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {stack.machine()}")
    print("2 gunicorn processes x 2 workers, 2 Celery workers x 2 processes, 1 beat; PostgreSQL, Redis (broker, cache)")
    print(
        f"API traffic: {args.accounts} accounts, {len(api_tickets)} tickets, {sum(api.calls.values())} requests "
        f"({' / '.join(str(n) for n in api.calls.values())} per web process) in {traffic_seconds:.1f} s from "
        f"{args.clients} clients; queue drained {drained:.1f} s later; whole run {time.monotonic() - started:.0f} s"
    )
    print("database after the run (demo included): " + ", ".join(f"{v} {k}" for k, v in totals.items()))
    for name, ok, detail in checks:
        print(f"{'ok ' if ok else 'FAIL'} {name}: {detail}")
    if died:
        print(f"\n{died}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
