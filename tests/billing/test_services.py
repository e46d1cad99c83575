"""The bill follows the requests (issue 23): a license cancellation lowers the seats billed (K5), every page says
"too late for this bill" from one function (K5), and a reactivation restores a billable account (K9, U7)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts import services as provisioning
from accounts.models import Account
from billing.models import AddOn, License, Plan, Subscription
from billing.services import coming_bill, next_period_boundary
from tickets.models import Kind, State
from tickets.services import Request, submit_ticket, transition_ticket

pytestmark = pytest.mark.django_db

# Monday 23 November 2026, 10:00 Pacific: inside Kixie's intake hours (K6).
MONDAY_10AM_PACIFIC = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)
KUSTOMER_ACKS = ["access_removed", "data_saved", "data_deleted_after_retention"]


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """Emails are sent in-process, broker or not."""


@pytest.fixture
def kixie(cast):
    """A Kixie account on Power Dialer ($95 a seat) with 5 agent seats, its card on file, in business hours."""
    with time_machine.travel(MONDAY_10AM_PACIFIC, tick=False):
        desk = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", name="Power Dialer"))
        provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
        provisioning.add_license(account=desk.account, product="agent_seat", quantity=5)
        Subscription.objects.filter(account=desk.account).update(seats=5, next_billing_date=dt.date(2026, 12, 7))
        yield desk


def work(ticket, desk, *names, **evidence):
    for name in names:
        actor = desk.manager if name == "approve" else desk.agent
        ticket = transition_ticket(ticket=ticket, name=name, actor=actor, **evidence)
    return ticket


def submit(desk, kind, *, requester=None, channel="web", actor=None, **fields):
    return submit_ticket(
        account=desk.account,
        kind=kind,
        requester=requester or desk.owner,
        request=Request(**fields),
        channel=channel,
        actor=actor,
    )


# -- K5: the seats billed follow the license cancellations --------------------------------------------------------


def test_cancelling_two_of_five_agent_seats_lowers_the_next_bill(kixie, client):
    # rule K5: the portal's "next bill … N seats, $X" reads the seats that remain
    seats = License.objects.get(account=kixie.account, product="agent_seat")
    ticket = submit(kixie, Kind.LICENSE_CANCELLATION, license=seats, quantity=2)
    ticket = work(ticket, kixie, "verify", "approve", "complete", card_last4="4242")
    assert ticket.state == State.COMPLETED
    client.force_login(kixie.owner)
    page = client.get(reverse("portal:dashboard", args=[kixie.account.account_id])).content.decode()
    assert "next bill on 7 Dec 2026 for 3 seats, $285.00 USD" in page
    assert Subscription.objects.get(account=kixie.account).seats == 3


def test_a_license_that_is_not_the_plans_seat_leaves_the_seats_billed(cast):
    # rule K5, A10: AVOXI bills agent seats; cancelling Contact Center licenses does not change the seat count
    desk = cast("avoxi")
    provisioning.add_license(account=desk.account, product="contact_center", quantity=5)
    Subscription.objects.filter(account=desk.account).update(seats=10)
    centre = License.objects.get(account=desk.account, product="contact_center")
    info = {"full_name": "Sol Super", "company": "Acme", "contact": "sol@acme.test"}
    ticket = submit(desk, Kind.LICENSE_CANCELLATION, requester=desk.super_admin, license=centre, quantity=2, **info)
    work(ticket, desk, "verify", "approve", "complete", card_last4="")
    assert License.objects.get(pk=centre.pk).quantity == 3
    assert Subscription.objects.get(account=desk.account).seats == 10


# -- K5: "too late for this bill", said once ----------------------------------------------------------------------


def test_on_the_billing_day_the_intake_page_and_the_admin_both_say_too_late(kixie, client):
    # rule K5: the Kixie intake page (K6: phone or email only) and the agent's desk read one function
    with time_machine.travel(MONDAY_10AM_PACIFIC, tick=False):
        Subscription.objects.filter(account=kixie.account).update(next_billing_date=dt.date(2026, 11, 23))
        bill = coming_bill(kixie.account)
        assert bill.too_late and bill.advice.startswith("Too late for this bill")
        client.force_login(kixie.owner)
        intake = client.get(reverse("portal:cancel", args=[kixie.account.account_id])).content.decode()
        assert "Your next bill is on 23 Nov 2026 for 5 seats, $475.00 USD." in intake
        assert bill.advice in intake
        assert "to avoid it" not in intake
        ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent)
        client.force_login(kixie.agent)
        desk = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
        assert "This request arrived on 23 Nov 2026. " + bill.advice in desk


def test_the_day_before_the_billing_day_both_say_how_to_avoid_it(kixie, client):
    # rule K5: Kixie counts no days back (billing_cutoff_days 0): the day before is still in time
    with time_machine.travel(MONDAY_10AM_PACIFIC, tick=False):
        Subscription.objects.filter(account=kixie.account).update(next_billing_date=dt.date(2026, 11, 24))
        advice = "Cancel or change the account before 24 Nov 2026 to avoid it."
        assert coming_bill(kixie.account).advice == advice
        client.force_login(kixie.owner)
        assert advice in client.get(reverse("portal:cancel", args=[kixie.account.account_id])).content.decode()
        ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent)
        client.force_login(kixie.agent)
        assert advice in client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()


# -- K9, U7: a reactivation restores a billable account -----------------------------------------------------------


def test_kixie_reactivated_1100_days_on_is_billed_next_on_a_future_date_for_its_seats(kixie, client):
    # rule K9: the next billing date is the first of its monthly cycle after the reactivation (the 7th), never the
    # date left in the past; the seats and licenses are those at the cancellation
    with time_machine.travel(MONDAY_10AM_PACIFIC, tick=False):
        ticket = submit(kixie, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=kixie.agent, card_last4="4242")
        work(ticket, kixie, "approve", "complete")
    assert Subscription.objects.get(account=kixie.account).status == Subscription.Status.ENDED
    with time_machine.travel(MONDAY_10AM_PACIFIC + dt.timedelta(days=1100), tick=False):  # Tue 27 Nov 2029
        back = submit(kixie, Kind.REACTIVATION, channel="email", actor=kixie.agent)
        work(back, kixie, "verify", "approve", "complete")
        assert Account.objects.get(pk=kixie.account.pk).status == Account.Status.ACTIVE
        subscription = Subscription.objects.get(account=kixie.account)
        assert subscription.status == Subscription.Status.ACTIVE and subscription.ended_at is None
        assert subscription.next_billing_date == dt.date(2029, 12, 7)
        assert subscription.seats == 5
        assert License.objects.get(account=kixie.account, product="agent_seat").quantity == 5
        kixie.owner.refresh_from_db()  # K8 took the password; the invitation to set one is another test's
        client.force_login(kixie.owner)
        page = client.get(reverse("portal:dashboard", args=[kixie.account.account_id])).content.decode()
    assert "next bill on 7 Dec 2029 for 5 seats, $475.00 USD" in page


def test_a_quick_restart_keeps_its_billing_date_and_gets_back_the_addons_the_cancellation_ended(cast, number):
    # rule U7: restarted within the 60 days; the billing date still ahead stays; what the cancellation ended is
    # billed again, but not an add-on cancelled on its own before, nor the recording of a number that was released
    desk = cast("kustomer")
    line = number(desk.account)
    insights = provisioning.add_addon(account=desk.account, product="call_insights")
    recording = provisioning.add_addon(account=desk.account, product="inbound_recording", number=line)
    dropped = provisioning.add_addon(account=desk.account, product="number_testing")
    AddOn.objects.filter(pk=dropped.pk).update(status=AddOn.Status.CANCELLED, cancelled_at=timezone.now())
    billing_date = Subscription.objects.get(account=desk.account).next_billing_date
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    assert AddOn.objects.get(pk=insights.pk).status == AddOn.Status.CANCELLED
    with time_machine.travel(timezone.now() + dt.timedelta(days=10)):
        back = submit(desk, Kind.REACTIVATION)
        work(back, desk, "verify", "approve", "complete")
    assert Subscription.objects.get(account=desk.account).next_billing_date == billing_date
    assert AddOn.objects.get(pk=insights.pk).status == AddOn.Status.ACTIVE
    assert AddOn.objects.get(pk=recording.pk).status == AddOn.Status.CANCELLED  # its number was released (K8)
    assert AddOn.objects.get(pk=dropped.pk).status == AddOn.Status.CANCELLED


@pytest.mark.parametrize(
    ("anchor", "after", "boundary"),
    [
        (dt.date(2024, 1, 7), dt.date(2029, 11, 27), dt.date(2029, 12, 7)),
        (dt.date(2024, 1, 7), dt.date(2029, 12, 7), dt.date(2030, 1, 7)),  # on the day: the next one
        (dt.date(2024, 1, 31), dt.date(2024, 2, 15), dt.date(2024, 2, 29)),  # a shorter month: its last day
        (dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31)),  # and back to the 31st
        (dt.date(2030, 5, 1), dt.date(2029, 11, 27), dt.date(2030, 5, 1)),  # still ahead: stays
    ],
)
def test_the_next_period_boundary_keeps_the_day_of_the_month(anchor, after, boundary):
    # rule K9: the monthly cycle of the original billing date
    assert next_period_boundary(anchor, after) == boundary


@pytest.fixture
def number(db):
    def make(account, value="+13125550177"):
        return provisioning.add_number(account=account, number=value)

    return make
