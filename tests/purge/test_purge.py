"""The purge in-process (SQLite and PostgreSQL): when it runs, what it deletes, what it keeps, what stops it."""

import datetime as dt
import io
import os

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from accounts import services as provisioning
from accounts.exceptions import Refusal
from accounts.models import Account, Membership, Tombstone, User
from billing.models import CardOnFile, CreditEntry, Invoice, Subscription
from numbers.models import PhoneNumber
from tests.factories import TicketFactory
from tests.purge.conftest import account_state, cancel, footprint, late_reactivation
from tickets import purge
from tickets.models import Attachment, Comment, EmailNotice, Kind, Ticket, TransitionLog
from tickets.services import Request, submit_ticket, transition_ticket

pytestmark = pytest.mark.django_db

# What a kustomer account filled by `stock` and cancelled by its owner leaves to purge.
EXPECTED_COUNTS = {
    "users": 4,
    "memberships": 4,
    "numbers": 3,
    "licenses": 1,
    "addons": 2,
    "invoices": 4,
    "credit_entries": 1,  # the top-up, kept on the ledger until the purge (U7)
    "card": 1,
    "subscription": 1,
    "comments": 2,
    "attachments": 1,
    "tickets_redacted": 2,  # the port-out and the cancellation
    "exit_comments": 2,
    "log_entries_redacted": 5,  # the billing admin's submission, the owner's four self-service steps
}


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_expired", "--no-progress", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def cancelled(cast, stock):
    """A kustomer account (60 days' retention, U6) full of data, cancelled by its owner; and a bystander."""
    desk = cast("kustomer")
    stocked = stock(desk)
    bystander = cast("kustomer")
    stock(bystander)
    desk.cancellation = cancel(desk)
    desk.account.refresh_from_db()
    desk.stocked = stocked
    desk.bystander = bystander
    desk.bystander_before = footprint(bystander.account)
    desk.other_before = footprint(desk.other_account)
    return desk


def test_data_stays_for_the_retention_period(cancelled):
    # rule U6, rule U7: within the 60 days nothing is deleted
    account = cancelled.account
    assert account.purge_after == account.cancelled_at + dt.timedelta(days=60)
    with time_machine.travel(account.purge_after - dt.timedelta(minutes=1)):
        assert "no account is due" in run_command("--dry-run")
        assert "No account is due" in run_command()
        assert purge.purge_account(account.pk).outcome == "not_due"
    assert account_state(account) == "cancelled"
    assert footprint(account)["numbers"] == 3
    assert not Tombstone.objects.filter(account=account).exists()


def test_purge_after_the_retention_period_deletes_the_data_and_leaves_a_tombstone(cancelled):
    # rule U6: the data is deleted 60 days after cancellation; rule K8: users and numbers erased
    account = cancelled.account
    code, port_out = account.account_id, cancelled.stocked.port_out
    assert os.path.exists(cancelled.stocked.attachment_path)
    with time_machine.travel(account.purge_after + dt.timedelta(minutes=1)):
        output = run_command()
    assert f"{code}: purged." in output

    account.refresh_from_db()
    assert account.status == Account.Status.PURGED and account.purged_at is not None
    assert account.name == code and account.port_out_pin == ""
    tombstone = Tombstone.objects.get(account=account)
    assert tombstone.counts == EXPECTED_COUNTS
    assert (tombstone.account_code, tombstone.plan_name) == (code, "Essentials")
    assert tombstone.cancelled_at == account.cancelled_at and tombstone.finished_at is not None

    assert not Membership.objects.filter(account=account).exists()
    assert not User.objects.filter(email=cancelled.owner.email).exists()
    assert User.objects.filter(pk=cancelled.agent.pk).exists()  # staff are never deleted
    for model in (PhoneNumber, Invoice, CreditEntry, CardOnFile, Subscription):
        assert not model.objects.filter(account=account).exists(), model
    assert not Comment.objects.filter(ticket__account=account).exists()
    assert not Attachment.objects.filter(ticket__account=account).exists()
    assert not os.path.exists(cancelled.stocked.attachment_path)

    # The tickets and their logs stay, with nothing that names or reaches the customer.
    port_out.refresh_from_db()
    assert port_out.redacted_at is not None and port_out.requester is None
    assert [port_out.full_name, port_out.company, port_out.contact, port_out.comment] == ["", "", "", ""]
    assert [port_out.authorized_name, port_out.gaining_carrier] == ["", ""]
    assert port_out.rejection_reason == "(redacted)"  # free text: it may name the customer
    notes = dict(TransitionLog.objects.filter(ticket=port_out).values_list("actor_label", "note"))
    assert (
        notes[cancelled.agent.email] == "(redacted)" and notes["system"] == "Verified by the system."
    )  # the system's own words stay
    labels = list(TransitionLog.objects.filter(ticket__account=account).values_list("actor_label", flat=True))
    expected = ["billing_admin (redacted)", cancelled.agent.email, "system"] + ["owner (redacted)"] * 4
    assert sorted(labels) == sorted(expected), labels
    assert not any("@" in label for label in labels if label != cancelled.agent.email)
    assert Ticket.objects.get(pk=cancelled.cancellation.pk).reason == "too_expensive"  # churn reason kept

    # Nothing of another account was touched.
    assert footprint(cancelled.bystander.account) == cancelled.bystander_before
    assert footprint(cancelled.other_account) == cancelled.other_before


