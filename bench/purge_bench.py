"""Benchmark of the purge on PostgreSQL: time, rows/s and peak memory at 100k and 1M rows, against a raw DELETE.

    .venv/bin/python bench/purge_bench.py [--sizes 100000 1000000] [--db postgres://postgres@127.0.0.1:5432/exitdesk_bench]

It (re)creates the benchmark database, migrates it, and for each size:
1. generates an account holding `size` rows (40 % invoices, 40 % credit entries, 20 % numbers) beside a bystander
   account holding a tenth as many, with INSERT … SELECT generate_series, then VACUUM ANALYZE;
2. purges it in a fresh subprocess (tickets.purge.purge_account, the code the worker runs) and reads the time
   and the subprocess's peak resident memory (ru_maxrss);
3. generates the same rows again and times one raw DELETE per table of them: the floor.
Targets (issue 7): peak memory at 1M ≤ 1.1 × at 100k; purge time within 3 × the raw floor.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARES = {"billing_invoice": 0.4, "billing_creditentry": 0.4, "numbers_phonenumber": 0.2}


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("CONN_MAX_AGE", "600")  # one connection for the run (TESTING.md)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def child(account_id: int) -> None:
    """Purge one account and print time and peak memory as JSON (run in a fresh process)."""
    from django.db import connection

    from tickets import purge

    connection.ensure_connection()
    started = time.perf_counter()
    result = purge.purge_account(account_id)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcome": result.outcome, "seconds": seconds, "peak_kb": peak_kb, "counts": result.counts}))


def recreate_database(db_url: str) -> None:
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_account(size: int, name: str):
    """A cancelled account past its purge date with `size` rows of data, generated in SQL."""
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from accounts import services
    from accounts.models import Account
    from billing.models import Plan

    plan = Plan.objects.filter(policy__preset="kustomer").order_by("rank").first()
    account = services.create_account(name=name, plan=plan)
    for role in ("owner", "billing_admin", "member"):
        services.add_member(account=account, email=f"{role}@{name}.bench", full_name=role, role=role)
    rows = {table: int(size * share) for table, share in SHARES.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_invoice (account_id, amount, due_date, status, created_at) "
            "SELECT %s, 10.00, DATE '2026-01-01', 'paid', now() FROM generate_series(1, %s)",
            [account.pk, rows["billing_invoice"]],
        )
        cursor.execute(
            "INSERT INTO billing_creditentry (account_id, amount, reason, note, created_at) "
            "SELECT %s, 1.00, 'usage', '', now() FROM generate_series(1, %s)",
            [account.pk, rows["billing_creditentry"]],
        )
        cursor.execute(
            "INSERT INTO numbers_phonenumber (account_id, number, status, inbound_recording, created_at) "
            "SELECT %s, '+1202' || lpad(g::text, 7, '0'), 'released', false, now() FROM generate_series(1, %s) g",
            [account.pk, rows["numbers_phonenumber"]],
        )
    now = timezone.now()
    Account.objects.filter(pk=account.pk).update(
        status="cancelled", cancelled_at=now - dt.timedelta(days=61), purge_after=now - dt.timedelta(days=1)
    )
    return account, sum(rows.values())


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in [*SHARES, "accounts_account", "accounts_membership", "accounts_user"]:
            cursor.execute(f"VACUUM ANALYZE {table}")


def raw_delete_seconds(account_id: int) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table in SHARES:
            cursor.execute(f"DELETE FROM {table} WHERE account_id = %s", [account_id])  # noqa: S608 - our names
    return time.perf_counter() - started


def run(sizes: list[int], db_url: str) -> None:
    from django.conf import settings
    from django.core.management import call_command

    recreate_database(db_url)
    call_command("migrate", verbosity=0)
    print(f"batch size {settings.PURGE_BATCH_SIZE}; database {db_url.rsplit('/', 1)[1]}")
    results = []
    for size in sizes:
        make_account(size // 10, f"bystander-{size}")
        account, rows = make_account(size, f"bench-{size}")
        vacuum()
        out = subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--child", str(account.pk), "--db", db_url],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        measured = json.loads(out.strip().splitlines()[-1])
        assert measured["outcome"] == "purged", measured
        deleted = sum(v for k, v in measured["counts"].items() if k in {"invoices", "credit_entries", "numbers"})
        assert deleted == rows, (deleted, rows)
        floor_account, _ = make_account(size, f"floor-{size}")
        vacuum()
        floor = raw_delete_seconds(floor_account.pk)
        results.append((size, rows, measured["seconds"], measured["peak_kb"] / 1024, floor))
        print(
            f"{rows:>9,} rows: purge {measured['seconds']:7.2f} s ({rows / measured['seconds']:>9,.0f} rows/s), "
            f"peak RSS {measured['peak_kb'] / 1024:6.1f} MB; raw DELETE {floor:6.2f} s "
            f"({rows / floor:>9,.0f} rows/s); purge / raw = {measured['seconds'] / floor:4.2f}×",
            flush=True,
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(
            f"peak memory {large[1]:,} rows / {small[1]:,} rows = {large[3] / small[3]:.3f}× (target ≤ 1.1×); "
            f"worst purge / raw = {max(r[2] / r[4] for r in results):.2f}× (target ≤ 3×)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/exitdesk_bench")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_django(args.db)
    if args.child:
        child(args.child)
    else:
        run(args.sizes, args.db)


if __name__ == "__main__":
    main()
