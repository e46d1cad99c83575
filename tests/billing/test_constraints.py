from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from accounts import services
from billing.models import AddOn, CardOnFile, CreditEntry, Invoice, License
from tests.factories import (
    AccountFactory,
    AddOnFactory,
    CardOnFileFactory,
    CreditEntryFactory,
    InvoiceFactory,
    LicenseFactory,
    PhoneNumberFactory,
    preset_plan,
)

pytestmark = pytest.mark.django_db


# -- licenses ---------------------------------------------------------------------------------------------
def test_negative_license_quantity_is_refused_by_validation_and_database():
    with pytest.raises(ValidationError, match="negative"):
        services.add_license(account=AccountFactory(), product="agent_seat", quantity=-1)
    with pytest.raises(ValidationError):
        LicenseFactory.build(quantity=-1, account=AccountFactory()).full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseFactory(quantity=-1)
    assert not License.objects.exists()


def test_minimum_above_quantity_is_refused_by_validation_and_database():
    line = LicenseFactory.build(account=AccountFactory(), quantity=2, minimum=3)
    with pytest.raises(ValidationError):
        line.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseFactory(quantity=2, minimum=3)
    assert not License.objects.exists()


def test_license_minimum_comes_from_the_policy():
    # rule A10: at least three Contact Center licenses remain
    account = AccountFactory(plan=preset_plan("avoxi"))
    line = services.add_license(account=account, product="contact_center", quantity=5)
    assert line.minimum == 3
    with pytest.raises(ValidationError, match="At least 3"):
        services.add_license(account=AccountFactory(plan=preset_plan("avoxi")), product="contact_center", quantity=2)


def test_products_without_a_minimum_may_be_zero():
    line = services.add_license(account=AccountFactory(plan=preset_plan("kixie")), product="agent_seat", quantity=0)
    assert (line.quantity, line.minimum) == (0, 0)


def test_one_license_line_per_product():
    account = AccountFactory()
    services.add_license(account=account, product="agent_seat", quantity=2)
    with pytest.raises(ValidationError):
        services.add_license(account=account, product="agent_seat", quantity=3)


# -- card on file -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("digits", ["42424", "4242424242424242", "424", "42a2", "", " 4242 1"])
def test_card_on_file_holds_exactly_four_digits(digits):
    account = AccountFactory()
    with pytest.raises(ValidationError, match="four digits"):
        services.set_card(account=account, brand="Visa", last4=digits)
    with pytest.raises(ValidationError):
        CardOnFileFactory.build(account=account, last4=digits).full_clean()
    assert not CardOnFile.objects.exists()


def test_database_refuses_a_card_number_longer_than_four_digits(db):
    # PostgreSQL's varchar(4) refuses it (DataError); SQLite ignores max_length, so there the check constraint does.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        CardOnFileFactory(last4="4242424242424242")
    with pytest.raises(IntegrityError), transaction.atomic():
        CardOnFileFactory(last4="42x2")
    assert not CardOnFile.objects.exists()


def test_set_card_replaces_the_card():
    account = AccountFactory()
    services.set_card(account=account, brand="Visa", last4="4242")
    services.set_card(account=account, brand="Mastercard", last4="5454")
    assert CardOnFile.objects.get(account=account).last4 == "5454"


# -- add-ons ----------------------------------------------------------------------------------------------
def test_inbound_recording_belongs_to_one_number():
    # rule A7: inbound recording is cancelled per number
    account = AccountFactory()
    with pytest.raises(ValidationError, match="one number"):
        services.add_addon(account=account, product="inbound_recording")
    number = PhoneNumberFactory(account=account)
    addon = services.add_addon(account=account, product="inbound_recording", number=number)
    number.refresh_from_db()
    assert addon.number == number and number.inbound_recording
    with pytest.raises(IntegrityError), transaction.atomic():
        AddOnFactory(product="inbound_recording", number=None)


def test_outbound_recording_is_for_the_whole_organisation():
    # rule A7: outbound recording is disabled for the whole organisation, so it carries no number
    account = AccountFactory()
    with pytest.raises(ValidationError, match="Only inbound"):
        services.add_addon(account=account, product="outbound_recording", number=PhoneNumberFactory(account=account))


def test_inbound_recording_number_must_be_on_the_account():
    with pytest.raises(ValidationError, match="not on this account"):
        services.add_addon(account=AccountFactory(), product="inbound_recording", number=PhoneNumberFactory())


def test_only_sip_trunks_are_initial_ucaas():
    # rule A6: the initial UCaaS trunks are SIP trunks
    account = AccountFactory()
    trunk = services.add_addon(account=account, product="sip_trunk", name="UCaaS", initial_ucaas=True)
    assert trunk.route_key == "sip_trunk_initial_ucaas"
    with pytest.raises(ValidationError, match="SIP trunk"):
        services.add_addon(account=account, product="jetpack", initial_ucaas=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        AddOnFactory(product="jetpack", initial_ucaas=True)
    assert AddOn.objects.count() == 1


# -- invoices and credit ----------------------------------------------------------------------------------
def test_invoice_amount_cannot_be_negative():
    with pytest.raises(ValidationError):
        services.add_invoice(account=AccountFactory(), amount="-1.00", due_date="2030-01-01")
    with pytest.raises(ValidationError, match="not an amount"):
        services.add_invoice(account=AccountFactory(), amount="ten", due_date="2030-01-01")
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(amount=Decimal("-1"))
    assert not Invoice.objects.exists()


def test_open_invoice_past_due_is_outstanding():
    overdue = InvoiceFactory(due_date="2020-01-01")
    InvoiceFactory(due_date="2020-01-01", status="paid")
    InvoiceFactory()  # open, not yet due
    overdue.refresh_from_db()
    assert list(Invoice.objects.outstanding()) == [overdue]
    assert overdue.is_overdue


def test_credit_balance_is_the_sum_of_the_ledger():
    account = AccountFactory()
    services.add_credit(account=account, amount="100", reason="top_up")
    services.add_credit(account=account, amount="-25.50", reason="usage", note="calls")
    CreditEntryFactory()  # another account's credit
    assert CreditEntry.balance_of(account) == Decimal("74.50")


def test_credit_reason_must_be_known():
    with pytest.raises(ValidationError):
        services.add_credit(account=AccountFactory(), amount="5", reason="gift")
