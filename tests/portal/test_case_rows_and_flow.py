"""What a customer reads on the portal (issue 17): one line per case, money and numbers as people write them, the
next step of the state the case is in, a confirmation before withdrawing, Back in the cancellation flow, and the
case that blocks a cancellation linked from the page that says so."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services as provisioning
from billing.models import Plan
from tickets import services
from tickets.models import Kind, Ticket
from tickets.portal.selectors import cancellation_steps

pytestmark = pytest.mark.django_db


def dashboard(account):
    return reverse("portal:dashboard", args=[account.account_id])


def step_url(account, step=None):
    if step is None:
        return reverse("portal:cancel", args=[account.account_id])
    return reverse("portal:cancel_step", args=[account.account_id, step])


def text(response) -> str:
    """The page's words, tags removed, entities of quotes decoded."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").replace("&amp;", "&")


def cancel_licenses(people, quantity: int):
    license_ = people.account.licenses.get(product="contact_center")
    return services.submit_ticket(
        account=people.account,
        kind=Kind.LICENSE_CANCELLATION,
        requester=people.super_admin,
        request=services.Request(
            full_name="Sam Super", company="Acme", contact="sam@acme.test", license=license_, quantity=quantity
        ),
    )


def test_each_case_row_says_what_which_object_when_and_next_step(cast, signed_in):
    # rule A3 A2: the dashboard lists the open cases, each distinguishable at a glance
    people = cast("avoxi")
    provisioning.add_license(account=people.account, product="contact_center", quantity=10)
    number = provisioning.add_number(account=people.account, number="+12025550123")
    first = cancel_licenses(people, 2)
    services.transition_ticket(ticket=first, name="verify", actor=people.agent)
    number_case = services.submit_ticket(
        account=people.account,
        kind=Kind.NUMBER_CANCELLATION,
        requester=people.owner,
        request=services.Request(full_name="Olive", company="Acme", contact="o@acme.test", numbers=[number]),
    )
    page = text(signed_in(people.owner).get(dashboard(people.account)))
    assert "License cancellation: 2 × Contact Center license" in page
    assert "Number cancellation: (202) 555-0123" in page and "+12025550123" not in page
    # The verified case says what comes next for a verified case, the submitted one what comes next for it.
    assert "Verified: waiting for a support manager's approval." in page
    assert "An agent will verify it within business hours" in page
    # When: the day it was asked, in the account's time zone (AVOXI: America/New_York).
    asked = timezone.localtime(number_case.created_at, people.policy.tz)
    assert f"{asked:%-d %b %Y}" in page


def test_the_ticket_page_gives_the_next_step_of_its_state(avoxi_port_out, signed_in):
    # rule K11: the port-out's next steps as it moves; never "an agent will verify it" once verified
    people, ticket = avoxi_port_out
    client = signed_in(people.billing_admin)
    page_url = reverse("portal:ticket", args=[ticket.pk])
    services.transition_ticket(ticket=ticket, name="verify", actor=people.agent)
    page = text(client.get(page_url))
    assert "Port-out: (202) 555-0177 to Telnyx" in page
    assert "an agent will verify it" not in page.lower()
    assert "Next step: Verified: a support manager approves it and sets the day the numbers move." in page
    foc = dt.date(2026, 12, 3)
    services.transition_ticket(ticket=ticket, name="approve", actor=people.manager, foc_date=foc)
    assert "Approved: the numbers move on 3 Dec 2026." in text(client.get(page_url))


def test_times_on_the_ticket_page_are_in_the_accounts_time_zone(avoxi_port_out, signed_in):
    people, ticket = avoxi_port_out
    Ticket.objects.filter(pk=ticket.pk).update(created_at=dt.datetime(2026, 7, 1, 3, 30, tzinfo=dt.UTC))
    page = text(signed_in(people.billing_admin).get(reverse("portal:ticket", args=[ticket.pk])))
    assert "30 Jun 2026, 23:30 EDT" in page  # 03:30 UTC is the evening before in New York


def test_withdraw_asks_for_confirmation_first(avoxi_port_out, signed_in):
    # The button on the case is a link to a confirmation page (no JavaScript); only its POST withdraws.
    people, ticket = avoxi_port_out
    client = signed_in(people.billing_admin)
    withdraw_url = reverse("portal:ticket_withdraw", args=[ticket.pk])
    case_page = client.get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert f'href="{withdraw_url}"' in case_page
    confirm = client.get(withdraw_url)
    assert confirm.status_code == 200
    assert "Withdraw case" in text(confirm) and "Yes, withdraw it" in text(confirm)
    ticket.refresh_from_db()
    assert ticket.state == "submitted"  # looking is not withdrawing
    client.post(withdraw_url)
    ticket.refresh_from_db()
    assert ticket.state == "withdrawn"
    # Once withdrawn, the confirmation page is not offered again.
    assert client.get(withdraw_url).url == reverse("portal:ticket", args=[ticket.pk])


