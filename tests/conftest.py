"""Shared fixtures: the fixed cast of STYLE.md on any preset, fast password hashing, and CI's skip rule."""

import importlib
import itertools
import os
from types import SimpleNamespace

import pytest
from django.db import connections

from accounts import services
from accounts.models import Membership
from tests.factories import PASSWORD, PIN, ManagerFactory, StaffFactory, preset_plan

_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # PBKDF2 at Django's default work factor costs ~0.3 s a hash here; tests do not need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_configure(config) -> None:
    # WhiteNoise warns once per client that STATIC_ROOT does not exist; tests never run collectstatic.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


@pytest.fixture(autouse=True)
def _plain_static_files(settings) -> None:
    # The manifest storage needs `collectstatic` first; pages under test only need the URLs.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _data_migration_rows(request) -> None:
    """Put the presets and staff groups back before a transactional test.

    A transactional test ends by flushing every table, data migrations' rows included, and pytest-django runs
    those tests last: without this, every one after the first would find no plans and no staff groups.
    Both loaders are idempotent.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if not (transactional or {"transactional_db", "live_server"} & set(request.fixturenames)):
        return
    request.getfixturevalue("transactional_db")
    reload_data_migrations()


# The data migrations whose rows a flush removes, with their idempotent loaders, in migration order.
DATA_MIGRATIONS = [
    ("billing.migrations.0002_presets", "load_presets"),
    ("billing.migrations.0010_verification_fallback", "name_the_fallbacks"),
    ("billing.migrations.0006_policy_portal_fields", "load_portal_fields"),
    ("billing.migrations.0007_completion_and_calendar", "update_presets"),
    ("billing.migrations.0008_addon_tier", "addon_change_roles"),
    ("billing.migrations.0011_seed_statements_policy_fields", "set_seed_statements"),
    ("billing.migrations.0012_seat_product_and_addon_tiers", "load_seats_and_tiers"),
    ("accounts.migrations.0003_staff_groups", "create_groups"),
    ("accounts.migrations.0006_access_permissions", "grant"),
    ("tickets.inbound.migrations.0002_staff_permissions", "grant"),
    ("tickets.webhooks.migrations.0002_manage_webhooks_permission", "grant"),
]


def reload_data_migrations() -> None:
    """Put back every row the data migrations wrote (presets, their later fields, staff groups, permissions)."""
    from django.apps import apps

    for module, loader in DATA_MIGRATIONS:
        getattr(importlib.import_module(module), loader)(apps, None)


@pytest.fixture
def cast(db):
    """`cast("smrtphone")` builds an account on that preset's lowest plan (or `plan=`), and the fixed cast.

    The namespace holds: account, other_account, plan, policy; owner, super_admin, billing_admin, member
    (users of `account`), outsider (a member of `other_account`), agent, manager (staff). Every user's
    password is tests.factories.PASSWORD and the account's port-out PIN is tests.factories.PIN.
    Calling it twice gives two separate accounts with their own people (the staff are new each time too).
    """

    def build(preset: str = "avoxi", *, plan=None) -> SimpleNamespace:
        n = next(_serial)
        plan = plan or preset_plan(preset)
        account = services.create_account(name=f"{preset} customer {n}", plan=plan, port_out_pin=PIN)
        other_account = services.create_account(name=f"{preset} other customer {n}", plan=plan, port_out_pin=PIN)
        people = {}
        for role in Membership.Role.values:
            people[role] = services.add_member(
                account=account,
                email=f"{role.replace('_', '-')}{n}@{preset.replace('_', '-')}.test",
                full_name=f"{role.replace('_', ' ').title()} {n}",
                role=role,
                password=PASSWORD,
            ).user
        services.add_member(
            account=other_account,
            email=f"owner-other{n}@{preset.replace('_', '-')}.test",
            full_name="Other Owner",
            role="owner",
        )
        outsider = services.add_member(
            account=other_account,
            email=f"outsider{n}@{preset.replace('_', '-')}.test",
            full_name=f"Outsider {n}",
            role=Membership.Role.SUPER_ADMIN,
            password=PASSWORD,
        ).user
        return SimpleNamespace(
            account=account,
            other_account=other_account,
            plan=plan,
            policy=plan.policy,
            outsider=outsider,
            agent=StaffFactory(email=f"agent{n}@exitdesk.test", full_name=f"Agent {n}"),
            manager=ManagerFactory(email=f"manager{n}@exitdesk.test", full_name=f"Manager {n}"),
            **people,
        )

    return build


# -- CI: a skipped test is a failure -------------------------------------------------------------------------
def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _skipped_reports(config) -> list:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return list(reporter.stats.get("skipped", [])) if reporter else []


def pytest_sessionfinish(session, exitstatus) -> None:
    if _ci() and exitstatus == pytest.ExitCode.OK and _skipped_reports(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    skipped = _skipped_reports(config)
    if _ci() and skipped:
        terminalreporter.section("CI=true: skipped tests count as failures", sep="=", red=True, bold=True)
        for report in skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            terminalreporter.line(f"SKIPPED {report.nodeid}: {reason}", red=True)


# -- tests that need a real service run where it is, and are deselected (not skipped) elsewhere -----------------
def pytest_collection_modifyitems(config, items) -> None:
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    has_broker = bool(settings.CELERY_BROKER_URL)
    keep, drop = [], []
    for item in items:
        needs_postgres = item.get_closest_marker("postgres") is not None
        needs_worker = item.get_closest_marker("worker") is not None
        (drop if (needs_postgres and not on_postgres) or (needs_worker and not has_broker) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory) -> None:
    """On SQLite with a broker (where the worker tests run): the test database in a file rather than in memory. A
    worker thread's connection to a shared in-memory database fails at once with "database table is locked"; to a
    file it waits for the write lock (WAL, busy timeout) as the embedded default's processes do."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and settings.CELERY_BROKER_URL:
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A Celery worker thread on the real broker, consuming the default queue (tests: transaction=True). One for the
    session, shared by every directory that uses it (tests/purge, tests/webhooks)."""
    import celery.contrib.testing.tasks  # noqa: F401 - registers celery.ping
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from config.celery import app

    assert not app.conf.task_always_eager, "worker tests need CELERY_BROKER_URL"
    with app.connection_for_write() as connection:
        # Tasks left on the test broker by earlier runs would act on this run's reused ids.
        connection.default_channel.queue_purge(app.conf.task_default_queue)

    def close_connections(**kwargs) -> None:
        # The worker thread's connections must not outlive the session (the test database is dropped then).
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    # Celery's Django fixup checks the database connections as the worker starts and stops, outside any test: let it
    # then (on SQLite it connects), and only then; during the tests the worker thread has the test's own access.
    running = start_worker(app, pool="solo", concurrency=1, shutdown_timeout=10, perform_ping_check=False)
    with django_db_blocker.unblock():
        worker = running.__enter__()
    try:
        yield worker
    finally:
        with django_db_blocker.unblock():
            running.__exit__(None, None, None)
        task_postrun.disconnect(close_connections)


@pytest.fixture
def tasks_in_process():
    """Run Celery tasks in-process for one test, even where CI configures a broker (no worker needed)."""
    from config.celery import app

    # The app reads Django's CELERY_-prefixed settings: `conf.task_always_eager = True` would be shadowed.
    before = app.conf.task_always_eager
    app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)
    yield
    app.conf.update(CELERY_TASK_ALWAYS_EAGER=before)


@pytest.fixture
def avoxi_port_out(cast):
    """(people, ticket): an AVOXI port-out the billing admin submitted, as a case to page through."""
    from tickets import services as workflow

    people = cast("avoxi")
    number = services.add_number(account=people.account, number="+12025550177")
    ticket = workflow.submit_ticket(
        account=people.account,
        kind="port_out",
        requester=people.billing_admin,
        request=workflow.Request(
            numbers=[number], gaining_carrier="Telnyx", authorized_name=people.billing_admin.full_name, pin="1234"
        ),
    )
    return people, ticket
