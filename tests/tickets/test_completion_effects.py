"""What completing a request does, as each preset's policy says (SPEC §3, §4): credit (S7, U7), refunds and
proration (K4, K2), Kixie's erasure at completion and reactivation without a deadline (K8, K9), and one calendar
for the intake hours and the SLA clock (K6)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core import mail
from django.utils import timezone

from accounts import services as provisioning
from accounts.exceptions import Refusal
from accounts.models import Account, Membership, User
from billing.models import CreditEntry, Invoice, Plan, Policy, Subscription
from tests.factories import PASSWORD
from tickets import purge, sla
from tickets.models import Kind, State, Ticket
from tickets.portal.selectors import cancellation_impact
from tickets.services import transition_ticket

from .conftest import KUSTOMER_ACKS, SMRTPHONE_ACKS

pytestmark = pytest.mark.django_db

# Thursday 26 November 2026, 10:00 Pacific: Thanksgiving, a US public holiday, inside Kixie's weekday hours.
THANKSGIVING_10AM = dt.datetime(2026, 11, 26, 18, 0, tzinfo=dt.UTC)
FRIDAY_6AM = dt.datetime(2026, 11, 27, 14, 0, tzinfo=dt.UTC)  # the next opening, 06:00 Pacific


def work(ticket, desk, *names, **evidence):
    for name in names:
        actor = desk.manager if name == "approve" else desk.agent
        ticket = transition_ticket(ticket=ticket, name=name, actor=actor, **evidence)
    return ticket


def kixie_desk(cast):
    desk = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    return desk


def cancel_kixie(desk, submit):
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent, card_last4="4242")
    return work(ticket, desk, "approve", "complete")


def cancel_kustomer(desk, submit):
    return submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)


# -- credit at completion: S7 forfeits, every other preset keeps it (U7) ----------------------------------------


def test_smrtphone_preview_and_completion_forfeit_the_credit(cast, submit, django_capture_on_commit_callbacks):
    # rule S7: the preview says it, the completion does it (before the purge that follows at once, S6)
    desk = cast("smrtphone")
    provisioning.add_credit(account=desk.account, amount="12.50", reason="top_up")
    impact = cancellation_impact(desk.account)
    assert (impact.credit_forfeited, impact.credit_kept) == (Decimal("12.50"), Decimal("0"))
    with django_capture_on_commit_callbacks(execute=False):  # the purge is queued on commit: not run here
        submit(
            desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=SMRTPHONE_ACKS, confirmation="CONFIRM"
        )
    forfeited = CreditEntry.objects.filter(account=desk.account, reason=CreditEntry.Reason.FORFEITURE)
    assert list(forfeited.values_list("amount", flat=True)) == [Decimal("-12.50")]
    assert CreditEntry.balance_of(desk.account) == 0


def test_kustomer_keeps_the_credit_until_the_purge_and_has_it_back_on_restart(cast, submit, in_business_hours):
    # rule U7: restarted within the 60 days, the account has its credit again (never forfeited on the way)
    desk = cast("kustomer")
    provisioning.add_credit(account=desk.account, amount="25.50", reason="top_up")
    impact = cancellation_impact(desk.account)
    assert (impact.credit_forfeited, impact.credit_kept) == (Decimal("0"), Decimal("25.50"))
    cancel_kustomer(desk, submit)
    desk.account.refresh_from_db()
    assert desk.account.status == Account.Status.CANCELLED
    assert CreditEntry.balance_of(desk.account) == Decimal("25.50")
    assert not CreditEntry.objects.filter(account=desk.account, reason=CreditEntry.Reason.FORFEITURE).exists()
    back = submit(desk, Kind.REACTIVATION, channel="email", actor=desk.agent)
    work(back, desk, "verify", "approve", "complete")
    desk.account.refresh_from_db()
    assert desk.account.status == Account.Status.ACTIVE
    assert CreditEntry.balance_of(desk.account) == Decimal("25.50")


def test_credit_forfeited_by_an_earlier_rule_comes_back_on_restart(cast, submit, in_business_hours):
    # rule U7: a Kustomer account cancelled while every preset forfeited credit gets it back on its restart
    desk = cast("kustomer")
    provisioning.add_credit(account=desk.account, amount="25.50", reason="top_up")
    cancel_kustomer(desk, submit)
    CreditEntry.objects.create(account=desk.account, amount=Decimal("-25.50"), reason=CreditEntry.Reason.FORFEITURE)
    assert CreditEntry.balance_of(desk.account) == 0
    back = submit(desk, Kind.REACTIVATION, channel="email", actor=desk.agent)
    work(back, desk, "verify", "approve", "complete")
    assert CreditEntry.balance_of(desk.account) == Decimal("25.50")


def test_kept_credit_goes_with_the_purge(cast, submit, in_business_hours):
    # rule U6: after the 60 days the ledger is deleted with the rest
    desk = cast("kustomer")
    provisioning.add_credit(account=desk.account, amount="25.50", reason="top_up")
    cancel_kustomer(desk, submit)
    desk.account.refresh_from_db()
    assert purge.purge_account(desk.account.pk, now=desk.account.purge_after).outcome == "purged"
    assert not CreditEntry.objects.filter(account=desk.account).exists()


def test_the_preview_page_says_the_credit_stays(cast, signed_in_owner_preview):
    # rule U7: the impact preview tells a Kustomer owner the credit is kept, not forfeited
    page = signed_in_owner_preview(cast("kustomer"), credit="25.50")
    assert "your credit of $25.50 USD stays on the account until its data is deleted" in page
    assert "remaining credit is forfeited" not in page


@pytest.fixture
def signed_in_owner_preview(client):
    from tests.portal.test_cancellation_flow import run_to, url

    def show(desk, *, credit: str) -> str:
        provisioning.add_credit(account=desk.account, amount=credit, reason="top_up")
        client.force_login(desk.owner)
        run_to(client, desk.account, "preview")
        return client.get(url(desk.account, "preview")).content.decode()

    return show


# -- refunds (K4) and proration (K2) are read where they act ----------------------------------------------------


def test_ending_the_subscription_refunds_nothing_charged_nor_any_credit(cast, submit, in_business_hours):
    # rule K4: the policy's refunds rule ("none") is what the completion applies: no refund entry, paid stays paid
    desk = kixie_desk(cast)
    provisioning.add_invoice(account=desk.account, amount="95.00", due_date=dt.date(2026, 11, 1), status="paid")
    provisioning.add_credit(account=desk.account, amount="10.00", reason="top_up")
    assert desk.policy.refunds == Policy.Refunds.NONE
    cancel_kixie(desk, submit)
    assert Invoice.objects.get(account=desk.account).status == "paid"
    assert list(CreditEntry.objects.filter(account=desk.account).values_list("amount", flat=True)) == [Decimal("10.00")]
    assert Subscription.objects.get(account=desk.account).status == Subscription.Status.ENDED


def test_a_mid_cycle_downgrade_credits_nothing_and_the_next_bill_is_lower(cast, submit, in_business_hours):
    # rule K2: the policy's proration rule ("none") is what the downgrade applies
    desk = kixie_desk(cast)
    provisioning.add_credit(account=desk.account, amount="5.00", reason="top_up")
    assert desk.policy.downgrade_proration == Policy.Proration.NONE
    before = desk.account.subscription.next_bill
    ticket = submit(desk, Kind.DOWNGRADE, plan=desk.plan.lowest_in_line())
    work(ticket, desk, "verify", "approve", "complete")
    assert Subscription.objects.get(account=desk.account).next_bill < before
    assert CreditEntry.balance_of(desk.account) == Decimal("5.00")
    assert CreditEntry.objects.filter(account=desk.account).count() == 1


# -- K8, K9: Kixie erases users and settings at once; reactivation on request, any time later -----------------------


def test_kixie_completion_erases_users_and_settings_and_keeps_the_account_and_its_history(
    cast, submit, in_business_hours, django_capture_on_commit_callbacks
):
    # rule K8: every user and setting erased at completion; U10: the owner still gets the confirmation
    desk = kixie_desk(cast)
    provisioning.add_invoice(account=desk.account, amount="95.00", due_date=dt.date(2026, 11, 1), status="paid")
    erased = [desk.super_admin.email, desk.billing_admin.email, desk.member.email]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = cancel_kixie(desk, submit)
    assert not User.objects.filter(email__in=erased).exists()
    assert list(Membership.objects.filter(account=desk.account).values_list("role", flat=True)) == ["owner"]
    owner = User.objects.get(pk=desk.owner.pk)
    assert not owner.is_active and not owner.has_usable_password()
    assert authenticate(email=desk.owner.email, password=PASSWORD) is None
    account = Account.objects.get(pk=desk.account.pk)
    assert account.port_out_pin == "" and not account.check_port_out_pin("1234")
    # The account and its history stay: no purge is scheduled, the case and the invoices are there.
    assert account.status == Account.Status.CANCELLED and account.purge_after is None
    assert Ticket.objects.filter(pk=ticket.pk, state=State.COMPLETED).exists()
    assert Invoice.objects.filter(account=account).count() == 1
    confirmation = [m for m in mail.outbox if "Your account has been cancelled" in m.subject]
    assert len(confirmation) == 1 and desk.owner.email in confirmation[0].to
    assert "users and settings have been erased" in confirmation[0].body
    assert "reactivate the account at any time" in confirmation[0].body


def test_kixie_reactivates_on_request_years_later_and_invites_the_owner_anew(
    cast, submit, in_business_hours, django_capture_on_commit_callbacks
):
    # rule K9: no deadline; the account and its history come back, the owner is invited to set a password
    desk = kixie_desk(cast)
    cancel_kixie(desk, submit)
    with time_machine.travel(timezone.now() + dt.timedelta(days=3 * 365)):
        assert purge.purgeable_account_ids() == []  # never purged: nothing closes the door
        mail.outbox.clear()
        back = submit(desk, Kind.REACTIVATION, channel="email", actor=desk.agent)
        with django_capture_on_commit_callbacks(execute=True):
            work(back, desk, "verify", "approve", "complete")
    account = Account.objects.get(pk=desk.account.pk)
    assert account.status == Account.Status.ACTIVE
    assert account.tickets.filter(kind=Kind.ACCOUNT_CANCELLATION, state=State.COMPLETED).exists()
    owner = User.objects.get(pk=desk.owner.pk)
    assert owner.is_active and not owner.has_usable_password()
    invitation = [m for m in mail.outbox if "has been reactivated" in m.subject]
    assert len(invitation) == 1 and invitation[0].to == [desk.owner.email]
    assert "/reset/" in invitation[0].body


def test_the_preview_tells_kixie_what_stays(cast):
    # rule K8, K9: the impact the desk computes from the policy
    impact = cancellation_impact(kixie_desk(cast).account)
    assert impact.data_text == (
        "Users and settings are erased when the cancellation is completed. The account and its history are kept."
    )
    assert impact.reactivation_text == "You can ask to reactivate the account at any time."


# -- K6: one calendar for the intake hours and the SLA clock ----------------------------------------------------


def test_a_public_holiday_is_outside_intake_hours_and_off_the_sla_clock(cast, submit):
    # rule K6: Thanksgiving is closed for a call and for the clock of an email that arrives that day
    desk = kixie_desk(cast)
    assert desk.policy.holiday_country == "US"
    with time_machine.travel(THANKSGIVING_10AM):
        assert not desk.policy.within_intake_hours()
        with pytest.raises(Refusal) as refused:
            submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent, card_last4="4242")
        assert refused.value.code == "outside_intake_hours"
        emailed = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="email", actor=desk.agent, card_last4="4242")
    assert sla.business_hours_between(desk.policy, emailed.created_at, FRIDAY_6AM) == 0
    assert sla.business_hours_between(desk.policy, emailed.created_at, FRIDAY_6AM + dt.timedelta(hours=1)) == 1


def test_an_extra_closed_date_closes_intake_and_the_clock_alike(cast, submit):
    # rule K6: a closed day the provider adds to its policy counts for both
    desk = kixie_desk(cast)
    monday = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)  # 10:00 Pacific, a working Monday
    Policy.objects.filter(pk=desk.policy.pk).update(closed_dates=["2026-11-23"])
    desk.account.refresh_from_db()
    policy = desk.account.plan.policy
    assert not policy.within_intake_hours(monday)
    assert sla.business_hours_between(policy, monday, monday + dt.timedelta(hours=3)) == 0
    with time_machine.travel(monday):
        with pytest.raises(Refusal) as refused:
            submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent, card_last4="4242")
    assert refused.value.code == "outside_intake_hours"