def test_a_user_of_another_account_keeps_the_user_and_loses_only_this_membership(cancelled):
    shared = cancelled.member
    provisioning.add_member(
        account=cancelled.bystander.account, email=shared.email, full_name=shared.full_name, role="member"
    )
    with time_machine.travel(cancelled.account.purge_after + dt.timedelta(minutes=1)):
        result = purge.purge_account(cancelled.account.pk)
    assert result.outcome == "purged"
    assert result.counts["users"] == 3 and result.counts["memberships"] == 4
    assert User.objects.filter(pk=shared.pk).exists()
    assert list(Membership.objects.filter(user=shared).values_list("account_id", flat=True)) == [
        cancelled.bystander.account.pk
    ]


def test_dry_run_lists_what_it_would_delete_per_account_and_changes_nothing(cancelled, cast):
    held = cast("kustomer")
    cancel(held)
    Account.objects.filter(pk=held.account.pk).update(legal_hold=True, legal_hold_reason="Subpoena 24-117")
    before = footprint(cancelled.account)
    with time_machine.travel(cancelled.account.purge_after + dt.timedelta(minutes=5)):
        output = run_command("--dry-run")
    print(output)
    assert "Dry run: 2 account(s)" in output
    assert cancelled.account.account_id in output and held.account.account_id in output
    block = output.split(cancelled.account.account_id)[1].split(held.account.account_id)[0]
    for text in ("users 4", "memberships 4", "numbers 3", "invoices 4", "card 1", "attachments 1", "tickets 2"):
        assert text in block.replace("tickets redacted", "tickets"), text
    assert "BLOCKED — legal hold: Subpoena 24-117" in output
    assert footprint(cancelled.account) == before
    assert account_state(cancelled.account) == account_state(held.account) == "cancelled"
    assert not Tombstone.objects.exists()


def test_legal_hold_blocks_the_purge_until_released(cancelled):
    # rule U6 gives way to a legal hold set by a manager with a reason
    account = cancelled.account
    Account.objects.filter(pk=account.pk).update(legal_hold=True, legal_hold_reason="Litigation: Acme v. Widget")
    with time_machine.travel(account.purge_after + dt.timedelta(days=1)):
        assert purge.purgeable_account_ids() == []
        result = purge.purge_account(account.pk)
        assert (result.outcome, result.detail) == ("legal_hold", "Legal hold: Litigation: Acme v. Widget")
        assert account_state(account) == "cancelled" and footprint(account)["numbers"] == 3
        Account.objects.filter(pk=account.pk).update(legal_hold=False, legal_hold_reason="")
        assert purge.purge_account(account.pk).outcome == "purged"


def test_two_runs_never_purge_the_same_account(cancelled):
    at = cancelled.account.purge_after + dt.timedelta(minutes=1)
    first = purge.claim(cancelled.account.pk, at)
    assert first and purge.claim(cancelled.account.pk, at) is None
    assert purge.purge_account(cancelled.account.pk, now=at).outcome == "claimed_elsewhere"
    assert not Tombstone.objects.exists()


def test_a_reactivation_that_lands_first_wins(cancelled):
    # rule U7: restarted within the 60 days, the account is not purged at the old date
    account = cancelled.account
    reactivation = TicketFactory(account=account, kind=Kind.REACTIVATION, requester=cancelled.owner, state="approved")
    with time_machine.travel(account.purge_after - dt.timedelta(hours=1)):
        transition_ticket(ticket=reactivation, name="complete", actor=cancelled.agent)
    with time_machine.travel(account.purge_after + dt.timedelta(days=1)):
        assert purge.purge_account(account.pk).outcome == "not_due"
        run_command()
    assert account_state(account) == "active"
    assert footprint(account)["numbers"] == 3 and not Tombstone.objects.exists()


