"""Benchmark of the email channel: fetching from a real Dovecot into the pipeline, rate and peak memory.

    .venv/bin/python bench/mail_bench.py [--sizes 100 1000] [--message-kb 2.5] [--db postgres://...:5432/exitdesk_mail_bench]
    .venv/bin/python bench/mail_bench.py --sizes 100 --message-kb 20 20480     # issue 24: memory flat in message size

It starts a Dovecot of its own (bench/dovecot.py), (re)creates the benchmark database and migrates it, then for
each size:
1. empties the intake mailbox and the stored messages, and APPENDs `size` messages of about 2.5 kB (or each
   `--message-kb`: the text grows to that size; a third from known members, a third from strangers, a third
   auto-replies; a CSV attachment on every tenth);
2. reads the mailbox once in a fresh subprocess through tickets.inbound.imap.fetch_all (the code beat and
   `manage.py fetch_mail` run) and reports the time, messages per second and the subprocess's peak resident
   memory (VmHWM).
Targets: memory flat in the number of messages (issue 16: peak at 1,000 within 1.1 × the peak at 100) and in
their size (issue 24: 100 messages of 20 MB within 1.2 × 100 of 20 kB); both ratios are printed.
"""

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("CONN_MAX_AGE", "600")
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("INTAKE_IMAP_URL", None)
    os.environ["EMAIL_URL"] = "dummymail://"  # acknowledgements are rendered and "sent" nowhere
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def peak_memory_kb() -> int:
    """This process's peak resident memory since it started its program: VmHWM. (ru_maxrss is not: Linux keeps it
    across exec, so a child started by a parent holding 20 MB messages reported the parent's peak.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child() -> None:
    """Fetch every mailbox once and print time and peak memory as JSON (run in a fresh process)."""
    from django.db import connection

    from tickets.inbound.imap import fetch_all

    connection.ensure_connection()
    started = time.perf_counter()
    results = fetch_all()
    seconds = time.perf_counter() - started
    peak_kb = peak_memory_kb()
    print(
        json.dumps(
            {
                "stored": sum(r.stored for r in results),
                "errors": [r.error for r in results if r.error],
                "seconds": seconds,
                "peak_kb": peak_kb,
            }
        )
    )


def recreate_database(db_url: str) -> None:
    if not db_url.startswith("postgres"):
        return
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def message(n: int, member: str, kb: float | None = None) -> bytes:
    email = EmailMessage()
    kind = n % 3
    email["From"] = member if kind == 0 else f"person{n}@customer{n % 50}.test"
    email["To"] = "cancellations@desk.test"
    email["Subject"] = f"Request {n}"
    email["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    email["Message-ID"] = make_msgid(idstring=f"bench{n}", domain="customer.test")
    if kind == 2:
        email["Auto-Submitted"] = "auto-replied"
    text = f"Please cancel line {n}.\n\nOn Monday the desk wrote:\n> earlier text\n"
    if kb is None:
        text += "x" * 2000
    else:
        # Lines of an ordinary mail's length up to the size asked for.
        line = f"> line {n} of the text quoted below the request, as long as a mail client writes it.....\n"
        text += line * max(1, int(kb * 1024 - len(text)) // len(line))
    email.set_content(text)
    if n % 10 == 0:
        email.add_attachment(b"account,number\n1,2\n" * 200, maintype="text", subtype="csv", filename=f"list{n}.csv")
    return email.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--db",
        default=os.environ.get("BENCH_DATABASE_URL_MAIL", "postgres://postgres@127.0.0.1:5432/exitdesk_mail_bench"),
    )
    parser.add_argument(
        "--message-kb",
        type=float,
        nargs="+",
        default=[None],
        help="each message's size in kB (default: about 2.5); several sizes are each run with every --sizes",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    from bench import dovecot

    recreate_database(args.db)
    env = {
        **os.environ,
        "DATABASE_URL": args.db,
        "SECRET_KEY": "bench-only",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("CELERY_BROKER_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    setup_django(args.db)
    from accounts import services
    from billing.models import Plan
    from tickets.inbound.models import InboundMessage, Mailbox

    plan = Plan.objects.filter(policy__preset="avoxi").order_by("rank").first()
    account = services.create_account(name="Bench customer", plan=plan)
    # 20 members share the known senders' third, so none of them writes often enough to look like a loop.
    members = [
        services.add_member(account=account, email=f"member{n}@bench.test", full_name=f"Member {n}", role=role).user
        for n, role in enumerate(["owner"] + ["member"] * 19)
    ]

    rows = []
    runs = [(size, kb) for kb in args.message_kb for size in args.sizes]
    with dovecot.running() as server:
        for size, kb in runs:
            dovecot.empty(server)
            InboundMessage.objects.all().delete()
            Mailbox.objects.all().delete()
            Mailbox.objects.create(
                name="bench",
                host=server.host,
                port=server.port,
                use_tls=False,
                username=server.user,
                password=server.password,
            )
            client = server.client()
            for n in range(size):
                client.append("INBOX", None, None, message(n, members[n % len(members)].email, kb))
            client.logout()
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--db", args.db],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            assert result["stored"] == size and not result["errors"], result
            counts = {s: InboundMessage.objects.filter(status=s).count() for s in ("triage", "ignored")}
            rows.append((size, kb, result["seconds"], size / result["seconds"], result["peak_kb"], counts))
    if not args.keep:
        from django.db import connection

        connection.close()
        if args.db.startswith("postgres"):
            import psycopg

            base, name = args.db.rsplit("/", 1)
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print("| messages | message size | seconds | messages/s | peak memory (MB) | triage / ignored |")
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    for size, kb, seconds, rate, peak_kb, counts in rows:
        split = f"{counts['triage']} / {counts['ignored']}"
        shown = "2.5 kB" if kb is None else (f"{kb / 1024:g} MB" if kb >= 1024 else f"{kb:g} kB")
        print(f"| {size:,} | {shown} | {seconds:.1f} | {rate:.1f} | {peak_kb / 1024:.1f} | {split} |")
    by_run = {(size, kb): peak_kb for size, kb, _, _, peak_kb, _ in rows}
    if len(args.sizes) > 1:
        for kb in args.message_kb:
            ratio = by_run[(args.sizes[-1], kb)] / by_run[(args.sizes[0], kb)]
            print(f"\nPeak memory at {args.sizes[-1]:,} / at {args.sizes[0]:,} messages: {ratio:.2f} (target ≤ 1.10)")
    if len(args.message_kb) > 1:
        small, large = args.message_kb[0], args.message_kb[-1]
        for size in args.sizes:
            ratio = by_run[(size, large)] / by_run[(size, small)]
            print(f"\nPeak memory of {size:,} messages of {large:g} kB / of {small:g} kB: {ratio:.2f} (target ≤ 1.20)")


if __name__ == "__main__":
    if "--child" in sys.argv:
        setup_django(sys.argv[sys.argv.index("--db") + 1])
        child()
    else:
        main()
