"""What the bench scripts share: a fresh PostgreSQL database, the environment of a production-like stack, and
processes (gunicorn, Celery) started in their own process groups and always stopped, each bounded in time.

Everything listens on 127.0.0.1 only. BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/) names the
PostgreSQL server, BENCH_REDIS_URL (default redis://127.0.0.1:6379) the Redis server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/").rstrip("/")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
# The console scripts (gunicorn, celery) beside that interpreter: what the README tells an operator to run.
BIN = Path(PYTHON).parent


def fresh_database(name: str) -> str:
    """Drop and create `name` on the bench server; returns its DATABASE_URL."""
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{SERVER_URL}/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(db: int) -> None:
    import redis

    redis.Redis.from_url(f"{REDIS_URL}/{db}").flushdb()


def stack_env(database_url: str, redis_db: int, **extra: str) -> dict[str, str]:
    """Production-like settings: DEBUG off, PostgreSQL with persistent connections, Redis as the broker."""
    keep = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ") if key in os.environ}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": "bench-only-secret-key-5c1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "600",
        "CELERY_BROKER_URL": f"{REDIS_URL}/{redis_db}",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "ERROR",
        # The benches sign staff in with a password or force_login; two-factor is not what they measure.
        "STAFF_OTP_REQUIRED": "false",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def use_env(env: dict[str, str]) -> None:
    """Set up Django in this process on the stack's settings (for loading data and checking results)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - a loopback URL we built
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.3)


class Processes:
    """Starts commands in their own process groups; `stop()` (or leaving the `with`) ends each group it started."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen]] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((name, process))
        return process

    def gunicorn(self, name: str, port: int, env: dict[str, str], *, workers: int = 2, threads: int = 1):
        args = [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        args += ["--workers", str(workers), "--access-logfile", "/dev/null", "--timeout", "60"]
        if threads > 1:
            args += ["--worker-class", "gthread", "--threads", str(threads)]
        process = self.start(name, args, env)
        wait_for_http(f"http://127.0.0.1:{port}/accounts/login/")
        return process

    def alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self.started}

    def tail(self, name: str, lines: int = 25) -> str:
        """The last `lines` lines of a process's log (stdout and stderr)."""
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def dead(self) -> str:
        """Each process that has exited, by name, with its exit code and the tail of its log; "" when all are up."""
        reports = []
        for name, process in self.started:
            if process.poll() is not None:
                reports.append(f"{name} exited with code {process.returncode}; the end of its log:\n{self.tail(name)}")
        return "\n\n".join(reports)

    def require_alive(self) -> None:
        """Raise, naming each process that died and showing the end of its log, unless every one is up."""
        if report := self.dead():
            raise RuntimeError(f"a process died:\n{report}")

    def stop(self, timeout: float = 20) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, process in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.started.clear()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """The whole run is bounded: past `seconds` the script stops with an error (and its `with` blocks clean up)."""

    def expired(signum, frame):
        raise TimeoutError(f"the run took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def machine() -> str:
    import platform

    return f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"
