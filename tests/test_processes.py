"""Every long-running process the README tells an operator to start (gunicorn, a Celery worker, Celery beat) starts
under production settings and stays up.

A process that dies at start-up in production is the worst failure there is, and only starting it shows it: beat
once died at once (issue 19) because Celery's Django fixup runs the system checks before anything else is
imported, DRF's pagination check imported `tickets.api.common`, and that module, half imported, was asked by DRF
for its own JSON parser. The same processes run the scheduled jobs end to end in tests/purge/test_beat.py.
"""

import sys
import time
import urllib.request
import uuid

import pytest
from django.conf import settings

from bench.stack import Processes, free_port, wait_for_http
from tests.processes import (
    CELERY,
    GUNICORN,
    PRODUCTION,
    clean_env,
    on_postgres,
    run,
    stay_up,
    suite_database_url,
    wait_for_log,
)

# -- imports in every order --------------------------------------------------------------------------------------

# DRF resolves these dotted paths lazily, sometimes while it is still importing itself.
NAMED_BY_DRF = sorted(
    {
        path
        for value in settings.REST_FRAMEWORK.values()
        for path in (value if isinstance(value, list | tuple) else [value])
        if isinstance(path, str) and path.split(".")[0] in {"tickets", "accounts", "billing", "numbers", "config"}
    }
)
# What a fresh process may do first after django.setup(). Celery's Django fixup runs the system checks, and Django
# keeps them in a set, so their order changes from process to process: when DRF's pagination check came before any
# check that imports a view, DRF imported the paginator's module, which imported rest_framework.views, which asked
# DRF for the parser in that same half-imported module: beat died (issue 19), or lived, by the luck of the order.
FIRST_STEPS = {
    "the system checks": "from django.core import checks; checks.run_checks()",
    "DRF's pagination check before any view": (
        "from rest_framework.checks import pagination_system_check; pagination_system_check(None)"
    ),
    "DRF's views": "import rest_framework.views",
    "DRF's generic views": "import rest_framework.generics",
    **{f"the module of {path}": f"import {path.rsplit('.', 1)[0]}" for path in NAMED_BY_DRF},
}


def test_drf_names_only_classes_of_our_own():
    # drf_hooks' three, and the token authentication that decides when a token stops working (issue 24); each module
    # is imported first in a fresh interpreter below.
    assert NAMED_BY_DRF == [
        "accounts.tokens.DeskTokenAuthentication",
        "tickets.api.drf_hooks.JSONParser",
        "tickets.api.drf_hooks.Pagination",
        "tickets.api.drf_hooks.exception_handler",
    ]


@pytest.mark.parametrize("first", FIRST_STEPS)
def test_the_api_settings_resolve_whatever_comes_first(first):
    # issue 19: beat died at start-up with "partially initialized module 'tickets.api.common'" (a circular import)
    script = (
        f"import django; django.setup(); {FIRST_STEPS[first]}; "
        "from django.core import checks; checks.run_checks(); "
        "from rest_framework.settings import api_settings; "
        "[getattr(api_settings, name) for name in sorted(api_settings.import_strings)]; "
        "import config.urls, tickets.api.views, tickets.api.accounts; print('resolved')"
    )
    result = run(["-c", script], clean_env(DEBUG="true"), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("resolved")


# -- the processes themselves --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def production_env(tmp_path_factory, request) -> dict[str, str]:
    """Production settings on this suite's database (PostgreSQL's test database, or a migrated SQLite file), static
    files collected into a folder of the test's own, and a Celery queue nobody else consumes."""
    tmp_path = tmp_path_factory.mktemp("production")
    if on_postgres():
        request.getfixturevalue("django_db_setup")
        database_url = suite_database_url()
    else:
        database_url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    env = clean_env(
        **PRODUCTION,
        DATABASE_URL=database_url,
        # Without a configured broker the suite runs tasks in-process; Kombu's in-memory transport still makes
        # the worker and beat start as in production, with nothing to connect to.
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL or "memory://",
        CELERY_QUEUE=f"processes-{uuid.uuid4().hex[:8]}",
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    if not on_postgres():
        migrated = run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    collected = run(["manage.py", "collectstatic", "--noinput", "-v", "0"], env)
    assert collected.returncode == 0, collected.stderr[-3000:]
    return env


def get(url: str) -> tuple[int, str]:
    # As the README's HTTPS proxy forwards a request: the public host, and the scheme it was served over.
    request = urllib.request.Request(url, headers={"Host": "desk.example.com", "X-Forwarded-Proto": "https"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, response.read().decode()


@pytest.mark.celery_workers
def test_gunicorn_a_worker_and_beat_start_with_production_settings_and_stay_up(production_env, tmp_path):
    # issue 19: `celery -A config beat` exited at once, so no purge (U6, S6), port-out deadline or SLA warning ran
    port = free_port()
    with Processes(tmp_path / "logs") as processes:
        processes.start(
            "gunicorn",
            [*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            production_env,
        )
        processes.start(
            "worker",
            [*CELERY, "worker", "-n", "w1@%h", "-c", "1", "--without-gossip", "--without-mingle", "-l", "INFO"],
            production_env,
        )
        processes.start("beat", [*CELERY, "beat", "-s", str(tmp_path / "beat-schedule"), "-l", "INFO"], production_env)
        wait_for_http(f"http://127.0.0.1:{port}/accounts/login/", timeout=60)
        status, page = get(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200 and "Sign in" in page
        stylesheet = next(part.split('"')[0] for part in page.split('href="') if part.split('"')[0].endswith(".css"))
        assert get(f"http://127.0.0.1:{port}{stylesheet}")[0] == 200  # a hashed name from the manifest, by WhiteNoise
        wait_for_log(processes, "worker", "ready.")
        wait_for_log(processes, "beat", "beat: Starting...")
        stay_up(processes)  # names the process that died, with the end of its log
        worker_log, beat_log = processes.tail("worker", 200), processes.tail("beat", 200)
    assert "ready." in worker_log, worker_log
    assert "beat: Starting..." in beat_log, beat_log
    assert "Traceback" not in beat_log + worker_log, beat_log + worker_log


@pytest.mark.celery_workers
def test_beat_stays_up_with_debug_on_too(production_env, tmp_path):
    # issue 19, its reproduction: with DEBUG=true the system checks import in another order, and beat died at once
    env = {**production_env, "DEBUG": "true"}
    with Processes(tmp_path / "logs") as processes:
        processes.start("beat", [*CELERY, "beat", "-s", str(tmp_path / "s"), "-l", "INFO"], env)
        wait_for_log(processes, "beat", "beat: Starting...")
        stay_up(processes)
        assert "beat: Starting..." in processes.tail("beat", 200)


def test_a_process_that_dies_is_named_with_the_end_of_its_log(tmp_path):
    # the guard the tests above and bench/scale_out.py rely on: a dead process is said by name, never silently
    with Processes(tmp_path / "logs") as processes:
        processes.start("healthy", [sys.executable, "-c", "import time; time.sleep(30)"], clean_env())
        processes.start("doomed", [sys.executable, "-c", "raise SystemExit('no broker for me')"], clean_env())
        deadline = time.monotonic() + 10
        while not processes.dead() and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(RuntimeError) as died:
            processes.require_alive()
    assert "doomed exited with code 1" in str(died.value)
    assert "no broker for me" in str(died.value)
    assert "healthy" not in str(died.value)
