import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import services
from numbers.models import PhoneNumber, normalize_e164
from tests.factories import AccountFactory, PhoneNumberFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("written", ["+14152370100", "+1 (415) 237-0100", "+1 415 237 0100", " +1-415-237-0100 "])
def test_numbers_are_stored_in_e164(written):
    number = services.add_number(account=AccountFactory(), number=written)
    assert number.number == "+14152370100"
    assert number.status == PhoneNumber.Status.ACTIVE


@pytest.mark.parametrize("bad", ["4152370100", "+1415", "+1 000 000 0000", "hello", "", "+999123"])
def test_invalid_numbers_are_refused(bad):
    with pytest.raises(ValidationError):
        services.add_number(account=AccountFactory(), number=bad)
    with pytest.raises(ValidationError):
        PhoneNumberFactory.build(account=AccountFactory(), number=bad).full_clean()
    assert not PhoneNumber.objects.exists()


def test_normalize_e164_names_the_problem():
    with pytest.raises(ValidationError, match="international format"):
        normalize_e164("not a number")
    with pytest.raises(ValidationError, match="not a valid phone number"):
        normalize_e164("+1 000 000 0000")


def test_a_number_in_service_is_on_one_account_only():
    services.add_number(account=AccountFactory(), number="+14152370100")
    with pytest.raises(ValidationError, match="already in service"):
        services.add_number(account=AccountFactory(), number="+1 415 237 0100")
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumberFactory(number="+14152370100", status="porting_out")
    assert PhoneNumber.objects.count() == 1


def test_a_released_number_may_be_assigned_again():
    PhoneNumberFactory(number="+14152370100", status="released")
    PhoneNumberFactory(number="+14152370100", status="ported_out")
    number = services.add_number(account=AccountFactory(), number="+14152370100")
    assert number.status == "active"


def test_inbound_recording_flag_is_per_number():
    account = AccountFactory()
    recorded = services.add_number(account=account, number="+14152370100", inbound_recording=True)
    plain = services.add_number(account=account, number="+14152370101")
    assert recorded.inbound_recording and not plain.inbound_recording


def test_on_account_means_active_or_porting_out():
    active = PhoneNumberFactory(status="active")
    porting = PhoneNumberFactory(status="porting_out")
    PhoneNumberFactory(status="released")
    PhoneNumberFactory(status="ported_out")
    assert set(PhoneNumber.objects.on_account()) == {active, porting}
