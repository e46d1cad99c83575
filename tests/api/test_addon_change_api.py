"""POST /api/v1/tickets/ with kind addon_change (the API appendix: `addon`, `tier`)."""

import pytest

from accounts import services as provisioning

pytestmark = pytest.mark.django_db


def test_the_api_creates_a_self_service_addon_change(cast, client_for):
    # rule A9
    people = cast("avoxi")
    testing = provisioning.add_addon(account=people.account, product="number_testing")
    body = {
        "kind": "addon_change",
        "account": people.account.pk,
        "full_name": "Owner",
        "company": "Acme",
        "contact": people.owner.email,
        "addon": testing.pk,
        "tier": "1,000 tests",
    }
    created = client_for(people.owner).post("/api/v1/tickets/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["state"] == "completed"
    testing.refresh_from_db()
    assert testing.tier == "1,000 tests"


def test_the_api_refuses_an_addon_change_without_its_tier(cast, client_for):
    # rule A9
    people = cast("avoxi")
    testing = provisioning.add_addon(account=people.account, product="number_testing")
    body = {"kind": "addon_change", "account": people.account.pk, "addon": testing.pk}
    refused = client_for(people.owner).post("/api/v1/tickets/", body, format="json")
    assert refused.status_code == 400 and "tier" in refused.json()["errors"]
