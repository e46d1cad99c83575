import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import Account, Membership, User
from billing.models import Subscription
from tests.factories import PASSWORD, AccountFactory, StaffFactory, UserFactory, preset_plan
from tickets import access

pytestmark = pytest.mark.django_db


def test_create_account_starts_a_subscription_billed_a_month_from_today(time_machine):
    time_machine.move_to(dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC))
    account = services.create_account(name="Acme", plan=preset_plan("kixie"), seats=4)
    assert account.status == Account.Status.ACTIVE
    assert account.subscription.seats == 4
    assert account.subscription.next_billing_date == dt.date(2026, 2, 28)


def test_create_account_takes_a_given_billing_date():
    account = services.create_account(name="Acme", plan=preset_plan(), next_billing_date=dt.date(2030, 5, 1))
    assert account.subscription.next_billing_date == dt.date(2030, 5, 1)


def test_port_out_pin_is_stored_hashed():
    account = services.create_account(name="Acme", plan=preset_plan(), port_out_pin="9876")
    assert "9876" not in account.port_out_pin
    assert account.check_port_out_pin("9876")
    assert not account.check_port_out_pin("1111")


def test_account_needs_a_name_and_refuses_a_customer_as_account_manager():
    with pytest.raises(ValidationError, match="name"):
        services.create_account(name="  ", plan=preset_plan())
    with pytest.raises(ValidationError, match="member of staff"):
        services.create_account(name="Acme", plan=preset_plan(), account_manager=UserFactory())
    assert not Account.objects.exists()
    assert not Subscription.objects.exists()


def test_account_manager_is_kept():
    csm = StaffFactory()
    account = services.create_account(name="Acme", plan=preset_plan("kustomer_premium"), account_manager=csm)
    assert account.account_manager == csm


def test_add_member_creates_the_user_with_the_password():
    account = AccountFactory()
    membership = services.add_member(
        account=account, email=" Ann@Example.TEST ", full_name="Ann", role="owner", password=PASSWORD
    )
    assert membership.user.email == "ann@example.test"
    assert membership.user.check_password(PASSWORD)
    assert account.owner == membership.user


def test_add_member_without_a_password_gives_an_unusable_one():
    membership = services.add_member(account=AccountFactory(), email="bob@example.test", full_name="Bob", role="member")
    assert not membership.user.has_usable_password()


def test_add_member_reuses_a_known_email():
    user = UserFactory(email="carol@example.test")
    first, second = AccountFactory(), AccountFactory()
    services.add_member(account=first, email="carol@example.test", full_name="Carol", role="member")
    services.add_member(account=second, email="CAROL@example.test", full_name="Carol", role="billing_admin")
    assert User.objects.filter(email="carol@example.test").count() == 1
    assert set(user.memberships.values_list("role", flat=True)) == {"member", "billing_admin"}


def test_second_owner_is_refused_with_a_clear_message():
    account = AccountFactory()
    services.add_member(account=account, email="first@example.test", full_name="First", role="owner")
    with pytest.raises(ValidationError, match="already has an owner"):
        services.add_member(account=account, email="second@example.test", full_name="Second", role="owner")
    assert account.memberships.filter(role="owner").count() == 1
    assert not User.objects.filter(email="second@example.test").exists()  # the transaction rolled back


def test_unknown_role_and_missing_email_are_refused():
    account = AccountFactory()
    with pytest.raises(ValidationError, match="Unknown role"):
        services.add_member(account=account, email="x@example.test", full_name="X", role="king")
    with pytest.raises(ValidationError, match="email"):
        services.add_member(account=account, email="", full_name="X", role="member")
    with pytest.raises(ValidationError, match="email"):
        services.add_member(account=account, email="not-an-email", full_name="X", role="member")
    assert not Membership.objects.exists()


def test_same_user_twice_on_one_account_is_refused():
    account = AccountFactory()
    services.add_member(account=account, email="dan@example.test", full_name="Dan", role="member")
    with pytest.raises(ValidationError):
        services.add_member(account=account, email="dan@example.test", full_name="Dan", role="super_admin")


def test_staff_cannot_be_a_customer_member():
    staff = StaffFactory()
    with pytest.raises(ValidationError, match="staff"):
        services.add_member(account=AccountFactory(), email=staff.email, full_name="Agent", role="member")


def test_cast_fixture_gives_every_role(cast):
    people = cast("smrtphone")
    roles = dict(people.account.memberships.values_list("user__email", "role"))
    assert roles[people.owner.email] == "owner"
    assert roles[people.super_admin.email] == "super_admin"
    assert roles[people.billing_admin.email] == "billing_admin"
    assert roles[people.member.email] == "member"
    assert not people.account.memberships.filter(user=people.outsider).exists()
    assert people.agent.is_staff and not access.is_manager(people.agent)
    assert access.is_manager(people.manager)
    assert people.policy.preset == "smrtphone"
