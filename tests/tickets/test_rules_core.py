"""Rules of issue 13: the reactivation window judged at the request (U7), add-on changes (A8, A9, A11) and the
worked example of "Adding a rule" (README)."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from accounts import services as provisioning
from accounts.exceptions import Refusal
from accounts.models import Account
from billing.models import AddOn, Policy
from tickets.models import Kind, State
from tickets.services import transition_ticket

from .conftest import KUSTOMER_ACKS

pytestmark = pytest.mark.django_db


def refusal(callable_, *args, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as caught:
        callable_(*args, **kwargs)
    return caught.value


def test_a_restart_asked_on_day_59_completes_on_day_61(cast, submit):
    # rule U7: the window is judged when the request arrived, not when staff complete it
    desk = cast("kustomer")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    desk.account.refresh_from_db()
    cancelled_at = desk.account.cancelled_at
    with time_machine.travel(cancelled_at + dt.timedelta(days=59)):
        back = submit(desk, Kind.REACTIVATION)
        back = transition_ticket(ticket=back, name="verify", actor=desk.agent)
    with time_machine.travel(cancelled_at + dt.timedelta(days=61)):
        back = transition_ticket(ticket=back, name="approve", actor=desk.manager)
        back = transition_ticket(ticket=back, name="complete", actor=desk.agent)
    assert back.state == State.COMPLETED
    desk.account.refresh_from_db()
    assert desk.account.status == Account.Status.ACTIVE and desk.account.purge_after is None


def test_a_restart_asked_on_day_61_is_refused(cast, submit):
    # rule U7: asked after the 60 days, refused whatever happens next
    desk = cast("kustomer")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    desk.account.refresh_from_db()
    with time_machine.travel(desk.account.cancelled_at + dt.timedelta(days=61)):
        assert refusal(submit, desk, Kind.REACTIVATION).code == "reactivation_closed"


# -- add-on changes (A8, A9, A11) -----------------------------------------------------------------------------

ASKER = {"full_name": "Ada Owner", "company": "Acme", "contact": "ada@acme.test"}


def test_call_insights_tier_changes_self_service_at_once(cast, submit):
    # rule A8
    desk = cast("avoxi")
    insights = provisioning.add_addon(account=desk.account, product="call_insights")
    ticket = submit(desk, Kind.ADDON_CHANGE, addon=insights, tier="Pro", **ASKER)
    assert ticket.route == "self_service" and ticket.state == State.COMPLETED
    assert [row.transition for row in ticket.log.all()] == ["submit", "verify", "approve", "complete"]
    insights.refresh_from_db()
    assert insights.tier == "Pro" and insights.status == AddOn.Status.ACTIVE


def test_number_testing_package_changes_self_service_and_down_again(cast, submit):
    # rule A9: up or down, at any time
    desk = cast("avoxi")
    testing = provisioning.add_addon(account=desk.account, product="number_testing")
    submit(desk, Kind.ADDON_CHANGE, addon=testing, tier="1,000 tests", **ASKER)
    submit(desk, Kind.ADDON_CHANGE, addon=testing, tier="100 tests", **ASKER)
    testing.refresh_from_db()
    assert testing.tier == "100 tests"
    assert refusal(submit, desk, Kind.ADDON_CHANGE, addon=testing, tier="100 tests", **ASKER).code == "invalid_request"


def test_jetpack_upgrade_goes_through_the_account_manager(cast, submit):
    # rule A11
    desk = cast("avoxi")
    desk.account.account_manager = desk.agent
    desk.account.save()
    jetpack = provisioning.add_addon(account=desk.account, product="jetpack")
    ticket = submit(desk, Kind.ADDON_CHANGE, addon=jetpack, tier="Jetpack Plus", **ASKER)
    assert ticket.route == "account_manager" and ticket.assignee == desk.agent and ticket.state == State.SUBMITTED
    ticket = transition_ticket(ticket=ticket, name="verify", actor=desk.agent)
    another_agent = cast("avoxi").agent  # not this account's manager
    refused = refusal(transition_ticket, ticket=ticket, name="approve", actor=another_agent)
    assert refused.code in {"requires_account_manager", "role_not_allowed"}
    ticket = transition_ticket(ticket=ticket, name="approve", actor=desk.manager)
    ticket = transition_ticket(ticket=ticket, name="complete", actor=desk.agent)
    jetpack.refresh_from_db()
    assert jetpack.tier == "Jetpack Plus"


def test_one_open_change_per_addon(cast, submit):
    # rule A11: a second change of the same add-on waits for the first
    desk = cast("avoxi")
    jetpack = provisioning.add_addon(account=desk.account, product="jetpack")
    submit(desk, Kind.ADDON_CHANGE, addon=jetpack, tier="Jetpack Plus", **ASKER)
    again = refusal(submit, desk, Kind.ADDON_CHANGE, addon=jetpack, tier="Jetpack Max", **ASKER)
    assert again.code == "already_requested"


def test_an_addon_change_needs_its_new_tier(cast, submit):
    # rule A8
    desk = cast("avoxi")
    insights = provisioning.add_addon(account=desk.account, product="call_insights")
    missing = refusal(submit, desk, Kind.ADDON_CHANGE, addon=insights, tier="  ", **ASKER)
    assert missing.code == "missing_required_info" and missing.field == "tier"


def test_an_addon_change_to_a_tier_the_policy_does_not_list_is_refused(cast, submit):
    # rule A8, A9: the tiers are the policy's data; "Banana Split" is not a Call Insights tier
    desk = cast("avoxi")
    insights = provisioning.add_addon(account=desk.account, product="call_insights", tier="Starter")
    refused = refusal(submit, desk, Kind.ADDON_CHANGE, addon=insights, tier="Banana Split", **ASKER)
    assert (refused.code, refused.field) == ("invalid_request", "tier")
    assert "Starter, Pro, Enterprise" in refused.detail
    insights.refresh_from_db()
    assert insights.tier == "Starter" and not desk.account.tickets.exists()
    # An add-on the policy lists no tiers for cannot be changed at all.
    trunk = provisioning.add_addon(account=desk.account, product="sip_trunk")
    assert refusal(submit, desk, Kind.ADDON_CHANGE, addon=trunk, tier="Gold", **ASKER).field == "tier"


# -- the worked example of "Adding a rule" (README) ---------------------------------------------------------


def test_no_account_cancellation_in_the_last_days_of_a_term(cast, submit):
    # rule "Adding a rule" (README): refuse account cancellations in the last 7 days of a contract term
    desk = cast("kustomer")
    Policy.objects.filter(pk=desk.policy.pk).update(refuse_cancellation_days_before_term_end=7)
    subscription = desk.account.subscription
    subscription.next_billing_date = timezone.localdate() + dt.timedelta(days=3)
    subscription.save()
    refused = refusal(submit, desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    assert refused.code == "term_ending" and "last 7 days" in refused.detail
    subscription.next_billing_date = timezone.localdate() + dt.timedelta(days=10)
    subscription.save()
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    assert ticket.state == State.COMPLETED


def test_the_term_end_rule_is_off_in_every_preset(cast, submit):
    assert set(Policy.objects.values_list("refuse_cancellation_days_before_term_end", flat=True)) == {0}
    desk = cast("kustomer")
    desk.account.subscription.next_billing_date = timezone.localdate()
    desk.account.subscription.save()
    assert submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS).pk
