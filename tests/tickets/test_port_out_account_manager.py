"""K11 "email or your Account Manager to notify us of the port-out so we can approve it": where the plan's policy
says so (Kixie), every port-out request is also emailed to the account's account manager (issue 23)."""

import pytest
from django.core import mail

from tests.factories import PIN, StaffFactory
from tickets.models import Kind

pytestmark = pytest.mark.django_db


def _port_out(desk, submit, number):
    return submit(
        desk,
        Kind.PORT_OUT,
        numbers=[number(desk.account)],
        gaining_carrier="Telnyx",
        authorized_name=desk.owner.full_name,
        pin=PIN,
    )


def _to_staff(user) -> list:
    return [m for m in mail.outbox if user.email in m.to]


def test_a_kixie_port_out_is_emailed_to_the_account_manager(cast, submit, number, django_capture_on_commit_callbacks):
    # rule K11
    desk = cast("kixie")
    csm = StaffFactory(full_name="Casey Success")
    desk.account.account_manager = csm
    desk.account.save(update_fields=["account_manager"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _port_out(desk, submit, number)
    sent = _to_staff(csm)
    assert len(sent) == 1
    assert f"Port-out on your account {desk.account.account_id}" in sent[0].subject
    assert f"/admin/tickets/ticket/{ticket.pk}/change/" in sent[0].body
    assert "Telnyx" in sent[0].body
    # The customers' own alert still goes to the owner and billing admins, not to the account manager.
    alerts = [m for m in mail.outbox if "Port-out requested" in m.subject]
    assert {address for m in alerts for address in m.to} == {desk.owner.email, desk.billing_admin.email}


def test_no_account_manager_no_staff_email(cast, submit, number, django_capture_on_commit_callbacks):
    # rule K11: "where the account has one"
    desk = cast("kixie")
    with django_capture_on_commit_callbacks(execute=True):
        _port_out(desk, submit, number)
    assert not [m for m in mail.outbox if "Port-out on your account" in m.subject]


def test_the_account_manager_hears_of_port_outs_only_where_the_policy_says(
    cast, submit, number, django_capture_on_commit_callbacks
):
    # rule K11 is Kixie's: AVOXI's account manager handles Jetpack (A11), not port-outs, until its policy says so
    desk = cast("avoxi")
    csm = StaffFactory()
    desk.account.account_manager = csm
    desk.account.save(update_fields=["account_manager"])
    with django_capture_on_commit_callbacks(execute=True):
        _port_out(desk, submit, number)
    assert _to_staff(csm) == []
    desk.policy.port_out_alerts_account_manager = True
    desk.policy.save(update_fields=["port_out_alerts_account_manager"])
    with django_capture_on_commit_callbacks(execute=True):
        _port_out(desk, submit, lambda account: number(account, "+12025550144"))
    assert len(_to_staff(csm)) == 1
