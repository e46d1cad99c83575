"""The concurrency script as a test on PostgreSQL: simultaneous approves through a real gunicorn server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_simultaneous_approves_one_succeeds_the_rest_409():
    db = settings.DATABASES["default"]
    server = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
    broker = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] if settings.CELERY_BROKER_URL else "redis://127.0.0.1:6379"
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env |= {"BENCH_DATABASE_URL": server, "BENCH_REDIS_URL": broker}
    result = subprocess.run(
        [sys.executable, "bench/concurrency.py", "--calls", "30", "--budget", "240"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "responses: 1 x 200, 29 x 409" in result.stdout
    assert "approve rows in the transition log: 1 " in result.stdout
