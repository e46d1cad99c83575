"""SPEC §6, Data export: before cancelling, the account-wide roles download the account's data as one archive
(Kustomer: "save any necessary information before canceling"; U6: once the retention period ends it is gone)."""

import csv
import io
import json
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as provisioning
from accounts.models import AccountEvent
from tests.factories import PIN
from tickets.models import Comment, Kind
from tickets.services import Request, submit_ticket, transition_ticket

pytestmark = pytest.mark.django_db


def export_url(account) -> str:
    return reverse("portal:account_export", args=[account.account_id])


def archive_of(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def csv_rows(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


@pytest.fixture
def kustomer(cast):
    """A Kustomer account with numbers, invoices, a license and a port-out the owner asked for, on which the desk
    left a private comment, a public one and a staff note."""
    people = cast("kustomer")
    account = people.account
    people.numbers = [provisioning.add_number(account=account, number=f"+1415555020{i}") for i in range(2)]
    provisioning.add_invoice(account=account, amount="49.00", due_date="2030-01-01", status="paid")
    provisioning.add_invoice(account=account, amount="51.50", due_date="2030-02-01", status="open")
    provisioning.add_license(account=account, product="agent_seat", quantity=4)
    people.case = submit_ticket(
        account=account,
        kind=Kind.PORT_OUT,
        requester=people.owner,
        request=Request(
            numbers=[people.numbers[0]], gaining_carrier="Telnyx", authorized_name=people.owner.full_name, pin=PIN
        ),
    )
    Comment.objects.create(ticket=people.case, author=people.agent, body="private-probe-5521", public=False)
    Comment.objects.create(ticket=people.case, author=people.agent, body="We are on it", public=True)
    transition_ticket(ticket=people.case, name="verify", actor=people.agent, note="staff-note-5521")
    return people


def test_the_owner_downloads_the_accounts_cases_invoices_and_numbers(kustomer, client):
    # rule U6 (SPEC §6: save the account's data before it is deleted)
    client.force_login(kustomer.owner)
    page = client.get(reverse("portal:dashboard", args=[kustomer.account.account_id])).content.decode()
    assert export_url(kustomer.account) in page  # offered on the account page
    archive = archive_of(client.get(export_url(kustomer.account)))
    names = set(archive.namelist())
    for part in ("cases", "case_comments", "invoices", "numbers", "licenses", "members"):
        assert {f"{part}.csv", f"{part}.json"} <= names
    cases = csv_rows(archive, "cases.csv")
    assert [(row["case"], row["kind"], row["numbers"]) for row in cases] == [
        (str(kustomer.case.pk), "port_out", "+14155550200")
    ]
    assert json.loads(archive.read("cases.json"))[0]["gaining_carrier"] == "Telnyx"
    assert sorted(row["amount"] for row in csv_rows(archive, "invoices.csv")) == ["49.00", "51.50"]
    assert [row["number"] for row in csv_rows(archive, "numbers.csv")] == ["+14155550200", "+14155550201"]
    assert {m["email"] for m in json.loads(archive.read("members.json"))} >= {kustomer.owner.email}
    manifest = json.loads(archive.read("account.json"))
    assert manifest["account_id"] == kustomer.account.account_id and manifest["files"]["invoices"]["rows"] == 2


def test_the_download_is_offered_on_the_cancellation_preview(kustomer, client):
    # rule U6
    client.force_login(kustomer.owner)
    client.post(reverse("portal:cancel", args=[kustomer.account.account_id]))
    client.post(
        reverse("portal:cancel_step", args=[kustomer.account.account_id, "survey"]),
        {"reason": "too_expensive", "comment": ""},
    )
    client.post(reverse("portal:cancel_step", args=[kustomer.account.account_id, "offers"]), {"action": "continue"})
    preview = client.get(reverse("portal:cancel_step", args=[kustomer.account.account_id, "preview"]))
    assert preview.status_code == 200 and "Deleted" in preview.content.decode()
    assert export_url(kustomer.account) in preview.content.decode()


def test_the_archive_holds_nothing_only_staff_see(kustomer, client):
    # SPEC §5: no PIN, check results, private comments, staff notes or staff emails
    client.force_login(kustomer.super_admin)
    archive = archive_of(client.get(export_url(kustomer.account)))
    everything = b"\n".join(archive.read(name) for name in archive.namelist()).decode()
    for secret in ("private-probe-5521", "staff-note-5521", kustomer.agent.email, PIN, kustomer.account.port_out_pin):
        assert secret not in everything
    for part in ("cases.json", "cases.csv"):
        assert "checks" not in archive.read(part).decode() and "assignee" not in archive.read(part).decode()
    comments = csv_rows(archive, "case_comments.csv")
    assert [(c["author"], c["body"]) for c in comments] == [("Support", "We are on it")]


def test_a_plain_member_and_other_accounts_are_refused(kustomer, client):
    # rule U1 (account-wide roles only): a member is refused as the portal refuses a role; another account is a 404
    client.force_login(kustomer.member)
    page = client.get(reverse("portal:dashboard", args=[kustomer.account.account_id])).content.decode()
    assert export_url(kustomer.account) not in page
    assert client.get(export_url(kustomer.account)).status_code == 403
    client.force_login(kustomer.outsider)
    assert client.get(export_url(kustomer.account)).status_code == 404
    api = APIClient()
    for user, status in ((kustomer.member, 403), (kustomer.outsider, 404), (kustomer.agent, 403)):
        api.force_authenticate(user)
        assert api.get(f"/api/v1/accounts/{kustomer.account.pk}/export/").status_code == status
    assert not AccountEvent.objects.filter(kind=AccountEvent.Kind.DATA_EXPORTED).exists()


def test_every_download_is_logged_on_the_account(kustomer, client):
    # SPEC §6: who, when, which account
    client.force_login(kustomer.billing_admin)
    archive_of(client.get(export_url(kustomer.account)))
    api = APIClient()
    api.force_authenticate(kustomer.owner)
    archive_of(api.get(f"/api/v1/accounts/{kustomer.account.pk}/export/"))
    events = AccountEvent.objects.filter(account=kustomer.account, kind=AccountEvent.Kind.DATA_EXPORTED)
    assert [event.actor for event in events.order_by("pk")] == [kustomer.billing_admin, kustomer.owner]
    assert all(event.at is not None and "1 cases" in event.note for event in events)


def test_the_export_reads_in_a_constant_number_of_queries(kustomer, client):
    # memory and queries stay flat: rows are read in chunks, never one query per row
    client.force_login(kustomer.owner)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            archive_of(client.get(export_url(kustomer.account)))
        return len(captured.captured_queries)

    before = queries()
    for i in range(2, 12):
        number = provisioning.add_number(account=kustomer.account, number=f"+141555502{i:02d}")
        provisioning.add_invoice(account=kustomer.account, amount="10.00", due_date="2030-03-01")
        submit_ticket(
            account=kustomer.account,
            kind=Kind.NUMBER_CANCELLATION,
            requester=kustomer.owner,
            request=Request(numbers=[number], full_name="Ada", company="Acme", contact="ada@acme.test"),
        )
    assert queries() == before
