"""K1, K2: Kixie's customers downgrade "until you decide to start fully-utilizing the service again": where the
policy makes a downgrade reversible, the account may move back up to the plan the downgrade left, as a request of
the downgrade kind (its roles and its route), and to no higher plan than that (issue 23's seed statements)."""

import pytest

from accounts.exceptions import Refusal
from billing.models import Plan, Subscription
from tickets.models import Kind, State
from tickets.services import transition_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans(db):
    return Plan.objects.get(name="Integrated"), Plan.objects.get(name="Power Dialer")


def _worked(desk, ticket):
    for name, actor in (("verify", desk.agent), ("approve", desk.manager), ("complete", desk.agent)):
        ticket = transition_ticket(ticket=ticket, name=name, actor=actor)
    return ticket


def _downgraded(cast, submit, plans):
    """A Kixie account that was on Power Dialer and downgraded to Integrated (K1's alternative to a hold)."""
    integrated, power_dialer = plans
    desk = cast("kixie", plan=power_dialer)
    _worked(desk, submit(desk, Kind.DOWNGRADE, plan=integrated))
    desk.account.refresh_from_db()
    assert desk.account.plan == integrated
    return desk


def test_a_downgraded_kixie_account_moves_back_up_to_the_plan_it_left(cast, submit, plans):
    # rules K1, K2: "until you decide to start fully-utilizing the service again"
    integrated, power_dialer = plans
    desk = _downgraded(cast, submit, plans)
    assert Subscription.objects.get(account=desk.account).downgraded_from == power_dialer
    ticket = submit(desk, Kind.DOWNGRADE, plan=power_dialer)
    assert ticket.target_plan == power_dialer and ticket.route == "support_case"  # the downgrade's route
    assert _worked(desk, ticket).state == State.COMPLETED
    desk.account.refresh_from_db()
    assert desk.account.plan == power_dialer
    subscription = Subscription.objects.get(account=desk.account)
    assert subscription.next_bill == power_dialer.price_per_seat * subscription.seats
    # Back where it was, nothing is left to move back up to.
    assert subscription.downgraded_from is None


def test_an_account_never_downgraded_cannot_move_up_by_a_downgrade(cast, submit, plans):
    # rule K2: the downgrade kind moves an account down; only a downgrade's own plan may be asked back
    integrated, power_dialer = plans
    desk = cast("kixie", plan=integrated)
    with pytest.raises(Refusal) as refused:
        submit(desk, Kind.DOWNGRADE, plan=power_dialer)
    assert refused.value.code == "invalid_plan"


def test_moving_back_up_is_the_policys_to_allow(cast, submit, plans):
    # rules K1, K2 are Kixie's: a provider whose policy says nothing of it does not take a downgrade back
    integrated, power_dialer = plans
    desk = _downgraded(cast, submit, plans)
    desk.policy.downgrade_reversible = False
    desk.policy.save(update_fields=["downgrade_reversible"])
    desk.account.refresh_from_db()
    with pytest.raises(Refusal) as refused:
        submit(desk, Kind.DOWNGRADE, plan=power_dialer)
    assert refused.value.code == "invalid_plan"
    assert "back up" not in refused.value.detail


def test_moving_back_up_is_self_service_where_the_policy_routes_it_so(cast, submit, plans):
    # rules K1, K2 with the route from the policy: a self-service plan change completes at once
    integrated, power_dialer = plans
    desk = _downgraded(cast, submit, plans)
    desk.policy.kind_routes = {**desk.policy.kind_routes, "downgrade": "self_service"}
    desk.policy.save(update_fields=["kind_routes"])
    desk.account.refresh_from_db()
    ticket = submit(desk, Kind.DOWNGRADE, plan=power_dialer)
    assert ticket.state == State.COMPLETED
    desk.account.refresh_from_db()
    assert desk.account.plan == power_dialer


def test_an_agent_records_the_move_back_up_taken_by_email(client, cast, submit, plans):
    # rules K1, K2 with Kixie's route: "Email and we can help you do this", so the agent records it in the admin
    from django.urls import reverse

    integrated, power_dialer = plans
    desk = _downgraded(cast, submit, plans)
    client.force_login(desk.agent)
    url = reverse("admin:tickets_ticket_add")
    form = client.get(url, {"account": desk.account.pk}).context["form"]
    assert list(form.fields["plan"].queryset) == [power_dialer]
    client.post(
        url,
        {
            "account": desk.account.pk,
            "requester": desk.owner.pk,
            "kind": "downgrade",
            "channel": "email",
            "plan": power_dialer.pk,
            "full_name": "Owner",
            "contact": desk.owner.email,
        },
    )
    recorded = desk.account.tickets.filter(kind="downgrade", target_plan=power_dialer).get()
    assert recorded.channel == "email" and recorded.state == State.SUBMITTED
