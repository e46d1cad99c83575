"""Issue 24, context bullet "Size": a 20 MB email rendered whole in its admin page (21 MB of HTML) and in
`/api/v1/inbound/`. Both now show a bounded preview, with the whole text and the email as received as downloads
for staff who read the email channel (tickets.access.may_read_email)."""

import pytest
from rest_framework.authtoken.models import Token

from accounts.models import User
from tests.inbound.conftest import email_bytes
from tickets.inbound.preview import PREVIEW_CHARS
from tickets.inbound.services import receive

BODY_BYTES = 20 * 1024 * 1024
PAGE_BOUND = 200 * 1024  # an admin page with its preview, forms and links; the whole text alone is 100 times more


@pytest.fixture(scope="module")
def twenty_mb():
    """A 20 MB email whose text is its body (the issue's case), lines of 70 characters, ending with a marker."""
    line = "Please cancel everything, all of it, every line, number and license.\n"
    body = line * (BODY_BYTES // len(line)) + "THE VERY END\n"
    return email_bytes(sender="Pat <pat@customer.test>", subject="A very long letter", body=body)


@pytest.fixture
def big(twenty_mb, db):
    message = receive(twenty_mb, source="file")
    assert message.status == "triage" and len(message.text) > BODY_BYTES * 0.99
    return message


def test_the_admin_page_of_a_20_mb_email_is_small_and_offers_the_whole_as_a_download(client, cast, big):
    client.force_login(cast("avoxi").manager)
    page = client.get(f"/admin/inbound/inboundmessage/{big.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert len(page.content) < PAGE_BOUND, len(page.content)
    assert "Please cancel everything" in html and "THE VERY END" not in html
    assert "more kB" in html  # the cut says how much more there is
    text_url = f"/admin/inbound/inboundmessage/{big.pk}/download/text/"
    raw_url = f"/admin/inbound/inboundmessage/{big.pk}/download/raw/"
    assert text_url in html and raw_url in html

    text = client.get(text_url)
    assert text.status_code == 200
    assert text["Content-Disposition"].startswith("attachment;")
    assert text.content.decode().rstrip().endswith("THE VERY END")
    raw = client.get(raw_url)
    assert raw["Content-Disposition"].startswith("attachment;") and raw["Content-Type"] == "message/rfc822"
    assert raw.content.startswith(b"From: Pat <pat@customer.test>") and len(raw.content) > BODY_BYTES


def test_the_api_item_of_a_20_mb_email_is_bounded_with_links_to_the_whole(client, cast, big):
    token = Token.objects.create(user=cast("avoxi").agent).key
    response = client.get("/api/v1/inbound/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert len(response.content) < PAGE_BOUND, len(response.content)
    [item] = response.json()["results"]
    assert len(item["text"]) == PREVIEW_CHARS and item["text"].startswith("Please cancel everything")
    assert item["text_more_kb"] > 19_000
    whole = client.get(item["text_url"], HTTP_AUTHORIZATION=f"Token {token}")
    assert whole.status_code == 200 and whole["Content-Disposition"].startswith("attachment;")
    assert whole.content.decode().rstrip().endswith("THE VERY END")
    raw = client.get(item["raw_url"], HTTP_AUTHORIZATION=f"Token {token}")
    assert raw.status_code == 200 and raw["Content-Type"] == "message/rfc822" and len(raw.content) > BODY_BYTES


def test_a_short_email_is_shown_whole_with_nothing_more(client, cast):
    message = receive(email_bytes(body="Cancel line 2, please.\n"), source="file")
    token = Token.objects.create(user=cast("avoxi").agent).key
    [item] = client.get("/api/v1/inbound/", HTTP_AUTHORIZATION=f"Token {token}").json()["results"]
    assert (item["id"], item["text"], item["text_more_kb"]) == (message.pk, "Cancel line 2, please.", 0)


def test_only_staff_who_read_the_email_channel_download_it(client, cast):
    message = receive(email_bytes(body="Our account number is 12345.\n"), source="file")
    desk = cast("avoxi")
    bare_staff = User.objects.create_user(email="temp@exitdesk.test", password="x-pass-2026", is_staff=True)
    for part in ("text", "raw"):
        admin_url = f"/admin/inbound/inboundmessage/{message.pk}/download/{part}/"
        api_url = f"/api/v1/inbound/{message.pk}/{part}/"
        assert client.get(admin_url).status_code == 302  # signed out: to the admin's sign-in page
        assert client.get(api_url).status_code in (401, 403)
        for user in (desk.owner, bare_staff):
            client.force_login(user)
            admin_status = client.get(admin_url).status_code
            assert admin_status in (302, 403), (user, admin_status)  # the admin keeps customers out altogether
            answer = client.get(api_url)
            assert answer.status_code == 403 and b"12345" not in answer.content
            client.logout()
        client.force_login(desk.agent)
        assert b"12345" in client.get(admin_url).content
        assert b"12345" in client.get(api_url).content
        client.logout()
    client.force_login(desk.agent)
    assert client.get(f"/admin/inbound/inboundmessage/{message.pk}/download/other/").status_code == 404
    assert client.get(f"/admin/inbound/inboundmessage/{message.pk + 1000}/download/raw/").status_code == 404
    assert client.get(f"/api/v1/inbound/{message.pk + 1000}/raw/").status_code == 404
