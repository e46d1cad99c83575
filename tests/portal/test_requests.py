"""A form per kind: the policy's required fields (A4), only the kinds a role may request, and the refusals."""

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as provisioning
from accounts.models import Account
from billing.models import AddOn, License, Plan
from tests.factories import move_account
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CONTACT = {"full_name": "Sam Admin", "company": "Acme (AC-1)", "contact": "sam@example.test"}


def form_url(account, kind):
    return reverse("portal:request", args=[account.account_id, kind])


def test_required_information_is_prefilled_and_required(cast, signed_in):
    # rule A4
    people = cast("avoxi")
    number = provisioning.add_number(account=people.account, number="+12025550111")
    client = signed_in(people.owner)
    page = client.get(form_url(people.account, "number_cancellation")).content.decode()
    assert "Company name or account ID" in page and people.owner.email in page
    response = client.post(form_url(people.account, "number_cancellation"), {"number": number.pk, "full_name": ""})
    assert response.content.decode().count("This field is required.") == 6  # by each field and in the summary
    assert not Ticket.objects.exists()
    response = client.post(form_url(people.account, "number_cancellation"), {"number": number.pk, **CONTACT})
    ticket = Ticket.objects.get()
    assert (ticket.kind, ticket.company, ticket.state) == ("number_cancellation", "Acme (AC-1)", "submitted")
    assert response.url == reverse("portal:ticket", args=[ticket.pk])


def test_owner_may_not_cancel_a_license(cast, signed_in):
    # rule A5
    people = cast("avoxi")
    license_ = provisioning.add_license(account=people.account, product="contact_center", quantity=5)
    client = signed_in(people.owner)
    assert client.get(form_url(people.account, "license_cancellation")).status_code == 403
    response = client.post(form_url(people.account, "license_cancellation"), {"license": license_.pk, "quantity": 1})
    assert response.status_code == 403
    assert "allowed: Super admin" in response.content.decode()
    assert not Ticket.objects.exists()


def test_super_admin_cancels_licenses_but_not_below_the_minimum(cast, signed_in):
    # rule A10 A5
    people = cast("avoxi")
    license_ = provisioning.add_license(account=people.account, product="contact_center", quantity=5)
    client = signed_in(people.super_admin)
    url = form_url(people.account, "license_cancellation")
    response = client.post(url, {"license": license_.pk, "quantity": 3, **CONTACT})
    assert "At least 3 Contact Center licenses must remain; you can cancel at most 2." in response.content.decode()
    assert response.context["form"]["quantity"].value() == "3"
    assert not Ticket.objects.exists()
    client.post(url, {"license": license_.pk, "quantity": 2, **CONTACT})
    assert Ticket.objects.get().quantity == 2


def test_a_number_not_on_the_account_is_refused(cast, signed_in):
    people = cast("avoxi")
    provisioning.add_number(account=people.account, number="+12025550112")
    elsewhere = provisioning.add_number(account=people.other_account, number="+12025550113")
    client = signed_in(people.owner)
    response = client.post(form_url(people.account, "number_cancellation"), {"number": elsewhere.pk, **CONTACT})
    assert "Select a valid choice" in response.content.decode()
    assert not Ticket.objects.exists()


def test_port_out_request(cast, signed_in):
    # rule K11 K10
    people = cast("kixie")
    number = provisioning.add_number(account=people.account, number="+12025550114")
    client = signed_in(people.owner)
    page = client.get(form_url(people.account, "port_out")).content.decode()
    assert "does not need any documents from us" in page
    response = client.post(
        form_url(people.account, "port_out"),
        {"numbers": [number.pk], "gaining_carrier": "Telnyx", "authorized_name": "Owner 1", "pin": "1234", **CONTACT},
    )
    ticket = Ticket.objects.get()
    assert (ticket.kind, ticket.gaining_carrier) == ("port_out", "Telnyx")
    number.refresh_from_db()
    assert number.status == "porting_out"
    assert "FOC date" in client.get(response.url).content.decode()


def test_port_out_says_a_balance_means_manager_review(cast, signed_in):
    # rule K10
    people = cast("kixie")
    provisioning.add_number(account=people.account, number="+12025550115")
    provisioning.add_invoice(account=people.account, amount="50", due_date=dt.date.today() - dt.timedelta(days=3))
    page = signed_in(people.owner).get(form_url(people.account, "port_out")).content.decode()
    assert "a support manager reviews this port-out" in page


def test_downgrade_to_a_lower_plan(cast, signed_in):
    # rule K2
    people = cast("kixie", plan=Plan.objects.get(name="Power Dialer"))
    lowest = Plan.objects.get(name="Integrated")
    client = signed_in(people.owner)
    page = client.get(form_url(people.account, "downgrade") + f"?plan={lowest.pk}").content.decode()
    assert "Integrated: $35.00 USD per seat a month" in page and "no prorated credit" in page
    client.post(form_url(people.account, "downgrade"), {"plan": lowest.pk, **CONTACT})
    assert Ticket.objects.get().target_plan == lowest


