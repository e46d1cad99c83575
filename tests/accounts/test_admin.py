"""The admin shows bad input as an error and saves nothing (accounts, billing and numbers)."""

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Account, Membership, User
from billing.models import CardOnFile, License, Policy
from numbers.models import PhoneNumber
from tests.admin_forms import add_inline_row, changeform_post_data, errors_of
from tests.factories import (
    AccountFactory,
    CardOnFileFactory,
    LicenseFactory,
    MembershipFactory,
    PhoneNumberFactory,
    TombstoneFactory,
    UserFactory,
    preset_plan,
)

pytestmark = pytest.mark.django_db
OUR_APPS = {"accounts", "billing", "numbers"}


@pytest.fixture
def account(cast):
    people = cast("avoxi")
    PhoneNumberFactory(account=people.account, number="+12025550143")
    LicenseFactory(account=people.account, product="contact_center", quantity=5, minimum=3)
    CardOnFileFactory(account=people.account)
    return people.account


def change_page(admin_client, obj):
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    return url, changeform_post_data(response)


def test_every_admin_list_page_renders_and_searches(admin_client, account):
    TombstoneFactory()
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url, {"q": "AC-"}).status_code == 200, url


def test_account_page_shows_members_numbers_licenses_and_card(admin_client, account):
    response = admin_client.get(reverse("admin:accounts_account_change", args=[account.pk]))
    content = response.content.decode()
    assert account.owner.email in content
    assert "+12025550143" in content
    assert "Contact Center license" in content
    assert "4242" in content


@pytest.mark.parametrize("term", ["owner", "+12025550143", "AC-"])
def test_account_search_by_member_email_number_and_account_id(admin_client, account, term):
    AccountFactory(name="Unrelated")
    query = account.owner.email if term == "owner" else (account.account_id if term == "AC-" else term)
    response = admin_client.get(reverse("admin:accounts_account_changelist"), {"q": query})
    assert list(response.context["cl"].result_list) == [account]


def test_resubmitting_the_account_page_unchanged_saves(admin_client, account):
    url, data = change_page(admin_client, account)
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)


def test_second_owner_inline_is_an_error_and_nothing_is_saved(admin_client, account):
    newcomer = UserFactory()
    url, data = change_page(admin_client, account)
    add_inline_row(data, "memberships", user=newcomer.pk, role="owner")
    data["name"] = "Renamed"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "already has an owner" in errors_of(response)
    account.refresh_from_db()
    assert account.name != "Renamed"
    assert not Membership.objects.filter(user=newcomer).exists()


def test_two_owners_on_a_new_account_are_an_error(admin_client):
    url = reverse("admin:accounts_account_add")
    data = changeform_post_data(admin_client.get(url))
    data.update(name="Two owners", plan=preset_plan().pk, status="active")
    add_inline_row(data, "memberships", user=UserFactory().pk, role="owner")
    add_inline_row(data, "memberships", user=UserFactory().pk, role="owner")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "already has an owner" in errors_of(response)
    assert not Account.objects.filter(name="Two owners").exists()


def test_membership_admin_refuses_a_second_owner(admin_client, account):
    response = admin_client.post(
        reverse("admin:accounts_membership_add"), {"user": UserFactory().pk, "account": account.pk, "role": "owner"}
    )
    assert response.status_code == 200
    assert "already has an owner" in str(response.context["adminform"].form.errors)
    assert account.memberships.filter(role="owner").count() == 1


@pytest.mark.parametrize("bad", ["+1 000 000 0000", "4152370100", "phone"])
def test_invalid_number_inline_is_an_error(admin_client, account, bad):
    url, data = change_page(admin_client, account)
    add_inline_row(data, "numbers", number=bad, status="active")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "phone number" in errors_of(response)
    assert account.numbers.count() == 1


def test_the_same_number_twice_in_one_submit_is_an_error(admin_client, account):
    url, data = change_page(admin_client, account)
    add_inline_row(data, "numbers", number="+14152370100", status="active")
    add_inline_row(data, "numbers", number="+1 415 237 0100", status="active")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "entered twice" in errors_of(response)
    assert account.numbers.count() == 1


def test_a_number_in_service_elsewhere_is_an_error(admin_client, account):
    PhoneNumberFactory(number="+14152370100")
    url, data = change_page(admin_client, account)
    add_inline_row(data, "numbers", number="+14152370100", status="active")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert errors_of(response)
    assert PhoneNumber.objects.filter(number="+14152370100").count() == 1


