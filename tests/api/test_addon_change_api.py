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


def test_the_api_refuses_a_tier_the_policy_does_not_list(cast, client_for):
    # rule A8
    people = cast("avoxi")
    insights = provisioning.add_addon(account=people.account, product="call_insights")
    body = {"kind": "addon_change", "account": people.account.pk, "addon": insights.pk, "tier": "Banana Split"}
    body |= {"full_name": "Owner", "company": "Acme", "contact": people.owner.email}
    refused = client_for(people.owner).post("/api/v1/tickets/", body, format="json")
    assert refused.status_code == 400
    assert (refused.json()["code"], refused.json()["field"]) == ("invalid_request", "tier")
    assert "Starter, Pro, Enterprise" in refused.json()["detail"]
    insights.refresh_from_db()
    assert insights.tier == ""


def test_the_accounts_addons_carry_their_tier(cast, client_for):
    # rule A8, A9: GET /api/v1/accounts/{id}/addons/ says which tier each add-on is on
    people = cast("avoxi")
    provisioning.add_addon(account=people.account, product="call_insights", tier="Pro")
    provisioning.add_addon(account=people.account, product="outbound_recording")
    listed = client_for(people.owner).get(f"/api/v1/accounts/{people.account.pk}/addons/")
    assert listed.status_code == 200
    rows = listed.json()["results"] if isinstance(listed.json(), dict) else listed.json()
    assert {row["product"]: row["tier"] for row in rows} == {"call_insights": "Pro", "outbound_recording": ""}
