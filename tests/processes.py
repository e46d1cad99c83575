"""Starting the processes the README tells an operator to run, as an operator runs them, from the tests.

Shared by tests/test_processes.py (each starts and stays up under production settings) and
tests/purge/test_beat.py (beat sends the scheduled jobs and a worker runs them).
"""

import os
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from bench.stack import BIN, PYTHON, Processes

ROOT = Path(__file__).resolve().parents[1]
# What the README's "Running at scale" exports, on loopback (the database and broker are the suite's own).
PRODUCTION = {
    "SECRET_KEY": "k3y-for-the-process-tests-only-7e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "desk.example.com",
    "SECURE_HTTPS": "true",
    "SECURE_PROXY_SSL_HEADER": "true",
    "TRUSTED_PROXY_COUNT": "1",
    "SITE_URL": "https://desk.example.com",
    "CONN_MAX_AGE": "600",
    "EMAIL_URL": "dummymail://",
    "LOG_LEVEL": "INFO",
}
STAY_UP_SECONDS = 5
# The README's own commands: the console scripts, not `python -m ...`, which puts the project folder first on sys.path
# and so imports in another order (beat lived under `python -m celery` and died under `celery`, issue 19).
CELERY = [str(BIN / "celery"), "-A", "config"]
GUNICORN = [str(BIN / "gunicorn"), "config.wsgi:application"]


def clean_env(**values: str) -> dict[str, str]:
    """Only what the machine needs to run Python: none of the suite's own settings (pytest-env) leak in, and no
    PYTHONPATH (the README sets none; the processes run from the project folder)."""
    keep = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return {**keep, "DJANGO_SETTINGS_MODULE": "config.settings", **values}


def run(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def suite_database_url() -> str:
    """The suite's PostgreSQL test database as a URL, for processes started beside the tests."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def stay_up(processes: Processes, seconds: float = STAY_UP_SECONDS) -> None:
    """Watch every started process for `seconds`; the first that dies fails the test, named, with its log's end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        processes.require_alive()
        time.sleep(0.5)
    processes.require_alive()


def wait_for_log(processes: Processes, name: str, text: str, timeout: float = 90) -> None:
    """Wait until process `name` has written `text` (its start-up line): on a busy machine, as CI's is when the suite
    runs in two processes, a Python process can take longer than STAY_UP_SECONDS only to start. A process that
    dies meanwhile fails at once, named, with the end of its log."""
    deadline = time.monotonic() + timeout
    while text not in processes.tail(name, 400):
        processes.require_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} did not write {text!r} in {timeout:.0f} s:\n{processes.tail(name)}")
        time.sleep(0.3)