def test_a_reactivation_after_the_claim_is_refused_and_the_purge_finishes(cancelled):
    # rule U7: after the purge has begun, only a new account
    account = cancelled.account
    reactivation = late_reactivation(cancelled, account)
    at = account.purge_after + dt.timedelta(seconds=1)
    with time_machine.travel(at):
        assert purge.claim(account.pk, at)
        with pytest.raises(Refusal) as refused:
            transition_ticket(ticket=reactivation, name="complete", actor=cancelled.agent)
        assert refused.value.code == "reactivation_closed"
    # The claimant died without progress; the next run past the claim's timeout takes over and finishes.
    with time_machine.travel(at + dt.timedelta(minutes=11)):
        assert purge.purge_account(account.pk).outcome == "purged"


def test_a_purge_interrupted_mid_way_is_finished_by_the_next_run_with_true_counts(cancelled, settings):
    settings.PURGE_BATCH_SIZE = 1
    account = cancelled.account
    done = []

    def crash_after_seven_batches(kind: str, n: int) -> None:
        done.append(n)
        if len(done) == 7:
            raise SystemExit("worker killed")

    at = account.purge_after + dt.timedelta(minutes=1)
    with time_machine.travel(at), pytest.raises(SystemExit):
        purge.purge_account(account.pk, progress=crash_after_seven_batches)
    assert account_state(account) == "purging"
    partial = Tombstone.objects.get(account=account).counts
    assert 0 < sum(partial.values()) < sum(EXPECTED_COUNTS.values())
    with time_machine.travel(at + dt.timedelta(minutes=1)):
        assert purge.purge_account(account.pk).outcome == "claimed_elsewhere"  # the claim is still fresh
        assert "being purged by another worker" in run_command("--dry-run")
    with time_machine.travel(at + dt.timedelta(minutes=15)):
        assert "(purge interrupted, will resume)" in run_command("--dry-run")
        assert f"{account.account_id}: purged." in run_command()
    assert Tombstone.objects.get(account=account).counts == EXPECTED_COUNTS
    assert footprint(cancelled.bystander.account) == cancelled.bystander_before


def test_a_legal_hold_set_during_the_purge_stops_it_before_the_next_batch(cancelled, settings):
    settings.PURGE_BATCH_SIZE = 1
    account = cancelled.account

    def hold_after_first_batch(kind: str, n: int) -> None:
        Account.objects.filter(pk=account.pk).update(legal_hold=True, legal_hold_reason="Regulator's request")

    with time_machine.travel(account.purge_after + dt.timedelta(minutes=1)):
        result = purge.purge_account(account.pk, progress=hold_after_first_batch)
        assert result.outcome == "legal_hold"
        assert sum(Tombstone.objects.get(account=account).counts.values()) < sum(EXPECTED_COUNTS.values())
        assert footprint(account)["numbers"] == 3
        # Released: the next run resumes at once (the stopped purge gave its claim up).
        Account.objects.filter(pk=account.pk).update(legal_hold=False, legal_hold_reason="")
        assert purge.purge_account(account.pk).outcome == "purged"
    assert Tombstone.objects.get(account=account).counts == EXPECTED_COUNTS


def test_retention_zero_purges_when_the_cancellation_completes(
    cast, stock, eager_tasks, django_capture_on_commit_callbacks
):
    # rule S6: all data permanently deleted on cancellation; rule S8: numbers removed
    desk = cast("smrtphone")
    assert desk.policy.retention_days == 0
    stock(desk)
    with django_capture_on_commit_callbacks(execute=True):
        cancel(desk)
    desk.account.refresh_from_db()
    assert desk.account.status == Account.Status.PURGED
    assert not PhoneNumber.objects.filter(account=desk.account).exists()
    assert Tombstone.objects.get(account=desk.account).counts["numbers"] == 3
    assert footprint(desk.other_account)["memberships"] == 2


