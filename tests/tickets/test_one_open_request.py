"""SPEC §4: one open request per object. A second open request of the same kind for the same account, license,
number or add-on is refused `already_requested`; a number in an open port-out cannot be cancelled, nor a number
being cancelled ported (`number_busy`). Closing the first request frees the object again."""

import pytest
from django.db import IntegrityError, transaction

from accounts import services as provisioning
from numbers.models import PhoneNumber
from tickets.models import Kind, State, Ticket
from tickets.services import _violates_one_open_request, transition_ticket

from .test_rules import refusal

INFO = {"full_name": "Ada Owner", "company": "Acme", "contact": "ada@acme.test"}


def _port_out(desk, submit, numbers, **extra):
    return submit(
        desk,
        Kind.PORT_OUT,
        numbers=numbers,
        gaining_carrier="Telnyx",
        authorized_name=desk.owner.full_name,
        pin="1234",
        **extra,
    )


def test_second_open_number_cancellation_is_already_requested_until_the_first_closes(cast, submit, number):
    # SPEC §4 already_requested (number); 30 identical cancellations made 30 tickets before.
    desk = cast("avoxi")
    line = number(desk.account)
    first = submit(desk, Kind.NUMBER_CANCELLATION, numbers=[line], **INFO)
    assert first.state == State.SUBMITTED
    again = refusal(submit, desk, Kind.NUMBER_CANCELLATION, requester=desk.super_admin, numbers=[line], **INFO)
    assert again.code == "already_requested" and f"#{first.pk}" in again.detail
    assert Ticket.objects.filter(kind=Kind.NUMBER_CANCELLATION, numbers=line).count() == 1
    transition_ticket(ticket=first, name="withdraw", actor=desk.owner, channel="web")
    assert submit(desk, Kind.NUMBER_CANCELLATION, numbers=[line], **INFO).state == State.SUBMITTED


def test_number_in_an_open_port_out_cannot_be_cancelled(cast, submit, number):
    # SPEC §4 number_busy: the released number could become ported_out with both dates set.
    desk = cast("avoxi")
    line = number(desk.account)
    port_out = _port_out(desk, submit, [line])
    busy = refusal(submit, desk, Kind.NUMBER_CANCELLATION, numbers=[line], **INFO)
    assert busy.code == "number_busy" and f"#{port_out.pk}" in busy.detail
    assert PhoneNumber.objects.get(pk=line.pk).status == "porting_out"


def test_number_being_cancelled_cannot_be_ported(cast, submit, number):
    # SPEC §4 number_busy
    desk = cast("avoxi")
    line, other = number(desk.account), number(desk.account, "+12025550144")
    cancellation = submit(desk, Kind.NUMBER_CANCELLATION, numbers=[line], **INFO)
    busy = refusal(_port_out, desk, submit, [other, line])
    assert busy.code == "number_busy" and f"#{cancellation.pk}" in busy.detail
    assert not Ticket.objects.filter(kind=Kind.PORT_OUT).exists()
    assert PhoneNumber.objects.get(pk=other.pk).status == "active"


def test_number_in_an_open_port_out_cannot_be_ported_again(cast, submit, number):
    # SPEC §4 already_requested (number, port-out)
    desk = cast("avoxi")
    line = number(desk.account)
    _port_out(desk, submit, [line])
    assert refusal(_port_out, desk, submit, [line]).code == "already_requested"


def test_second_open_addon_cancellation_is_already_requested(cast, submit):
    # SPEC §4 already_requested (add-on)
    desk = cast("avoxi")
    desk.account.account_manager = desk.agent
    desk.account.save()
    jetpack = provisioning.add_addon(account=desk.account, product="jetpack")
    submit(desk, Kind.ADDON_CANCELLATION, requester=desk.super_admin, addon=jetpack, **INFO)
    again = refusal(submit, desk, Kind.ADDON_CANCELLATION, requester=desk.super_admin, addon=jetpack, **INFO)
    assert again.code == "already_requested"


def test_second_open_downgrade_is_already_requested(cast, submit):
    # SPEC §4 already_requested (account): Kixie's Pause → Downgrade while the demo's downgrade is open.
    from tests.factories import preset_plan

    kixie = preset_plan("kixie")
    higher = kixie.__class__.objects.filter(product_line=kixie.product_line, rank__gt=kixie.rank).order_by("rank")[0]
    desk = cast("kixie", plan=higher)
    lowest = higher.lowest_in_line()
    submit(desk, Kind.DOWNGRADE, plan=lowest, channel="email", actor=desk.agent, **INFO)
    again = refusal(submit, desk, Kind.DOWNGRADE, plan=lowest, channel="email", actor=desk.agent, **INFO)
    assert again.code == "already_requested"
    assert Ticket.objects.filter(account=desk.account, kind=Kind.DOWNGRADE).count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_license_cancellation_and_the_service_maps_it(cast):
    # SPEC §4: the partial unique constraint holds even where a race slipped past the service's check.
    desk = cast("avoxi")
    license_ = provisioning.add_license(account=desk.account, product="contact_center", quantity=9)
    Ticket.objects.create(account=desk.account, kind=Kind.LICENSE_CANCELLATION, license=license_, quantity=1)
    Ticket.objects.create(  # a closed one does not count
        account=desk.account, kind=Kind.LICENSE_CANCELLATION, license=license_, quantity=1, state=State.WITHDRAWN
    )
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Ticket.objects.create(account=desk.account, kind=Kind.LICENSE_CANCELLATION, license=license_, quantity=1)
    assert _violates_one_open_request(caught.value)
