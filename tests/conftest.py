"""Shared fixtures: the fixed cast of STYLE.md on any preset, fast password hashing, and CI's skip rule."""

import importlib
import itertools
import os
from types import SimpleNamespace

import pytest
from django.db import connections
from pytest_django.plugin import blocking_manager_key

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
    _own_celery_queue()


# -- two processes (pytest-xdist, `make test`): each worker its own database, Celery queue and process tests -----------
# The Celery broker is shared: the tests that start Celery workers on it run one after another, on one xdist worker.
CELERY_WORKERS_GROUP = "celery-workers"


def xdist_worker() -> str:
    """This process's pytest-xdist worker id ("gw0", "gw1"), or "" when the suite runs in one process."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def _own_celery_queue() -> None:
    """Give this xdist worker a Celery queue of its own on the shared broker.

    pytest-django gives each worker its own test database (test_..._gw0, _gw1). A task queued by one worker's tests
    names rows of that worker's database: were it on the common queue, the other worker's Celery worker thread
    (tests/purge/conftest.py) could take it and act on the same ids in the wrong database.
    """
    if not xdist_worker():
        return
    from django.conf import settings

    from config.celery import app

    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-{xdist_worker()}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    # The app reads Django's CELERY_-prefixed settings; nothing has been sent yet, so no queue was declared.
    app.conf.update(CELERY_TASK_DEFAULT_QUEUE=queue)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Tests that run Celery workers on the broker share one xdist group (`--dist loadgroup`).

    A Celery worker answers every ping on its broker database, whoever sent it: /readyz's workers check
    (tests/ops/test_probes_processes.py) would hear the other xdist worker's Celery workers, which consume
    another queue, and fail. Marked `worker` (a worker on the real broker) or `celery_workers` (a test that starts
    one on whatever broker the suite has, or pings them), they run one after another, in the suite's order, on one
    xdist worker.
    """
    if item.get_closest_marker("worker") or item.get_closest_marker("celery_workers"):
        item.add_marker(pytest.mark.xdist_group(CELERY_WORKERS_GROUP))


@pytest.fixture(autouse=True)
def _plain_static_files(settings) -> None:
    # The manifest storage needs `collectstatic` first; pages under test only need the URLs.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _flushes(item: pytest.Item) -> bool:
    """A transactional test (marker, transactional_db or live_server) ends by flushing every table."""
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    return transactional or bool({"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """Put the presets and staff groups back as soon as a transactional test has flushed them.

    A transactional test ends by flushing every table, data migrations' rows included. pytest-django runs those
    tests after the others, but under pytest-xdist a worker may be handed a group of transactional tests
    (`--dist loadgroup`) before its other tests: the rows go back right after the flush, so whatever test comes
    next, on either worker, finds the database as `migrate` left it. Both loaders are idempotent.
    """
    result = yield
    # No next test: the session's teardown has just dropped the test database, and nothing needs the rows.
    if nextitem is not None and _flushes(item) and blocking_manager_key in item.config.stash:
        with item.config.stash[blocking_manager_key].unblock():
            reload_data_migrations()
    return result


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
    """A Celery worker thread on the real broker, consuming this xdist worker's queue (tests: transaction=True), one
    for the session, shared by every module that asks for it (tests/purge, tests/webhooks).

    One start only: Celery's worker state is process-wide, and a second worker thread started in the same process
    after the first stopped consumed nothing (the webhooks' worker tests timed out after the purge's on PostgreSQL).
    """
    import celery.contrib.testing.tasks  # noqa: F401 - registers celery.ping
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from config.celery import app

    assert not app.conf.task_always_eager, "worker tests need CELERY_BROKER_URL"
    with app.connection_for_write() as connection:
        # Tasks left on the test broker by earlier runs would act on this run's reused ids.
        connection.default_channel.queue_purge(app.conf.task_default_queue)

    def close_connections(task=None, **kwargs) -> None:
        # The worker thread's connections must not outlive the session (the test database is dropped then). A
        # task run in-process (tasks_in_process) ran on the test's own connection, inside its transaction: that one
        # stays open, for the worker may start before the suite's other tests (xdist runs the worker tests first).
        if task is not None and task.request.is_eager:
            return
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