def test_number_admin_refuses_an_invalid_number_and_normalises_a_valid_one(admin_client, account):
    url = reverse("admin:numbers_phonenumber_add")
    response = admin_client.post(url, {"account": account.pk, "number": "+1 000 000 0000", "status": "active"})
    assert response.status_code == 200
    assert "not a valid phone number" in str(response.context["adminform"].form.errors)
    response = admin_client.post(url, {"account": account.pk, "number": "+1 (415) 237-0100", "status": "active"})
    assert response.status_code == 302
    assert account.numbers.filter(number="+14152370100").exists()


def test_negative_license_quantity_inline_is_an_error(admin_client, account):
    url, data = change_page(admin_client, account)
    add_inline_row(data, "licenses", product="agent_seat", quantity="-1", minimum="0")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert errors_of(response)
    assert not License.objects.filter(product="agent_seat").exists()


def test_minimum_above_quantity_inline_is_an_error(admin_client, account):
    url, data = change_page(admin_client, account)
    prefix = "licenses-0"
    data[f"{prefix}-quantity"], data[f"{prefix}-minimum"] = "2", "3"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "cannot be above the quantity" in errors_of(response)
    assert License.objects.get(account=account).quantity == 5


@pytest.mark.parametrize(
    ("quantity", "minimum", "error"), [("-1", "0", "greater than or equal to 0"), ("2", "3", "above")]
)
def test_license_admin_refuses_bad_quantities(admin_client, account, quantity, minimum, error):
    response = admin_client.post(
        reverse("admin:billing_license_add"),
        {"account": account.pk, "product": "agent_seat", "quantity": quantity, "minimum": minimum},
    )
    assert response.status_code == 200
    assert error in str(response.context["adminform"].form.errors)
    assert not License.objects.filter(product="agent_seat").exists()


def test_card_number_longer_than_four_digits_inline_is_an_error(admin_client, account):
    url, data = change_page(admin_client, account)
    data["card-0-last4"] = "4242424242424242"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert errors_of(response)
    assert CardOnFile.objects.get(account=account).last4 == "4242"


def test_card_admin_refuses_more_than_four_digits(admin_client):
    account = AccountFactory()
    response = admin_client.post(
        reverse("admin:billing_cardonfile_add"), {"account": account.pk, "brand": "Visa", "last4": "42424"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not CardOnFile.objects.exists()


def test_port_out_pin_set_in_the_admin_is_hashed(admin_client, account):
    url, data = change_page(admin_client, account)
    data["new_port_out_pin"] = "5555"
    assert admin_client.post(url, data).status_code == 302
    account.refresh_from_db()
    assert "5555" not in account.port_out_pin and account.check_port_out_pin("5555")


def test_policy_admin_warns_that_deny_may_be_unlawful_in_the_us(admin_client):
    # rule K10 and the FCC consumer guide: the kixie preset ships with deny
    kixie = Policy.objects.get(preset="kixie")
    url, data = change_page(admin_client, kixie)
    assert "unlawful in the US" in admin_client.get(url).content.decode()
    response = admin_client.post(url, data)
    assert response.status_code == 302
    warnings = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert any("unlawful" in w and "FCC" in w for w in warnings)


def test_policy_admin_does_not_warn_for_ignore(admin_client):
    avoxi = Policy.objects.get(preset="avoxi")
    url, data = change_page(admin_client, avoxi)
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert not [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]


def test_policy_admin_refuses_a_typed_confirmation_without_a_word(admin_client):
    smrtphone = Policy.objects.get(preset="smrtphone")
    url, data = change_page(admin_client, smrtphone)
    data["confirmation_word"] = ""
    response = admin_client.post(url, data)
    assert response.status_code == 200
    smrtphone.refresh_from_db()
    assert smrtphone.confirmation_word == "CONFIRM"


def test_user_admin_creates_an_email_login_user(admin_client):
    url = reverse("admin:accounts_user_add")
    data = changeform_post_data(admin_client.get(url))
    data.update(
        email="New.Person@Example.test",
        full_name="New Person",
        usable_password="true",
        password1="a-long-enough-passphrase-2026",
        password2="a-long-enough-passphrase-2026",
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    user = User.objects.get(email="new.person@example.test")
    assert user.check_password("a-long-enough-passphrase-2026")
    assert not hasattr(user, "username") or user.username is None


def test_user_change_page_renders(admin_client):
    membership = MembershipFactory()
    response = admin_client.get(reverse("admin:accounts_user_change", args=[membership.user.pk]))
    assert response.status_code == 200


def test_tombstones_are_read_only(admin_client):
    tombstone = TombstoneFactory()
    assert admin_client.get(reverse("admin:accounts_tombstone_add")).status_code == 403
    url = reverse("admin:accounts_tombstone_change", args=[tombstone.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    admin_client.post(url, {"account_code": "AC-CHANGED"})
    tombstone.refresh_from_db()
    assert tombstone.account_code != "AC-CHANGED"
