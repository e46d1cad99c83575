"""Admin forms posted with a tampered management form: a clear form error, nothing saved, never a 500."""

import pytest
from django.urls import reverse

from accounts import services as provisioning
from billing.models import License
from tests.admin_forms import changeform_post_data
from tests.factories import ManagerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("initial", ["1", "3", "1000", "99999999999999999999"])
def test_account_admin_with_an_inflated_initial_forms_count_saves_nothing(client, cast, initial):
    desk = cast("avoxi")
    superuser = ManagerFactory(is_superuser=True)
    client.force_login(superuser)
    url = reverse("admin:accounts_account_change", args=[desk.account.pk])
    data = changeform_post_data(client.get(url))
    # One new license row, claimed to be an existing one (the account has no license yet).
    data |= {
        "licenses-TOTAL_FORMS": "1",
        "licenses-INITIAL_FORMS": initial,
        "licenses-0-product": "agent_seat",
        "licenses-0-quantity": "5",
        "licenses-0-minimum": "0",
        "licenses-0-id": "",
        "licenses-0-account": str(desk.account.pk),
    }
    response = client.post(url, data)
    assert response.status_code in (200, 400)
    assert not License.objects.filter(account=desk.account).exists()


def test_account_admin_with_an_existing_row_claimed_twice_saves_nothing(client, cast):
    desk = cast("avoxi")
    license_ = provisioning.add_license(account=desk.account, product="agent_seat", quantity=5)
    client.force_login(ManagerFactory(is_superuser=True))
    url = reverse("admin:accounts_account_change", args=[desk.account.pk])
    data = changeform_post_data(client.get(url))
    data |= {
        "licenses-TOTAL_FORMS": "2",
        "licenses-INITIAL_FORMS": "2",
        "licenses-1-product": "agent_seat",
        "licenses-1-quantity": "1",
        "licenses-1-minimum": "0",
        "licenses-1-id": str(license_.pk),
        "licenses-1-account": str(desk.account.pk),
    }
    response = client.post(url, data)
    assert response.status_code in (200, 400)
    assert License.objects.get(pk=license_.pk).quantity == 5


def test_account_admin_with_initial_forms_lowered_saves_nothing(client, cast):
    # An existing row posted as a new one (INITIAL_FORMS=0) would insert a second line of the same product.
    desk = cast("avoxi")
    license_ = provisioning.add_license(account=desk.account, product="agent_seat", quantity=5)
    client.force_login(ManagerFactory(is_superuser=True))
    url = reverse("admin:accounts_account_change", args=[desk.account.pk])
    data = changeform_post_data(client.get(url))
    assert data["licenses-INITIAL_FORMS"] == "1"
    data["licenses-INITIAL_FORMS"] = "0"
    response = client.post(url, data)
    assert response.status_code in (200, 400)
    assert list(License.objects.filter(account=desk.account).values_list("pk", "quantity")) == [(license_.pk, 5)]
