"""Purged means gone (issue 23): the purge takes the former members' email, sign-in traces, sessions and tokens
too, and a second purge of a purged account finds nothing and says so (U6, S6). SQLite and PostgreSQL."""

import datetime as dt
import io

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.sessions.models import Session
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from accounts import services as provisioning
from accounts.models import Tombstone
from tests.factories import PASSWORD, CommentFactory
from tests.inbound.conftest import email_bytes
from tests.purge.conftest import cancel
from tickets import purge
from tickets import purge_tasks as tasks
from tickets.inbound import addresses
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive
from tickets.models import Comment

pytestmark = pytest.mark.django_db

Status = InboundMessage.Status
SIGN_IN = "/accounts/login/"


def purge_when_due(account) -> purge.PurgeResult:
    account.refresh_from_db()
    with time_machine.travel(account.purge_after + dt.timedelta(minutes=1)):
        return purge.purge_account(account.pk)


def test_the_former_owners_emails_go_after_the_purge(cast, stock):
    # rule U6, S6: the owner was inactive when they wrote (a known former customer, or no member at all on e83345f);
    # the three emails go all the same
    desk = cast("kustomer")
    port_out = stock(desk).port_out
    shared = desk.member  # also works for another, active, account: keeps what is not threaded here
    provisioning.add_member(account=desk.other_account, email=shared.email, full_name=shared.full_name, role="member")
    cancel(desk)
    owner = desk.owner.email

    details = receive(
        email_bytes(
            sender=f"Olive Owner <{owner}>",
            subject="Our details",
            body="Call me on +1 202 555 0143, or write to 12 Harbour Road, Leith EH6 6QW.\n",
        ),
        source="imap",
    )
    auto_reply = receive(
        email_bytes(sender=owner, subject="Out of office", headers={"Auto-Submitted": "auto-replied"}),
        source="imap",
    )
    forged = receive(
        email_bytes(
            sender=owner,
            to=f"desk+t{port_out.pk}.r{desk.owner.pk}.0123456789abcdef@exitdesk.localhost",
            subject="Re: case",
        ),
        source="imap",
    )
    assert [(m.status, m.member) for m in (details, auto_reply, forged)] == [
        (Status.TRIAGE, desk.owner),  # "Known former customer" in triage
        (Status.IGNORED, None),
        (Status.IGNORED, None),
    ]
    shared_reply = receive(
        email_bytes(
            sender=shared.email,
            to=addresses.reply_address(port_out.pk, shared.pk),
            subject="Re: port-out",
            authenticated=True,
        ),
        source="imap",
    )
    assert shared_reply.ticket_id == port_out.pk
    shared_request = receive(email_bytes(sender=shared.email, subject="New request"), source="imap")
    outsider = receive(email_bytes(sender=desk.outsider.email, subject="Hello"), source="imap")

    result = purge_when_due(desk.account)

    assert result.outcome == "purged"
    assert not InboundMessage.objects.filter(from_email=owner).exists()
    assert not InboundMessage.objects.filter(text__contains="555 0143").exists()  # the phone number and address
    assert not InboundMessage.objects.filter(raw__contains=b"Harbour Road").exists()
    assert set(InboundMessage.objects.values_list("pk", flat=True)) == {shared_request.pk, outsider.pk}
    # The three from the owner and the shared person's reply threaded into the account's case.
    assert Tombstone.objects.get(account=desk.account).counts["inbound_messages"] == 4


def test_the_former_owners_sign_in_traces_sessions_and_tokens_go(cast, client, settings):
    # rule U6, S6: the lockout table, the sessions and the API tokens no longer hold the former owner
    settings.AXES_ENABLED = True
    settings.AXES_ENABLE_ACCESS_FAILURE_LOG = True
    desk = cast("kustomer")
    owner = desk.owner.email
    assert client.post(SIGN_IN, {"username": owner, "password": PASSWORD}).status_code == 302
    owner_session = client.session.session_key
    other = client.__class__()
    assert other.post(SIGN_IN, {"username": desk.outsider.email, "password": PASSWORD}).status_code == 302
    outsider_session = other.session.session_key
    assert other.post(SIGN_IN, {"username": desk.outsider.email, "password": "wrong"}).status_code == 200
    cancel(desk)
    # The former owner mistypes the password after the cancellation: refused, and the address is in the lockout table.
    assert client.__class__().post(SIGN_IN, {"username": owner, "password": "mistyped"}).status_code == 200
    assert AccessAttempt.objects.filter(username=owner).exists()
    assert AccessFailureLog.objects.filter(username=owner).exists()
    assert AccessLog.objects.filter(username=owner).exists()
    Token.objects.create(user=desk.owner)  # e.g. issued in the admin after the cancellation revoked the others

    result = purge_when_due(desk.account)

    assert result.outcome == "purged"
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        assert not model.objects.filter(username=owner).exists(), model
        assert model.objects.filter(username=desk.outsider.email).exists(), model  # another account's person stays
    sessions = set(Session.objects.values_list("session_key", flat=True))
    assert owner_session not in sessions and outsider_session in sessions
    assert not Token.objects.filter(user__email=owner).exists()
    counts = Tombstone.objects.get(account=desk.account).counts
    assert counts["sessions"] == 1 and counts["api_tokens"] == 1
    assert counts["lockout_attempts"] == 1 and counts["lockout_failures"] == 1 and counts["sign_in_logs"] == 1


def test_a_second_purge_of_a_purged_account_finds_nothing_to_delete_and_says_so(cast, stock, tasks_in_process):
    # rule U6, S6: the command and the task say what a second purge found: nothing
    desk = cast("kustomer")
    stock(desk)
    cancel(desk)
    assert purge_when_due(desk.account).outcome == "purged"
    before = dict(Tombstone.objects.get(account=desk.account).counts)
    code = desk.account.account_id

    out = io.StringIO()
    call_command("purge_expired", "--no-progress", "--account", code, stdout=out)
    assert f"{code}: already purged." in out.getvalue()
    assert "Found nothing left to delete." in out.getvalue()
    answer = tasks.purge_account.delay(desk.account.pk).get()
    assert answer.startswith("already_purged: Purged on ") and answer.endswith("Found nothing left to delete.")
    assert Tombstone.objects.get(account=desk.account).counts == before


def test_a_second_purge_deletes_what_it_finds_left_and_says_so(cast, stock):
    # rule U6, S6: a comment left on a purged account's case (written past the services) goes, and is counted
    desk = cast("kustomer")
    port_out = stock(desk).port_out
    cancel(desk)
    assert purge_when_due(desk.account).outcome == "purged"
    CommentFactory(ticket=port_out, author=None, body="Left behind")

    result = purge.purge_account(desk.account.pk)

    assert (result.outcome, result.counts) == ("already_purged", {"comments": 1})
    assert result.detail.endswith("Found and deleted what was left: comments 1.")
    assert not Comment.objects.filter(ticket=port_out).exists()
    assert Tombstone.objects.get(account=desk.account).counts["comments"] == 3  # the stock's two, then this one
    assert purge.purge_account(desk.account.pk).detail.endswith("Found nothing left to delete.")


def test_the_command_names_an_unknown_account_clearly(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No account has the ID 'A-NOPE'"):
        call_command("purge_expired", "--no-progress", "--account", "A-NOPE")
