"""The portal's add-on change form (A8, A9, A11): the request_form pattern, routed as the add-on's cancellation."""

import pytest
from django.urls import reverse

from accounts import services as provisioning
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CONTACT = {"full_name": "Sam Admin", "company": "Acme (AC-1)", "contact": "sam@example.test"}


def test_an_owner_changes_call_insights_tier_in_the_portal(cast, signed_in):
    # rule A8
    people = cast("avoxi")
    insights = provisioning.add_addon(account=people.account, product="call_insights")
    client = signed_in(people.owner)
    url = reverse("portal:request", args=[people.account.account_id, "addon_change"]) + f"?addon={insights.pk}"
    page = client.get(url).content.decode()
    assert "New tier or package" in page and "moves to the tier you choose now" in page
    response = client.post(url, {"addon": insights.pk, "tier": "Pro", **CONTACT})
    ticket = Ticket.objects.get()
    assert (ticket.kind, ticket.state, ticket.tier) == ("addon_change", "completed", "Pro")
    assert response.url == reverse("portal:ticket", args=[ticket.pk])
    insights.refresh_from_db()
    assert insights.tier == "Pro"


def test_a_jetpack_change_page_says_it_goes_to_the_account_manager(cast, signed_in):
    # rule A11
    people = cast("avoxi")
    jetpack = provisioning.add_addon(account=people.account, product="jetpack")
    client = signed_in(people.owner)
    url = reverse("portal:request", args=[people.account.account_id, "addon_change"]) + f"?addon={jetpack.pk}"
    assert "through your account manager" in client.get(url).content.decode()
