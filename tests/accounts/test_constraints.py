import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Account, Membership
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_database_refuses_a_second_owner():
    account = AccountFactory()
    MembershipFactory(account=account, role="owner")
    with pytest.raises(IntegrityError), transaction.atomic():
        MembershipFactory(account=account, role="owner")
    assert account.memberships.count() == 1


def test_validation_refuses_a_second_owner():
    account = AccountFactory()
    MembershipFactory(account=account, role="owner")
    second = MembershipFactory.build(account=account, role="owner")
    with pytest.raises(ValidationError, match="already has an owner"):
        second.full_clean()


def test_owners_of_different_accounts_are_fine():
    MembershipFactory(role="owner")
    MembershipFactory(role="owner")
    assert Membership.objects.filter(role="owner").count() == 2


def test_legal_hold_needs_a_reason():
    account = AccountFactory.build(legal_hold=True, legal_hold_reason="")
    with pytest.raises(ValidationError, match="reason"):
        account.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountFactory(legal_hold=True, legal_hold_reason="")
    assert not Account.objects.filter(legal_hold=True).exists()


def test_account_ids_are_public_and_unique():
    first, second = AccountFactory(), AccountFactory()
    assert first.account_id.startswith("AC-") and first.account_id != second.account_id
