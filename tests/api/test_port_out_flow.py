"""The "Must show" of issue 5, through the API only, as the README's curl examples run it."""

import datetime as dt

from rest_framework.test import APIClient

from tests.factories import PASSWORD, ManagerFactory, StaffFactory


def _token_client(email: str, password: str) -> APIClient:
    response = APIClient().post("/api/v1/auth/token/", {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def test_provision_then_port_out_verified_approved_completed_by_staff(db):
    agent = StaffFactory(email="agent@desk.test")
    manager = ManagerFactory(email="manager@desk.test")
    staff = _token_client(agent.email, PASSWORD)
    boss = _token_client(manager.email, PASSWORD)

    plans = staff.get("/api/v1/plans/").json()
    kixie = next(p for p in plans if p["policy"]["preset"] == "kixie" and p["rank"] == 1)

    # A manager provisions an account, its owner and two numbers (agents hold no add permissions).
    account = boss.post(
        "/api/v1/accounts/", {"name": "Acme Dental", "plan": kixie["id"], "port_out_pin": "8642"}, format="json"
    )
    assert account.status_code == 201, account.json()
    account = account.json()
    assert account["status"] == "active" and account["account_id"].startswith("AC-")
    assert "port_out_pin" not in account

    owner = boss.post(
        f"/api/v1/accounts/{account['id']}/members/",
        {"email": "ada@acme.test", "full_name": "Ada Owner", "role": "owner", "password": "porting-pass-2026"},
        format="json",
    )
    assert owner.status_code == 201, owner.json()
    assert owner.json()["role"] == "owner" and owner.json()["email"] == "ada@acme.test"
    numbers = [
        boss.post(f"/api/v1/accounts/{account['id']}/numbers/", {"number": n}, format="json").json()
        for n in ("+14155550101", "+14155550102")
    ]
    assert [n["status"] for n in numbers] == ["active", "active"]

    # The owner submits the port-out with their own token.
    customer = _token_client("ada@acme.test", "porting-pass-2026")
    created = customer.post(
        "/api/v1/tickets/",
        {
            "kind": "port_out",
            "account": account["id"],
            "full_name": "Ada Owner",
            "contact": "ada@acme.test",
            "numbers": [n["id"] for n in numbers],
            "gaining_carrier": "Telnyx",
            "authorized_name": "Ada Owner",
            "pin": "8642",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    ticket = created.json()
    assert ticket["state"] == "submitted" and ticket["channel"] == "api"
    assert ticket["available_transitions"] == ["withdraw"]
    url = f"/api/v1/tickets/{ticket['id']}/transitions/"

    # An agent verifies; approving is a manager's (agents get 403), who sets the FOC date; the agent completes.
    verified = staff.post(url, {"name": "verify"}, format="json")
    assert verified.status_code == 200, verified.json()
    assert verified.json()["state"] == "verified"
    assert staff.post(url, {"name": "approve"}, format="json").status_code == 403
    foc = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    approved = boss.post(url, {"name": "approve", "foc_date": foc}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["foc_date"] == foc
    completed = staff.post(url, {"name": "complete"}, format="json")
    assert completed.status_code == 200, completed.json()

    final = customer.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert final["state"] == "completed"
    # The customer reads "Support" where staff acted (SPEC §5); staff read who it was.
    assert [(h["transition"], h["target"], h["actor"]) for h in final["history"]] == [
        ("submit", "submitted", "ada@acme.test"),
        ("verify", "verified", "Support"),
        ("approve", "approved", "Support"),
        ("complete", "completed", "Support"),
    ]
    desk_view = staff.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert [h["actor"] for h in desk_view["history"]][1:] == [agent.email, manager.email, agent.email]
    assert {h["channel"] for h in final["history"]} == {"api"}
    listed = staff.get(f"/api/v1/accounts/{account['id']}/numbers/").json()["results"]
    assert {n["status"] for n in listed} == {"ported_out"}
