"""Statements of the source articles no rule id covered (issue 23), as the customer reads them in the portal: the
Jetpack pages name AVOXI's support address, smrtPhone's impact preview says the CRM is not touched, and a Kixie
account downgraded to Integrated may move back up to the plan it left."""

import pytest
from django.urls import reverse

from accounts import services as provisioning
from tests.portal.test_cancellation_flow import run_to, url

pytestmark = pytest.mark.django_db


def test_smrtphone_preview_says_the_crm_is_not_touched(cast, signed_in):
    # rule S9: "smrtPhone will not delete or modify anything from your CRM workspace, nothing will be touched"
    people = cast("smrtphone")
    client = signed_in(people.owner)
    run_to(client, people.account, "preview")
    page = client.get(url(people.account, "preview")).content.decode()
    assert "Kept outside smrtPhone" in page
    assert "Nothing in your CRM workspace (its contacts and call and text logs) is deleted or changed" in page


def test_the_crm_sentence_is_the_policys_to_say(cast, signed_in):
    # rule S9 is smrtPhone's statement: another preset's preview says nothing of a CRM until its policy does
    people = cast("kustomer")
    client = signed_in(people.owner)
    run_to(client, people.account, "preview")
    assert "cancelling never touches it" not in client.get(url(people.account, "preview")).content.decode()
    people.policy.external_data_untouched = "your help-centre articles"
    people.policy.save(update_fields=["external_data_untouched"])
    page = client.get(url(people.account, "preview")).content.decode()
    assert "Nothing in your help-centre articles is deleted or changed" in page


@pytest.mark.parametrize("kind", ["addon_cancellation", "addon_change"])
def test_the_jetpack_pages_show_avoxis_support_address(cast, signed_in, kind):
    # rule A11: "reach out to your Account Manager ... or email the customer support team at service@avoxi.com"
    people = cast("avoxi")
    jetpack = provisioning.add_addon(account=people.account, product="jetpack")
    client = signed_in(people.owner)
    page = client.get(reverse("portal:request", args=[people.account.account_id, kind]) + f"?addon={jetpack.pk}")
    html = page.content.decode()
    assert "through your account manager" in html
    assert "You can also reach AVOXI's support team" in html
    assert '<a href="mailto:service@avoxi.com">service@avoxi.com</a>' in html


def test_the_support_address_comes_from_the_policy(cast, signed_in):
    # rule A11, as data: the address shown is the policy's contact route, and only on the account manager's route
    people = cast("avoxi")
    people.policy.support_email = "jetpack-desk@example.test"
    people.policy.save(update_fields=["support_email"])
    jetpack = provisioning.add_addon(account=people.account, product="jetpack")
    insights = provisioning.add_addon(account=people.account, product="call_insights")
    client = signed_in(people.owner)
    base = reverse("portal:request", args=[people.account.account_id, "addon_cancellation"])
    assert "mailto:jetpack-desk@example.test" in client.get(f"{base}?addon={jetpack.pk}").content.decode()
    assert "mailto:jetpack-desk@example.test" not in client.get(f"{base}?addon={insights.pk}").content.decode()


def test_a_downgraded_kixie_owner_is_offered_the_way_back_up(cast, signed_in):
    # rules K1, K2: "You may downgrade your Kixie agents to the lowest plan ... until you decide to start
    # fully-utilizing the service again"
    from billing.models import Plan
    from tickets.models import Ticket
    from tickets.services import Request, submit_ticket, transition_ticket

    integrated, power_dialer = Plan.objects.get(name="Integrated"), Plan.objects.get(name="Power Dialer")
    people = cast("kixie", plan=power_dialer)
    down = submit_ticket(
        account=people.account, kind="downgrade", requester=people.owner, request=Request(plan=integrated)
    )
    for name, actor in (("verify", people.agent), ("approve", people.manager), ("complete", people.agent)):
        transition_ticket(ticket=down, name=name, actor=actor)
    client = signed_in(people.owner)
    dashboard = client.get(reverse("portal:dashboard", args=[people.account.account_id])).content.decode()
    assert "Move back up to Power Dialer" in dashboard
    form_url = reverse("portal:request", args=[people.account.account_id, "downgrade"])
    page = client.get(form_url).content.decode()
    assert "Change the plan" in page and "You downgraded from Power Dialer" in page
    assert "Power Dialer: $95.00 USD per seat a month" in page
    response = client.post(form_url, {"plan": power_dialer.pk, "full_name": "Sam", "contact": "sam@example.test"})
    assert response.status_code == 302, response.content.decode()[:2000]
    up = Ticket.objects.exclude(pk=down.pk).get(kind="downgrade")
    assert up.target_plan == power_dialer and up.requester == people.owner
