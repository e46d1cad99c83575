"""Provisioning through the API: what staff send, what comes back, and bad input refused with field errors."""

from django.core import mail

from tests.factories import move_account

POLICY_KEYS = {
    "preset",
    "verification_method",
    "confirmation_word",
    "acknowledgements",
    "retention_days",
    "reactivation",
    "port_out_balance_rule",
    "require_port_outs_complete",
    "intake_channels",
    "route",
}


def test_plans_list_every_shipped_preset_with_its_policy(cast, client_for):
    people = cast("kixie")
    plans = client_for(people.member).get("/api/v1/plans/").json()
    assert {p["policy"]["preset"] for p in plans} >= {"kixie", "avoxi", "kustomer", "kustomer_premium", "smrtphone"}
    assert all(POLICY_KEYS <= set(p["policy"]) and {"id", "name", "rank"} <= set(p) for p in plans)
    smrtphone = next(p for p in plans if p["policy"]["preset"] == "smrtphone")
    assert smrtphone["policy"]["verification_method"] == "typed_confirmation"  # rule S3


def test_a_member_without_a_password_is_invited_by_email(cast, client_for, django_capture_on_commit_callbacks):
    people = cast("avoxi")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(people.manager).post(
            f"/api/v1/accounts/{people.account.pk}/members/",
            {"email": "New.Person@Example.test", "full_name": "New Person", "role": "billing_admin"},
            format="json",
        )
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "user", "email", "role"} and "password" not in body
    assert body["email"] == "new.person@example.test" and body["role"] == "billing_admin"
    assert [m.to for m in mail.outbox] == [["new.person@example.test"]]
    assert "/accounts/reset/" in mail.outbox[0].body


def test_an_account_has_one_owner(cast, client_for):
    people = cast("avoxi")
    response = client_for(people.manager).post(
        f"/api/v1/accounts/{people.account.pk}/members/",
        {"email": "second@owner.test", "full_name": "Second", "role": "owner", "password": "a-long-pass-2026"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_a_person_is_a_member_of_an_account_once(cast, client_for):
    people = cast("avoxi")
    response = client_for(people.manager).post(
        f"/api/v1/accounts/{people.account.pk}/members/",
        {"email": people.member.email, "full_name": "Again", "role": "billing_admin"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"email": ["This person is already a member of this account."]}
    assert people.account.memberships.filter(user=people.member).get().role == "member"


def test_a_weak_password_is_refused(cast, client_for):
    people = cast("avoxi")
    response = client_for(people.manager).post(
        f"/api/v1/accounts/{people.account.pk}/members/",
        {"email": "weak@pass.test", "role": "member", "password": "123"},
        format="json",
    )
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_numbers_are_stored_in_e164_and_bad_ones_refused(cast, client_for):
    people = cast("avoxi")
    staff = client_for(people.manager)
    url = f"/api/v1/accounts/{people.account.pk}/numbers/"
    good = staff.post(url, {"number": "+1 415 555 0177"}, format="json")
    assert good.status_code == 201
    assert good.json()["number"] == "+14155550177" and good.json()["status"] == "active"
    assert staff.post(url, {"number": "555-0177"}, format="json").json()["errors"].keys() == {"number"}
    again = staff.post(url, {"number": "+14155550177"}, format="json")
    assert again.status_code == 400 and "number" in again.json()["errors"]


def test_contact_center_licenses_keep_the_avoxi_minimum(cast, client_for):  # rule A10
    people = cast("avoxi")
    url = f"/api/v1/accounts/{people.account.pk}/licenses/"
    staff = client_for(people.manager)
    assert staff.post(url, {"product": "contact_center", "quantity": 2}, format="json").status_code == 400
    created = staff.post(url, {"product": "contact_center", "quantity": 5}, format="json")
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "product": "contact_center", "quantity": 5, "minimum": 3}


def test_invoices_and_card(cast, client_for):
    people = cast("kixie")
    staff = client_for(people.manager)
    base = f"/api/v1/accounts/{people.account.pk}"
    overdue = staff.post(
        f"{base}/invoices/", {"amount": "99.50", "due_date": "2020-01-01", "status": "open"}, format="json"
    )
    assert overdue.status_code == 201 and overdue.json()["outstanding"] is True
    assert staff.post(f"{base}/invoices/", {"amount": "-1", "due_date": "2020-01-01"}, format="json").status_code == 400
    # The schema types an amount as a string of digits with up to two decimals: a JSON number or "" is refused.
    for amount in (99.5, 99, "", "1e3", " 5"):
        refused = staff.post(f"{base}/invoices/", {"amount": amount, "due_date": "2020-01-01"}, format="json")
        assert refused.json()["errors"] == {"amount": ["A valid number is required."]}
    assert staff.put(f"{base}/card/", {"brand": "Visa", "last4": "4111111111111111"}, format="json").status_code == 400
    card = staff.put(f"{base}/card/", {"brand": "Visa", "last4": "1111"}, format="json")
    assert card.status_code == 200 and card.json() == {"brand": "Visa", "last4": "1111"}
    assert client_for(people.billing_admin).get(f"{base}/card/").json() == {"brand": "Visa", "last4": "1111"}


def test_inbound_recording_belongs_to_a_number_of_the_account(cast, client_for):  # rule A7
    people = cast("avoxi")
    staff = client_for(people.manager)
    base = f"/api/v1/accounts/{people.account.pk}"
    theirs = staff.post(f"/api/v1/accounts/{people.other_account.pk}/numbers/", {"number": "+14155550178"}, "json")
    refused = staff.post(f"{base}/addons/", {"product": "inbound_recording", "number": theirs.json()["id"]}, "json")
    assert refused.status_code == 400 and "number" in refused.json()["errors"]
    ours = staff.post(f"{base}/numbers/", {"number": "+14155550179"}, format="json").json()
    added = staff.post(f"{base}/addons/", {"product": "inbound_recording", "number": ours["id"]}, format="json")
    assert added.status_code == 201 and added.json()["number"] == ours["id"]


def test_a_cancelled_account_is_not_provisioned(cast, client_for):
    people = cast("avoxi")
    move_account(people.account, "cancel")
    response = client_for(people.manager).post(
        f"/api/v1/accounts/{people.account.pk}/numbers/", {"number": "+14155550180"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "account_not_active"


def test_a_page_must_be_a_page_number(cast, client_for):
    people = cast("avoxi")
    staff = client_for(people.manager)
    assert staff.get("/api/v1/accounts/?page=1").status_code == 200
    for page in ("", "0", "x", "99"):
        response = staff.get(f"/api/v1/accounts/?page={page}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
