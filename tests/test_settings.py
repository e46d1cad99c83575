"""Start-up refuses a bad environment with ImproperlyConfigured and a sentence naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_BACKEND)"
)
OURS = {
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "ALLOWED_HOSTS",
    "CONN_MAX_AGE",
    "DATABASE_POOL_SIZE",
    "TRUSTED_PROXY_COUNT",
    "INBOUND_TRUSTED_AUTHSERV_IDS",
}


def start(code: str = PRINT_SETTINGS, **environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in OURS}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONWARNINGS="ignore", **environ)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def refused(result: subprocess.CompletedProcess, *words: str) -> bool:
    last_line = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    return (
        result.returncode != 0
        and last_line.startswith("django.core.exceptions.ImproperlyConfigured")
        and all(w in last_line for w in words)
    )


def test_embedded_defaults_are_sqlite_in_process_tasks_and_console_email():
    result = start(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "django.db.backends.sqlite3",
        "True",
        "django.core.mail.backends.console.EmailBackend",
    ]


def test_debug_is_off_unless_asked():
    result = start(SECRET_KEY="a-real-secret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "False"


def test_production_keeps_compiled_templates_in_memory():
    code = (
        "import django; django.setup(); from django.template import engines; "
        "print(*(type(loader).__module__ for loader in engines['django'].engine.template_loaders))"
    )
    result = start(code, SECRET_KEY="a-real-secret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.template.loaders.cached"]


def test_debug_off_without_a_secret_key_refuses_to_start():
    assert refused(start(), "SECRET_KEY")
    assert refused(start(DEBUG="false", SECRET_KEY=""), "SECRET_KEY")


@pytest.mark.parametrize("value", ["maybe", "ture", "2x"])
def test_an_unparsable_debug_refuses_to_start(value):
    assert refused(start(DEBUG=value, SECRET_KEY="x"), "DEBUG", value)


@pytest.mark.parametrize("url", ["nonsense", "://", "127.0.0.1:5432/exitdesk"])
def test_a_nonsense_database_url_refuses_to_start(url):
    assert refused(start(DATABASE_URL=url, SECRET_KEY="x"), "DATABASE_URL")


def test_postgres_and_a_broker_come_from_the_environment():
    result = start(
        SECRET_KEY="x",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/exitdesk",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/15",
        EMAIL_URL="smtp://mail.example.test:587",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "django.db.backends.postgresql",
        "False",
        "django.core.mail.backends.smtp.EmailBackend",
    ]


def test_a_bad_email_url_refuses_to_start():
    assert refused(start(SECRET_KEY="x", EMAIL_URL="nonsense://"), "email")


def test_a_bad_number_refuses_to_start():
    assert refused(start(SECRET_KEY="x", CONN_MAX_AGE="forever"), "CONN_MAX_AGE")
    assert refused(start(SECRET_KEY="x", TRUSTED_PROXY_COUNT="-1"), "TRUSTED_PROXY_COUNT")


def test_a_connection_pool_comes_from_the_environment():
    shown = "import django; django.setup(); from django.conf import settings as s; print(s.DATABASES['default'])"
    result = start(
        shown, SECRET_KEY="x", DATABASE_URL="postgres://postgres@127.0.0.1:5432/exitdesk", DATABASE_POOL_SIZE="4"
    )
    assert result.returncode == 0, result.stderr
    assert "'pool': {'min_size': 1, 'max_size': 4}" in result.stdout


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"DATABASE_POOL_SIZE": "4"}, ("DATABASE_POOL_SIZE", "PostgreSQL")),
        (
            {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "DATABASE_POOL_SIZE": "4", "CONN_MAX_AGE": "60"},
            ("DATABASE_POOL_SIZE", "CONN_MAX_AGE"),
        ),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "DATABASE_POOL_SIZE": "-1"}, ("positive",)),
    ],
)
def test_a_pool_without_postgres_or_beside_persistent_connections_refuses_to_start(environ, words):
    assert refused(start(SECRET_KEY="x", **environ), *words)


def test_django_fsm_imports_without_warnings():
    # django-fsm-2 provides `django_fsm`; the unmaintained django-fsm 3.x warns on import.
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import django_fsm"], cwd=BASE_DIR, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_health_networks_must_be_networks():
    # issue 27: /readyz's allow-list is read at start-up; a typo stops it rather than opening or closing the probe
    result = start(DEBUG="true", HEALTH_ALLOWED_NETWORKS="10.0.0.0/8,intranet")
    assert refused(result, "HEALTH_ALLOWED_NETWORKS")


def test_beat_is_stale_only_after_more_than_a_minute():
    # issue 27: beat's heartbeat comes every minute; a shorter limit would call a healthy beat stale
    assert refused(start(DEBUG="true", BEAT_STALE_SECONDS="60"), "BEAT_STALE_SECONDS")
    assert start(DEBUG="true", BEAT_STALE_SECONDS="61").returncode == 0