def test_back_on_every_step_keeps_the_answers(cast, signed_in):
    # rule S2 S5 U4: the customer can go back through the flow without losing what they answered
    people = cast("smrtphone")
    client = signed_in(people.owner)
    client.post(step_url(people.account))
    client.post(step_url(people.account, "survey"), {"reason": "low_quality", "comment": "Calls drop"})
    client.post(step_url(people.account, "offers"), {"action": "continue"})
    client.post(step_url(people.account, "preview"))
    acknowledgements = {key: "on" for key in people.policy.acknowledgements}
    client.post(step_url(people.account, "acknowledge"), acknowledgements)
    steps = cancellation_steps(people.account, "owner", "low_quality")
    assert steps == ["survey", "offers", "preview", "acknowledge", "verify"]
    for step, previous in zip(steps[1:], steps, strict=False):
        page = client.get(step_url(people.account, step)).content.decode()
        assert f'href="{step_url(people.account, previous)}">Back</a>' in page, step
    survey = client.get(step_url(people.account, "survey")).content.decode()
    assert 'value="low_quality" required id="id_reason_1" checked' in survey or re.search(
        r'value="low_quality"[^>]*checked', survey
    )
    assert "Calls drop" in survey
    acknowledge = client.get(step_url(people.account, "acknowledge")).content.decode()
    assert acknowledge.count("checked") == len(people.policy.acknowledgements)


def test_acknowledgement_boxes_sit_beside_their_statements(cast, signed_in):
    # rule S5: the box and its statement are one label, the box first
    people = cast("smrtphone")
    client = signed_in(people.owner)
    client.post(step_url(people.account))
    client.post(step_url(people.account, "survey"), {"reason": "unused"})
    client.post(step_url(people.account, "preview"))
    page = client.get(step_url(people.account, "acknowledge")).content.decode()
    assert re.search(r'<label for="id_numbers_lost"><input type="checkbox"[^>]*> Phone numbers that', page)


def test_pending_port_out_blocks_cancellation_and_the_page_links_it(cast, signed_in):
    # rule S10: the page that says a port-out blocks the cancellation links the port-out's case
    people = cast("smrtphone")
    number = provisioning.add_number(account=people.account, number="+12025550188")
    port_out = services.submit_ticket(
        account=people.account,
        kind=Kind.PORT_OUT,
        requester=people.owner,
        request=services.Request(
            numbers=[number], gaining_carrier="Telnyx", authorized_name=people.owner.full_name, pin="1234"
        ),
    )
    page = signed_in(people.owner).get(step_url(people.account)).content.decode()
    assert "All port-outs must be complete" in page
    assert f'href="{reverse("portal:ticket", args=[port_out.pk])}">Case #{port_out.pk}</a>' in page


def test_an_open_cancellation_with_the_account_manager_is_linked(cast, signed_in):
    # rule U3: a Premium cancellation goes to the customer-success manager; starting again shows that case
    premium = Plan.objects.get(policy__preset="kustomer_premium")
    people = cast("kustomer_premium", plan=premium)
    people.account.account_manager = people.manager
    people.account.save()
    case = services.submit_ticket(
        account=people.account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=people.owner,
        request=services.Request(reason="other", acknowledgements=list(people.policy.acknowledgements)),
    )
    assert case.route == "account_manager"
    page = text(signed_in(people.owner).get(step_url(people.account)))
    assert "already has an open account cancellation request" in page
    assert "It is with your account manager." in page
    assert f"Case #{case.pk}" in page
    assert (
        f'href="{reverse("portal:ticket", args=[case.pk])}"'
        in signed_in(people.owner).get(step_url(people.account)).content.decode()
    )
    dashboard_page = text(signed_in(people.owner).get(dashboard(people.account)))
    assert "Your account manager takes it from here" in dashboard_page


def test_a_role_that_may_not_cancel_reads_an_article_that_fits(cast, signed_in):
    # rule S4: "may not request an account cancellation", not "a account cancellation"
    people = cast("smrtphone")
    page = text(signed_in(people.super_admin).get(step_url(people.account)))
    assert "may not request an account cancellation; allowed: Owner." in page
    assert "a account" not in page


def test_the_smrtphone_done_page_names_the_account(cast, signed_in):
    # rule S6: the purge at completion replaces the account's name; the done page still names it
    people = cast("smrtphone")
    name = people.account.name
    client = signed_in(people.owner)
    client.post(step_url(people.account))
    client.post(step_url(people.account, "survey"), {"reason": "unused"})
    client.post(step_url(people.account, "preview"))
    client.post(step_url(people.account, "acknowledge"), {k: "on" for k in people.policy.acknowledgements})
    done = client.post(step_url(people.account, "verify"), {"confirmation": "CONFIRM"})
    page = text(client.get(done.url))
    assert f"Account cancellation of {name} ({people.account.account_id})" in page
