"""A7: inbound call recording is cancelled per number, so a number recording its calls holds an add-on to cancel."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as provisioning
from billing.models import AddOn
from numbers.models import PhoneNumber
from tickets.models import Kind, State
from tickets.services import Request, submit_ticket

pytestmark = pytest.mark.django_db

INFO = {"full_name": "Ada Owner", "company": "Acme", "contact": "ada@acme.test"}


def recording_of(number: PhoneNumber) -> AddOn:
    return AddOn.objects.get(number=number, product=AddOn.Product.INBOUND_RECORDING, status=AddOn.Status.ACTIVE)


def test_a_number_created_with_inbound_recording_can_have_its_recording_cancelled(cast, tasks_in_process):
    # rule A7
    desk = cast("avoxi")
    staff = APIClient()
    staff.force_authenticate(desk.manager)
    created = staff.post(
        f"/api/v1/accounts/{desk.account.pk}/numbers/",
        {"number": "+12025550143", "inbound_recording": True},
        format="json",
    )
    assert created.status_code == 201
    number = PhoneNumber.objects.get(pk=created.json()["id"])
    addon = recording_of(number)
    assert addon.account == desk.account
    # Asking for the recording again gives the same add-on: one recording per number.
    again = provisioning.add_addon(account=desk.account, product="inbound_recording", number=number)
    assert again.pk == addon.pk
    ticket = submit_ticket(
        account=desk.account, kind=Kind.ADDON_CANCELLATION, requester=desk.owner, request=Request(addon=addon, **INFO)
    )
    assert ticket.state == State.COMPLETED  # AVOXI: add-ons are cancelled self-service
    number.refresh_from_db()
    assert number.inbound_recording is False and number.status == PhoneNumber.Status.ACTIVE
    assert AddOn.objects.get(pk=addon.pk).status == AddOn.Status.CANCELLED


def test_a_number_without_recording_has_no_recording_addon(cast):
    # rule A7
    desk = cast("avoxi")
    plain = provisioning.add_number(account=desk.account, number="+12025550144")
    assert not plain.addons.exists()


def test_a_number_switched_to_recording_in_the_admin_gets_its_addon(client, cast):
    # rule A7: the admin's number form sets the flag directly; the add-on follows
    desk = cast("avoxi")
    client.force_login(desk.manager)
    response = client.post(
        reverse("admin:numbers_phonenumber_add"),
        {"account": desk.account.pk, "number": "+1 202 555 0145", "status": "active", "inbound_recording": "on"},
    )
    assert response.status_code == 302
    assert recording_of(PhoneNumber.objects.get(number="+12025550145")).account == desk.account