def test_the_purge_reaches_nothing_outside_the_desk(cancelled, monkeypatch):
    # rule S9: data the customer holds elsewhere (their CRM) is never touched: the purge opens no connection
    import socket

    attempts = []

    def no_network(self, address):
        attempts.append(address)
        raise OSError("this test allows no outside connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    account = cancelled.account
    with time_machine.travel(account.purge_after + dt.timedelta(minutes=1)):
        assert f"{account.account_id}: purged." in run_command()
    assert attempts == []
    assert account_state(account) == "purged"


def test_the_purge_deletes_the_emails_the_account_sent_and_keeps_another_accounts(cancelled):
    # rule U6: the data is deleted after retention, emails in included (the raw message names the customer)
    from tickets.inbound.models import InboundMessage

    def message(n: int, sender, **links) -> InboundMessage:
        return InboundMessage.objects.create(
            message_id=f"<purge-{n}@mail.test>",
            source=InboundMessage.Source.WEBHOOK,
            raw=b"From: someone\r\n\r\nPlease cancel.",
            from_email=sender.email,
            text="Please cancel.",
            received_at=cancelled.account.cancelled_at,
            status=InboundMessage.Status.COMMENT if "ticket" in links else InboundMessage.Status.TRIAGE,
            member=sender,
            **links,
        )

    reply = message(1, cancelled.owner, ticket=cancelled.stocked.port_out)
    waiting = message(2, cancelled.owner)
    kept = message(3, cancelled.bystander.owner)
    with time_machine.travel(cancelled.account.purge_after + dt.timedelta(minutes=1)):
        run_command()
    remaining = set(InboundMessage.objects.values_list("pk", flat=True))
    assert reply.pk not in remaining and waiting.pk not in remaining
    assert kept.pk in remaining
    assert Tombstone.objects.get(account=cancelled.account).counts["inbound_messages"] == 2


# -- U10, S6: the confirmation goes out even though the purge follows at once -----------------------------------


def test_smrtphone_owner_is_confirmed_on_completion_with_the_purge_at_once(
    cast, stock, eager_tasks, django_capture_on_commit_callbacks
):
    # rule U10, S6: the confirmation email reaches the owner; the data is deleted at once all the same
    desk = cast("smrtphone")
    stock(desk)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        cancel(desk)
    assert account_state(desk.account) == "purged"
    assert not User.objects.filter(email=desk.owner.email).exists()
    # One copy per recipient (each with its own reply address, issue 24): the owner's.
    confirmation = [
        m for m in mail.outbox if "Your account has been cancelled" in m.subject and m.to == [desk.owner.email]
    ]
    assert len(confirmation) == 1
    assert "The account's data is being permanently deleted now." in confirmation[0].body


def test_the_confirmation_rendered_at_completion_survives_a_purge_that_runs_first(
    cast, stock, eager_tasks, django_capture_on_commit_callbacks
):
    # rule U10, S6: SPEC §4 orders it: rendered and queued before the data it names is erased, whatever runs first
    desk = cast("smrtphone")
    stock(desk)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        ticket = cancel(desk)
    assert purge.purge_account(desk.account.pk).outcome == "purged"  # a worker took the purge first
    assert not User.objects.filter(email=desk.owner.email).exists()
    for callback in queued:
        callback()
    # One copy per recipient (each with its own reply address, issue 24): the owner's.
    confirmation = [
        m for m in mail.outbox if "Your account has been cancelled" in m.subject and m.to == [desk.owner.email]
    ]
    assert len(confirmation) == 1
    assert desk.account.name in confirmation[0].body  # the name as it was, not the purged tombstone's
    notice = EmailNotice.objects.get(key=f"ticket:{ticket.pk}:completed")
    # Once out, nothing of it stays: the purge blanked the recipients it had left for the email to use.
    assert notice.sent_at is not None and (notice.recipients, notice.subject, notice.body) == ([], "", "")


# -- U7: an open reactivation request asked inside the window holds the purge ------------------------------------


def _ask_to_restart(desk, when):
    with time_machine.travel(when):
        return submit_ticket(
            account=desk.account,
            kind=Kind.REACTIVATION,
            requester=desk.owner,
            request=Request(full_name="Olive Owner"),
            channel="email",
            actor=desk.agent,
        )


def test_a_restart_asked_on_day_59_holds_the_purge_and_completes_on_day_61(cancelled):
    # rule U7: the purge skips the account while the request is open; the restart then goes through
    account = cancelled.account
    restart = _ask_to_restart(cancelled, account.purge_after - dt.timedelta(days=1))
    day_61 = account.purge_after + dt.timedelta(days=1)
    with time_machine.travel(day_61):
        assert purge.purgeable_account_ids() == []
        result = purge.purge_account(account.pk)
        assert result.outcome == "reactivation_pending"
        assert "open reactivation request" in run_command("--dry-run")
        for name, actor in (("verify", cancelled.agent), ("approve", cancelled.manager), ("complete", cancelled.agent)):
            transition_ticket(ticket=restart, name=name, actor=actor)
    assert account_state(account) == "active"
    assert footprint(account)["numbers"] == 3 and not Tombstone.objects.filter(account=account).exists()


def test_after_the_restart_is_rejected_the_purge_goes_ahead(cancelled):
    # rule U7: once decided against, the data is deleted as scheduled
    account = cancelled.account
    restart = _ask_to_restart(cancelled, account.purge_after - dt.timedelta(days=1))
    with time_machine.travel(account.purge_after + dt.timedelta(days=1)):
        assert purge.purge_account(account.pk).outcome == "reactivation_pending"
        transition_ticket(ticket=restart, name="reject", actor=cancelled.agent, reason="Asked to stay closed.")
        assert purge.purge_account(account.pk).outcome == "purged"
    assert account_state(account) == "purged"
