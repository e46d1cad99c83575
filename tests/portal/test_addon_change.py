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


def test_the_products_page_shows_each_addons_tier_with_a_change_link(cast, signed_in):
    # rule A8, A9: the tier the add-on is on, and Change where the policy lists tiers and the role may ask
    people = cast("avoxi")
    testing = provisioning.add_addon(account=people.account, product="number_testing", tier="500 tests")
    trunk = provisioning.add_addon(account=people.account, product="sip_trunk", name="Office PBX trunk")
    products = reverse("portal:products", args=[people.account.account_id])
    change = reverse("portal:request", args=[people.account.account_id, "addon_change"])
    page = signed_in(people.owner).get(products).content.decode()
    assert "Tier: 500 tests" in page
    assert f'href="{change}?addon={testing.pk}">Change</a>' in page
    assert f"{change}?addon={trunk.pk}" not in page  # no tiers: nothing to change to
    # The change page offers the policy's other tiers as a list, not a free-text box.
    form = signed_in(people.owner).get(f"{change}?addon={testing.pk}").content.decode()
    assert '<option value="1,000 tests">' in form and '<option value="500 tests">' not in form
    assert '<option value="Banana Split">' not in form


def test_a_forged_tier_in_the_portal_is_an_error_on_the_field(cast, signed_in):
    # rule A8
    people = cast("avoxi")
    insights = provisioning.add_addon(account=people.account, product="call_insights")
    url = reverse("portal:request", args=[people.account.account_id, "addon_change"])
    response = signed_in(people.owner).post(url, {"addon": insights.pk, "tier": "Banana Split", **CONTACT})
    assert response.status_code == 400 or response.context["form"].errors
    assert "tier" in response.context["form"].errors and not Ticket.objects.exists()
