"""Fixtures of the purge tests: an account full of data, its cancellation, and a real Celery worker."""

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connections
from django.utils import timezone

from accounts import services as provisioning
from accounts.models import Account
from billing.models import CreditEntry, Invoice, Policy
from tests.factories import (
    AttachmentFactory,
    CommentFactory,
    InvoiceFactory,
    PhoneNumberFactory,
    TicketFactory,
    TransitionLogFactory,
)
from tickets.models import Kind, Ticket
from tickets.services import Request, submit_ticket

# What `stock` puts on an account, by the tombstone's kinds (memberships and users come from the cast).
STOCK = {"numbers": 3, "licenses": 1, "addons": 2, "invoices": 4, "card": 1, "comments": 2, "attachments": 1}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll the database (or anything) until `condition()` holds; a worker runs in another thread or process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


@pytest.fixture
def stock():
    """Fill an account of the cast with data of every kind the purge deletes or redacts."""

    def fill(desk: SimpleNamespace, *, extra_invoices: int = 0) -> SimpleNamespace:
        account = desk.account
        numbers = [PhoneNumberFactory(account=account) for _ in range(STOCK["numbers"])]
        provisioning_license = provisioning.add_license(account=account, product="agent_seat", quantity=5)
        provisioning.add_addon(account=account, product="call_insights")
        provisioning.add_addon(account=account, product="inbound_recording", number=numbers[0])
        for _ in range(STOCK["invoices"]):
            InvoiceFactory(account=account, status=Invoice.Status.PAID)
        if extra_invoices:
            Invoice.objects.bulk_create(
                Invoice(account=account, amount=Decimal("1.00"), due_date=dt.date(2026, 1, 1), status="paid")
                for _ in range(extra_invoices)
            )
        CreditEntry.objects.create(account=account, amount=Decimal("25.00"), reason=CreditEntry.Reason.TOP_UP)
        provisioning.set_card(account=account, brand="Visa", last4="4242")
        port_out = TicketFactory(
            account=account,
            kind=Kind.PORT_OUT,
            requester=desk.billing_admin,
            full_name="Bea Biller",
            company="Acme Widgets",
            contact="bea@acme.test",
            authorized_name="Bea Biller",
            gaining_carrier="Telnyx",
            comment="Moving our main line",
            state="rejected",
            rejection_reason="Customer asked to stop",
        )
        TransitionLogFactory(ticket=port_out, actor=desk.billing_admin, actor_label=desk.billing_admin.email)
        TransitionLogFactory(
            ticket=port_out,
            transition="reject",
            source="submitted",
            target="rejected",
            actor=desk.agent,
            actor_label=desk.agent.email,
            channel="admin",
            note="Customer asked to stop; spoke to Bea Biller on 555-0100",
        )
        TransitionLogFactory(
            ticket=port_out,
            transition="verify",
            source="submitted",
            target="verified",
            actor=None,
            channel="system",
            note="Verified by the system.",
        )
        CommentFactory(ticket=port_out, author=desk.billing_admin, body="Our CFO is Bea Biller, call 555-0100")
        CommentFactory(ticket=port_out, author=desk.agent, body="Called back")
        attachment = AttachmentFactory(ticket=port_out, uploaded_by=desk.billing_admin)
        return SimpleNamespace(port_out=port_out, attachment_path=attachment.file.path, license=provisioning_license)

    return fill


def cancel(desk: SimpleNamespace) -> Ticket:
    """The owner cancels through the self-service flow of the preset (kustomer, smrtphone): it completes at once."""
    policy = desk.policy
    ticket = submit_ticket(
        account=desk.account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=desk.owner,
        request=Request(
            full_name="Olive Owner",
            company="Acme Widgets",
            contact="olive@acme.test",
            reason="too_expensive",
            comment="Our budget was cut; Olive Owner, +1 202 555 0100",
            acknowledgements=list(policy.acknowledgements),
            confirmation=policy.confirmation_word or None,
        ),
    )
    ticket.refresh_from_db()
    assert ticket.state == "completed", ticket.state
    return ticket


def account_state(account: Account) -> str:
    return Account.objects.values_list("status", flat=True).get(pk=account.pk)


def footprint(account: Account) -> dict[str, int]:
    """How many rows of each kind an account holds (to prove that another account was not touched)."""
    return {
        "memberships": account.memberships.count(),
        "numbers": account.numbers.count(),
        "licenses": account.licenses.count(),
        "addons": account.addons.count(),
        "invoices": account.invoices.count(),
        "credit_entries": account.credit_entries.count(),
        "tickets": account.tickets.count(),
        "tickets_redacted": account.tickets.filter(redacted_at__isnull=False).count(),
    }


@pytest.fixture
def now():
    return timezone.now()


# -- a real worker (PostgreSQL + Redis in CI) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker):
    """A Celery worker thread on the real broker, consuming the default queue (tests: transaction=True).

    Stopped after the module: under pytest-xdist the worker tests run first (tests/conftest.py), and a worker left
    running would take the tasks that later tests on the same xdist worker leave queued, which no worker ran before.
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
        # The worker thread's connections must not outlive the session (the test database is dropped then). A task run
        # in-process (tasks_in_process) ran on the test's own connection, inside its transaction: that one stays open,
        # for the worker may start before the suite's other tests (pytest-xdist runs the worker tests first).
        if task is not None and task.request.is_eager:
            return
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(app, pool="solo", concurrency=1, shutdown_timeout=10, perform_ping_check=False) as worker:
            yield worker
    finally:
        task_postrun.disconnect(close_connections)


@pytest.fixture
def eager_tasks(tasks_in_process):
    """Run tasks in-process even where a broker is configured (the tests that do not start a worker)."""


@pytest.fixture(autouse=True)
def _worker_idle_at_teardown(request):
    """Wait until the worker thread has nothing left (emails queued on commit...) before the tables are flushed:
    a task still running would deadlock with the flush's TRUNCATE."""
    yield
    if "celery_worker" not in request.fixturenames:
        return
    from celery.worker import state

    from config.celery import app

    def idle() -> bool:
        with app.connection_for_write() as connection:
            waiting = connection.default_channel.client.llen(app.conf.task_default_queue)
        return not waiting and not state.active_requests and not state.reserved_requests

    wait_for(lambda: idle() and (time.sleep(0.3) or idle()), what="the worker to finish its tasks")


def late_reactivation(desk: SimpleNamespace, account: Account) -> Ticket:
    """An approved reactivation asked after the retention date, as a policy open until the purge begins allows:
    it does not hold the purge (U7 holds only a request asked inside the window), so the two race for the row."""
    Policy.objects.filter(pk=desk.policy.pk).update(reactivation=Policy.Reactivation.BEFORE_PURGE)
    return TicketFactory(
        account=account,
        kind=Kind.REACTIVATION,
        requester=desk.owner,
        state="approved",
        created_at=account.purge_after + dt.timedelta(seconds=1),
    )
