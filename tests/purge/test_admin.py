"""The purge as staff see it in the admin: legal hold by managers only, tombstones and redacted logs visible."""

import datetime as dt

import pytest
import time_machine

from accounts.models import Tombstone
from tests.purge.conftest import cancel
from tickets import purge

pytestmark = pytest.mark.django_db


def test_only_a_manager_may_set_a_legal_hold(cast, client):
    desk = cast("kustomer")
    url = f"/admin/accounts/account/{desk.account.pk}/change/"
    client.force_login(desk.agent)
    assert 'name="legal_hold"' not in client.get(url).content.decode()
    client.force_login(desk.manager)
    assert 'name="legal_hold"' in client.get(url).content.decode()


def test_tombstone_and_redacted_log_are_visible_in_the_admin(cast, stock, client):
    desk = cast("kustomer")
    stocked = stock(desk)
    cancel(desk)
    desk.account.refresh_from_db()
    with time_machine.travel(desk.account.purge_after + dt.timedelta(minutes=1)):
        assert purge.purge_account(desk.account.pk).outcome == "purged"
    client.force_login(desk.manager)
    tombstone = Tombstone.objects.get(account=desk.account)
    page = client.get(f"/admin/accounts/tombstone/{tombstone.pk}/change/").content.decode()
    assert desk.account.account_id in page and "numbers" in page
    ticket_page = client.get(f"/admin/tickets/ticket/{stocked.port_out.pk}/change/").content.decode()
    assert "billing_admin (redacted)" in ticket_page
    assert desk.billing_admin.email not in ticket_page
