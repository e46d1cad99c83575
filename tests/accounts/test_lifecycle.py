"""The account's machine (SPEC §4, "Account lifecycle"; issue 23): the status moves only through its transitions,
each logged as an AccountEvent (actor, channel, note), and the README shows the machine the code holds."""

import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from accounts.exceptions import Refusal
from accounts.lifecycle import move_account
from accounts.models import Account, AccountEvent
from tests.admin_forms import changeform_post_data
from tickets import purge
from tickets.models import Kind
from tickets.services import Request, submit_ticket, transition_ticket

pytestmark = pytest.mark.django_db

KUSTOMER_ACKS = ["access_removed", "data_saved", "data_deleted_after_retention"]


def cancel(desk):
    return submit_ticket(
        account=desk.account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=desk.owner,
        request=Request(reason="unused", acknowledgements=KUSTOMER_ACKS),
    )


def events(account) -> list[tuple]:
    rows = AccountEvent.objects.filter(account=account).order_by("pk")
    return [(e.kind, e.actor_id, e.channel) for e in rows]


def test_every_move_of_a_kustomer_account_leaves_an_event_that_outlives_the_purge(cast):
    # rules U2, U7, U6: cancelled self-service, restarted by billing, cancelled again and purged after 60 days
    desk = cast("kustomer")
    cancel(desk)
    back = submit_ticket(
        account=desk.account,
        kind=Kind.REACTIVATION,
        requester=desk.owner,
        request=Request(),
        channel="email",
        actor=desk.agent,
    )
    for name, actor in (("verify", desk.agent), ("approve", desk.manager), ("complete", desk.agent)):
        transition_ticket(ticket=back, name=name, actor=actor)
    second = cancel(desk)
    account = Account.objects.get(pk=desk.account.pk)
    assert events(account) == [
        ("cancelled", desk.owner.pk, "web"),
        ("reactivated", desk.agent.pk, "admin"),
        ("cancelled", desk.owner.pk, "web"),
    ]
    assert purge.purge_account(account.pk, now=account.purge_after).outcome == "purged"
    assert events(account) == [  # the owner's user went with the purge; the rows stay
        ("cancelled", None, "web"),
        ("reactivated", desk.agent.pk, "admin"),
        ("cancelled", None, "web"),
        ("purge_started", None, "system"),
        ("purged", None, "system"),
    ]
    assert AccountEvent.objects.filter(account=account, kind="cancelled").order_by("pk").last().note == (
        f"Account cancellation #{second.pk} completed."
    )


def test_the_status_is_changed_by_its_transitions_only(cast, admin_client):
    # SPEC §4: the account's status is a protected state machine; nothing assigns it, not the admin either
    desk = cast("kustomer")
    account = Account.objects.get(pk=desk.account.pk)
    with pytest.raises(AttributeError):
        account.status = Account.Status.CANCELLED
    with pytest.raises(Refusal) as refused:
        move_account(account=account, name="purge", actor=None, channel="system", at=account.created_at)
    assert refused.value.code == "invalid_state"
    assert str(refused.value.detail) == "An active account cannot be purged."
    url = reverse("admin:accounts_account_change", args=[account.pk])
    data = changeform_post_data(admin_client.get(url))
    assert "status" not in data
    data["status"] = "cancelled"
    admin_client.post(url, data)
    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE
    assert not AccountEvent.objects.filter(account=account).exists()


def test_the_readme_shows_the_machine_the_code_prints():
    # issue 23, "Must show": the README's table is generated from Account.status's transitions
    out = io.StringIO()
    call_command("account_lifecycle", stdout=out)
    printed = out.getvalue()
    assert "| `cancel` | active | cancelled |" in printed and "| `reactivate` | cancelled | active |" in printed
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    shown = re.search(r"<!-- account-lifecycle:start -->\n(.*?)<!-- account-lifecycle:end -->", readme, re.S)
    assert shown is not None, "README.md has no Account lifecycle table between its markers"
    assert shown.group(1) == printed, "README.md's table is stale: paste `manage.py account_lifecycle` in it"
