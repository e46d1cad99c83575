"""Every benchmark in its short mode, one table of ratios: `make bench` (issue 30).

    .venv/bin/python bench/all.py                 # run them all, print the table
    .venv/bin/python bench/all.py --only load queue
    .venv/bin/python bench/all.py --readme        # and rewrite the README's summary table from this run

Each script runs as its own process with the short arguments below, in turn (never two at once: each ratio is
measured side by side inside one script, and two scripts together would only load each other). What a script
prints is its own full report (kept under test-artifacts/bench/<name>.txt); this file reads the ratio lines from
it. A script that fails, times out or prints no ratio is a row saying so, and `make bench` then exits 1.
The table carries the date, the commit, the machine and the load average before and after, since these
machines are shared: a figure measured beside someone's test suite says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "bench"
README = ROOT / "README.md"
START, END = "<!-- bench:summary:start -->", "<!-- bench:summary:end -->"
NUMBER = r"([0-9][0-9,]*\.?[0-9]*)"


@dataclass(frozen=True)
class Ratio:
    """One figure read from a script's output: `pattern`'s first group, held to `target` by `better`."""

    label: str
    pattern: str
    target: float
    better: str  # "higher" or "lower"
    worst: bool = False  # the pattern matches several lines: hold the worst of them to the target

    def read(self, output: str) -> float | None:
        found = [float(value.replace(",", "")) for value in re.findall(self.pattern, output, re.MULTILINE)]
        if not found:
            return None
        if not self.worst:
            return found[0]
        return min(found) if self.better == "higher" else max(found)

    def met(self, value: float) -> bool:
        return value >= self.target if self.better == "higher" else value <= self.target

    def target_text(self) -> str:
        return f"{'≥' if self.better == 'higher' else '≤'} {self.target:g}"


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    args: tuple[str, ...]
    timeout: int
    ratios: tuple[Ratio, ...]
    # A script whose success is a yes/no invariant rather than a figure: the line that says it held.
    held: str = ""


BENCHES = (
    Bench(
        "load",
        "bench/load.py",
        ("--rounds", "2", "--seconds", "5", "--connections", "8", "--budget", "420"),
        480,
        (
            Ratio(
                "API ticket creation / bare DRF ticket create",
                rf"ticket creation / bare DRF ticket create: {NUMBER}",
                0.75,
                "higher",
            ),
            Ratio("ticket creation, metrics on / off", rf"metrics on / off: {NUMBER}", 0.95, "higher"),
            Ratio(
                "ticket creation, webhook endpoint subscribed / none",
                rf"with / without a webhook endpoint: {NUMBER}",
                0.9,
                "higher",
            ),
        ),
    ),
    Bench(
        "helpdesk",
        "bench/helpdesk_compare.py",
        ("--rounds", "3", "--requests", "6", "--keep"),
        1500,
        (
            Ratio(
                "queue page: django-helpdesk 2.6.1 / Exitdesk (p50, 50 rows, 100k tickets)",
                rf"ratio helpdesk / Exitdesk: {NUMBER}×",
                15,
                "higher",
            ),
        ),
    ),
    Bench(
        "queue",
        "bench/queue_bench.py",
        ("--sizes", "1000", "100000", "--rounds", "2", "--requests", "5"),
        1500,
        (
            Ratio(
                "queue and admin lists: p50 at 100k / at 1k (worst page)",
                rf"^\| (?:queue page|overview|admin[^|(]*) \|[^|]*\|[^|]*\| {NUMBER}×",
                1.5,
                "lower",
                worst=True,
            ),
        ),
    ),
    Bench(
        "purge",
        "bench/purge_bench.py",
        ("--sizes", "20000", "200000"),
        900,
        (
            Ratio("purge peak memory 200k rows / 20k rows", rf"peak memory [^=]*= {NUMBER}×", 1.1, "lower"),
            Ratio("purge / raw DELETE (worst)", rf"worst purge / raw = {NUMBER}×", 3, "lower"),
        ),
    ),
    Bench(
        "mail",
        "bench/mail_bench.py",
        ("--sizes", "100", "400"),
        600,
        (Ratio("email in: peak memory 400 / 100 messages", rf"Peak memory at [^:]*: {NUMBER}", 1.1, "lower"),),
    ),
    Bench("concurrency", "bench/concurrency.py", ("--calls", "30", "--budget", "400"), 480, (), held="no 500: yes"),
    Bench(
        "scale-out",
        "bench/scale_out.py",
        ("--accounts", "10", "--clients", "4", "--budget", "420"),
        480,
        (),
        held="every process up",
    ),
    Bench(
        "webhooks",
        "bench/webhooks_bench.py",
        ("--events", "1000"),
        600,
        (Ratio("webhook deliveries per second", rf"{NUMBER} deliveries/s", 20, "higher"),),
    ),
)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
    )
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def run(bench: Bench) -> tuple[list[tuple[str, str, str, str]], bool, float]:
    """Run one script; its rows (measure, value, target, verdict), whether it passed, and its seconds."""
    if not (ROOT / bench.script).exists():
        return [(bench.name, "not there yet", "", "missing")], False, 0.0
    started = time.monotonic()
    try:
        done = subprocess.run(  # nosec B603: our own scripts, run with our own interpreter and fixed arguments
            [sys.executable, bench.script, *bench.args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=bench.timeout,
        )
        output, failed = done.stdout + done.stderr, done.returncode != 0
    except subprocess.TimeoutExpired as timeout:
        output = (
            (timeout.stdout or b"").decode(errors="replace")
            if isinstance(timeout.stdout, bytes)
            else (timeout.stdout or "")
        )
        failed = True
        output += f"\n[bench/all.py] timed out after {bench.timeout} s"
    seconds = time.monotonic() - started
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{bench.name}.txt").write_text(output)
    rows, ok = [], not failed
    for ratio in bench.ratios:
        value = ratio.read(output)
        if value is None:
            rows.append((ratio.label, "not printed", ratio.target_text(), "missing"))
            ok = False
            continue
        met = ratio.met(value)
        ok = ok and met
        rows.append((ratio.label, f"{value:g}", ratio.target_text(), "met" if met else "MISSED"))
    if bench.held:
        held = bench.held in output
        ok = ok and held
        rows.append(
            (f"{bench.name}: every invariant", "held" if held else "not held", "held", "met" if held else "MISSED")
        )
    if failed:
        last = output.strip().splitlines()[-1:] or ["no output"]
        rows.append((f"{bench.name}: the script", f"failed: {last[0][:120]}", "exit 0", "FAILED"))
    return rows, ok, seconds


def table(rows: list[tuple[str, str, str, str, str]]) -> str:
    lines = ["| bench | measure | value | target | verdict |", "| --- | --- | ---: | ---: | --- |"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def rewrite_readme(text: str) -> None:
    readme = README.read_text()
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START} … {END} block to rewrite")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES], help="run these benches only")
    parser.add_argument("--readme", action="store_true", help="rewrite the README's summary table from this run")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    when = dt.datetime.now(dt.UTC)
    before = load_average()
    rows, all_ok = [], True
    for bench in chosen:
        print(f"running {bench.name} ({bench.script} {' '.join(bench.args)}) …", flush=True)
        found, ok, seconds = run(bench)
        all_ok = all_ok and ok
        rows += [(bench.name, *row) for row in found]
        print(
            f"  {'ok' if ok else 'NOT OK'} in {seconds:.0f} s; its report: test-artifacts/bench/{bench.name}.txt",
            flush=True,
        )
    header = (
        f"Run {when:%Y-%m-%d %H:%M} UTC at commit {commit()} on {os.uname().nodename} ({os.cpu_count()} cores); "
        f"load average before {before}, after {load_average()}."
    )
    text = f"{header}\n\n{table(rows)}"
    print(f"\n{text}")
    if args.readme:
        rewrite_readme(text)
        print("\nREADME.md: summary table rewritten")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