def test_self_service_addon_cancels_at_once_after_a_confirmation(cast, signed_in):
    # rule A8 A9
    people = cast("avoxi")
    insights = provisioning.add_addon(account=people.account, product="call_insights")
    client = signed_in(people.owner)
    products = client.get(reverse("portal:products", args=[people.account.account_id])).content.decode()
    assert "cancels at once" in products
    confirm = client.get(form_url(people.account, "addon_cancellation") + f"?addon={insights.pk}").content.decode()
    assert "Please confirm: Call Insights will be cancelled now." in confirm
    response = client.post(form_url(people.account, "addon_cancellation"), {"addon": insights.pk, **CONTACT})
    ticket = Ticket.objects.get()
    assert ticket.state == "completed"
    insights.refresh_from_db()
    assert insights.status == AddOn.Status.CANCELLED
    assert "completed" in client.get(response.url).content.decode()


def test_initial_ucaas_trunk_needs_a_support_case(cast, signed_in):
    # rule A6
    people = cast("avoxi")
    trunk = provisioning.add_addon(account=people.account, product="sip_trunk", initial_ucaas=True)
    client = signed_in(people.owner)
    products = client.get(reverse("portal:products", args=[people.account.account_id])).content.decode()
    assert "needs a support case" in products
    client.post(form_url(people.account, "addon_cancellation"), {"addon": trunk.pk, **CONTACT})
    assert Ticket.objects.get().state == "submitted"


def test_jetpack_goes_through_the_account_manager(cast, signed_in):
    # rule A11
    people = cast("avoxi")
    jetpack = provisioning.add_addon(account=people.account, product="jetpack")
    page = signed_in(people.owner).get(form_url(people.account, "addon_cancellation") + f"?addon={jetpack.pk}")
    assert "through your account manager" in page.content.decode()


def _staff_records_reactivation(people):
    """Staff record a reactivation asked for through the provider's contact routes (SPEC §5), by the API."""
    client = APIClient()
    client.force_authenticate(people.agent)
    body = {"kind": "reactivation", "account": people.account.pk, "requester": people.owner.pk, "channel": "phone"}
    return client.post("/api/v1/tickets/", {**body, **CONTACT}, format="json")


def test_reactivation_inside_the_window_is_recorded_by_staff(cast, signed_in):
    # rule U7, K9: the cancelled account is gone from the portal, even for its owner who keeps another account
    people = cast("kustomer")
    provisioning.add_member(account=people.other_account, email=people.owner.email, full_name="", role="member")
    Account.objects.filter(pk=people.account.pk).update(
        status="cancelled", purge_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    )
    client = signed_in(people.owner)
    assert client.get(reverse("portal:dashboard", args=[people.account.account_id])).status_code == 404
    assert client.post(form_url(people.account, "reactivation"), CONTACT).status_code == 404
    assert client.get(reverse("portal:dashboard", args=[people.other_account.account_id])).status_code == 200
    response = _staff_records_reactivation(people)
    assert response.status_code == 201, response.json()
    assert Ticket.objects.get().kind == "reactivation"


def test_reactivation_after_the_window_is_refused(cast):
    # rule U7
    people = cast("kustomer")
    Account.objects.filter(pk=people.account.pk).update(
        status="cancelled", purge_after=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )
    response = _staff_records_reactivation(people)
    assert response.status_code == 400 and response.json()["code"] == "reactivation_closed"
    assert not Ticket.objects.exists()


def test_smrtphone_accounts_are_never_reactivated(cast):
    # rule S11
    people = cast("smrtphone")
    move_account(people.account, "cancel")
    response = _staff_records_reactivation(people)
    assert response.status_code == 400 and response.json()["code"] == "reactivation_closed"
    assert "cannot be reactivated" in response.json()["detail"]
    assert not Ticket.objects.exists()


def test_unknown_kind_is_a_404(cast, signed_in):
    people = cast("avoxi")
    assert signed_in(people.owner).get(form_url(people.account, "hold")).status_code == 404


def test_license_form_lists_only_this_accounts_licenses(cast, signed_in):
    people = cast("avoxi")
    provisioning.add_license(account=people.account, product="contact_center", quantity=4)
    provisioning.add_license(account=people.other_account, product="agent_seat", quantity=9)
    page = signed_in(people.super_admin).get(form_url(people.account, "license_cancellation")).content.decode()
    assert "Contact Center license: 4 held, at least 3 must remain" in page
    assert "9 held" not in page
    assert License.objects.count() == 2
