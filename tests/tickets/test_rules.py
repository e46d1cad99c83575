"""One test per rule of the rulebook that the ticket workflow enforces (SPEC §1, §4)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core import mail
from django.utils import timezone

from accounts import services as provisioning
from accounts.exceptions import Refusal
from accounts.models import Account
from billing.models import AddOn, CreditEntry, Invoice, License, Plan, Subscription
from numbers.models import PhoneNumber
from tickets.models import Kind, State, VerificationAttempt
from tickets.services import transition_ticket

from .conftest import KUSTOMER_ACKS, SMRTPHONE_ACKS

pytestmark = pytest.mark.django_db


def refusal(callable_, *args, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as caught:
        callable_(*args, **kwargs)
    return caught.value


def work(ticket, desk, *names, **evidence):
    """Run transitions as staff: the manager approves, the agent does the rest."""
    for name in names:
        actor = desk.manager if name == "approve" else desk.agent
        ticket = transition_ticket(ticket=ticket, name=name, actor=actor, **evidence)
    return ticket


def kixie_desk(cast):
    return cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))


# -- Kixie ------------------------------------------------------------------------------------------------------


def test_hold_is_not_offered_but_downgrade_to_lowest_plan_is(cast, submit, in_business_hours):
    # rule K1
    desk = kixie_desk(cast)
    assert desk.policy.holds_offered is False and desk.policy.offer_downgrade is True
    lowest = desk.plan.lowest_in_line()
    ticket = submit(desk, Kind.DOWNGRADE, plan=lowest)
    work(ticket, desk, "verify", "approve", "complete")
    desk.account.refresh_from_db()
    assert desk.account.plan == lowest


def test_downgrade_applies_at_once_without_proration_and_lowers_next_bill(cast, submit, in_business_hours):
    # rule K2
    desk = kixie_desk(cast)
    subscription = desk.account.subscription
    before = subscription.next_bill
    ticket = submit(desk, Kind.DOWNGRADE, plan=desk.plan.lowest_in_line())
    work(ticket, desk, "verify", "approve", "complete")
    subscription = Subscription.objects.get(pk=subscription.pk)
    assert subscription.next_bill < before
    assert not CreditEntry.objects.filter(account=desk.account).exists()  # no prorated credit


def test_customer_may_cancel_whole_account_through_support(cast, submit, in_business_hours):
    # rule K3
    desk = kixie_desk(cast)
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent)
    assert ticket.route == "support_case" and ticket.state == State.SUBMITTED
    work(ticket, desk, "verify", "approve", "complete", card_last4="4242")
    desk.account.refresh_from_db()
    assert desk.account.status == Account.Status.CANCELLED


def test_cancellation_refunds_nothing_already_charged(cast, submit, in_business_hours):
    # rule K4
    desk = kixie_desk(cast)
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    provisioning.add_invoice(account=desk.account, amount="95.00", due_date=dt.date(2026, 11, 1), status="paid")
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="email", card_last4="4242", actor=desk.agent)
    work(ticket, desk, "approve", "complete")
    assert desk.policy.refunds == "none"
    assert Invoice.objects.get(account=desk.account).status == "paid"
    assert not CreditEntry.objects.filter(account=desk.account, amount__gt=0).exists()
    assert Subscription.objects.get(account=desk.account).status == "ended"


def test_cancellation_only_by_email_or_phone_in_pacific_business_hours(cast, submit):
    # rule K6
    desk = kixie_desk(cast)
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    with time_machine.travel(dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)):  # Monday 10:00 Pacific
        assert refusal(submit, desk, Kind.ACCOUNT_CANCELLATION, channel="web").code == "channel_not_accepted"
    with time_machine.travel(dt.datetime(2026, 11, 24, 1, 30, tzinfo=dt.UTC)):  # Monday 17:30 Pacific
        late = refusal(submit, desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent)
        assert late.code == "outside_intake_hours"
    with time_machine.travel(dt.datetime(2026, 11, 28, 18, 0, tzinfo=dt.UTC)):  # Saturday
        assert refusal(submit, desk, Kind.ACCOUNT_CANCELLATION, channel="phone").code == "outside_intake_hours"
        # An email that arrived on Friday at 16:00 Pacific is recorded on Saturday with its arrival time.
        friday = dt.datetime(2026, 11, 28, 0, 0, tzinfo=dt.UTC)
        assert refusal(submit, desk, Kind.ACCOUNT_CANCELLATION, channel="email", received_at=friday).code == (
            "invalid_request"  # only staff may date a request
        )
        recorded = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="email", actor=desk.agent, received_at=friday)
        assert recorded.created_at == friday
        recorded.delete()
    with time_machine.travel(dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)):  # Monday 06:00 Pacific
        assert submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent).pk


def test_cancelling_requires_the_card_last_four(cast, submit, in_business_hours):
    # rule K7
    desk = kixie_desk(cast)
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent)
    assert refusal(transition_ticket, ticket=ticket, name="verify", actor=desk.agent).code == "verification_failed"
    wrong = refusal(transition_ticket, ticket=ticket, name="verify", actor=desk.agent, card_last4="1111")
    assert wrong.code == "verification_failed"
    ticket = transition_ticket(ticket=ticket, name="verify", actor=desk.agent, card_last4="4242")
    assert ticket.state == State.VERIFIED and ticket.checks["card_last4"] is True
    assert "4242" not in str(ticket.checks)
    # A correct card given at submission verifies at once, by the system.
    other = cast("kixie", plan=desk.plan)
    provisioning.set_card(account=other.account, brand="Visa", last4="1881")
    early = submit(other, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=other.agent, card_last4="1881")
    assert early.state == State.VERIFIED and early.log.last().actor_label == "system"


def test_verification_locks_after_five_failures_in_an_hour(cast, submit, in_business_hours):
    # rule K7 (lockout)
    desk = kixie_desk(cast)
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent)
    for _ in range(5):
        refusal(transition_ticket, ticket=ticket, name="verify", actor=desk.agent, card_last4="0000")
    assert VerificationAttempt.objects.filter(account=desk.account, succeeded=False).count() == 5
    locked = refusal(transition_ticket, ticket=ticket, name="verify", actor=desk.agent, card_last4="4242")
    assert locked.code == "verification_locked"


def test_cancellation_releases_numbers_erases_access(cast, submit, number, in_business_hours):
    # rule K8
    desk = kixie_desk(cast)
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    first, second = number(desk.account, "+12025550143"), number(desk.account, "+12025550144")
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent, card_last4="4242")
    work(ticket, desk, "approve", "complete")
    assert set(PhoneNumber.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        "released"
    }
    assert authenticate(email=desk.member.email, password="test-pass-2026") is None
    desk.owner.refresh_from_db()
    assert desk.owner.is_active is False


def test_cancelled_account_can_be_reactivated_on_request(cast, submit, in_business_hours):
    # rule K9
    desk = kixie_desk(cast)
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    cancel = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent, card_last4="4242")
    work(cancel, desk, "approve", "complete")
    desk.owner.refresh_from_db()
    # Any time before the purge: still open past the purge date while the purge has not begun (job not yet run).
    Account.objects.filter(pk=desk.account.pk).update(purge_after=timezone.now() - dt.timedelta(days=3))
    back = submit(desk, Kind.REACTIVATION, channel="email", actor=desk.agent)
    work(back, desk, "verify", "approve", "complete")
    desk.account.refresh_from_db()
    assert desk.account.status == Account.Status.ACTIVE and desk.account.purge_after is None


def test_port_out_denied_only_for_outstanding_payments(cast, submit, number, in_business_hours):
    # rule K10
    desk = kixie_desk(cast)
    line = number(desk.account)
    port = submit(
        desk, Kind.PORT_OUT, numbers=[line], gaining_carrier="Telnyx", authorized_name=desk.owner.full_name, pin="1234"
    )
    work(port, desk, "verify")
    denied = refusal(
        transition_ticket,
        ticket=port,
        name="reject",
        actor=desk.manager,
        reason="Owes money",
        code="outstanding_balance",
    )
    assert denied.code == "rejection_code_not_allowed"  # nothing is owed
    provisioning.add_invoice(account=desk.account, amount="50", due_date=dt.date(2026, 10, 1))
    other_line = number(desk.account, "+12025550199")
    owing = submit(
        desk,
        Kind.PORT_OUT,
        numbers=[other_line],
        gaining_carrier="Telnyx",
        authorized_name=desk.owner.full_name,
        pin="1234",
    )
    assert owing.needs_manager_review is True
    work(owing, desk, "verify")
    assert refusal(transition_ticket, ticket=owing, name="approve", actor=desk.agent).code in {
        "outstanding_balance",
        "role_not_allowed",
    }
    rejected = transition_ticket(
        ticket=owing, name="reject", actor=desk.manager, reason="Invoice overdue", code="outstanding_balance"
    )
    assert rejected.state == State.REJECTED
    assert PhoneNumber.objects.get(pk=other_line.pk).status == "active"


def test_customer_tells_provider_of_port_out_and_provider_approves(cast, submit, number, in_business_hours):
    # rule K11
    desk = kixie_desk(cast)
    line = number(desk.account)
    port = submit(
        desk, Kind.PORT_OUT, numbers=[line], gaining_carrier="Telnyx", authorized_name=desk.owner.full_name, pin="1234"
    )
    assert PhoneNumber.objects.get(pk=line.pk).status == "porting_out"
    port = work(port, desk, "verify", "approve")
    assert port.foc_date is not None and port.foc_date > timezone.localdate() - dt.timedelta(days=1)
    work(port, desk, "complete")
    assert PhoneNumber.objects.get(pk=line.pk).status == "ported_out"


def test_port_out_with_wrong_pin_fails_verification_and_is_rejected_with_allowed_code(cast, submit, number):
    desk = kixie_desk(cast)
    line = number(desk.account)
    port = submit(
        desk, Kind.PORT_OUT, numbers=[line], gaining_carrier="Telnyx", authorized_name="Somebody Else", pin="9999"
    )
    assert port.checks == {"pin": False, "name": False, "numbers_on_account": True}
    assert refusal(transition_ticket, ticket=port, name="verify", actor=desk.agent).code == "verification_failed"
    assert (
        refusal(transition_ticket, ticket=port, name="reject", actor=desk.agent, reason="x", code="made_up").code
        == "rejection_code_not_allowed"
    )
    assert (
        transition_ticket(
            ticket=port, name="reject", actor=desk.agent, reason="PIN does not match", code="invalid_pin"
        ).state
        == State.REJECTED
    )


# -- AVOXI ------------------------------------------------------------------------------------------------------


def test_number_cancelled_through_a_support_case(cast, submit, number):
    # rule A2
    desk = cast("avoxi")
    line = number(desk.account)
    ticket = submit(
        desk, Kind.NUMBER_CANCELLATION, numbers=[line], full_name="Ada", company="Acme", contact="ada@acme.test"
    )
    assert ticket.route == "support_case" and ticket.state == State.SUBMITTED
    work(ticket, desk, "verify", "approve", "complete")
    assert PhoneNumber.objects.get(pk=line.pk).status == "released"


def test_cancellation_request_must_carry_name_company_and_contact(cast, submit, number):
    # rule A4
    desk = cast("avoxi")
    line = number(desk.account)
    missing = refusal(submit, desk, Kind.NUMBER_CANCELLATION, numbers=[line])
    assert missing.code == "missing_required_info"
    assert "Full name" in missing.detail and "Contact information" in missing.detail
    assert "Company" not in missing.detail  # the request is made on the account: its id answers "or account ID"
    assert refusal(submit, desk, Kind.NUMBER_CANCELLATION, numbers=[line], full_name="Ada").field == "contact"
    ticket = submit(desk, Kind.NUMBER_CANCELLATION, numbers=[line], full_name="Ada", contact="ada@acme.test")
    assert ticket.company == f"{desk.account.name} ({desk.account.account_id})"


def test_only_super_admins_cancel_licenses(cast, submit):
    # rule A5
    desk = cast("avoxi")
    license_ = provisioning.add_license(account=desk.account, product="agent_seat", quantity=5)
    info = {"full_name": "Ada", "company": "Acme", "contact": "ada@acme.test"}
    for person in (desk.owner, desk.billing_admin, desk.member):
        denied = refusal(
            submit, desk, Kind.LICENSE_CANCELLATION, requester=person, license=license_, quantity=1, **info
        )
        assert denied.code == "role_not_allowed" and denied.http_status == 403
    assert submit(desk, Kind.LICENSE_CANCELLATION, requester=desk.super_admin, license=license_, quantity=1, **info)


def test_sip_trunks_self_service_except_initial_ucaas(cast, submit):
    # rule A6
    desk = cast("avoxi")
    info = {"full_name": "Ada", "company": "Acme", "contact": "ada@acme.test"}
    trunk = provisioning.add_addon(account=desk.account, product="sip_trunk", name="Trunk 2")
    ucaas = provisioning.add_addon(account=desk.account, product="sip_trunk", name="UCaaS 1", initial_ucaas=True)
    done = submit(desk, Kind.ADDON_CANCELLATION, addon=trunk, **info)
    assert done.state == State.COMPLETED and AddOn.objects.get(pk=trunk.pk).status == "cancelled"
    assert [row.actor for row in done.log.all()] == [desk.owner] * 4  # each step by the customer
    case = submit(desk, Kind.ADDON_CANCELLATION, addon=ucaas, **info)
    assert case.state == State.SUBMITTED and case.route == "support_case"


def test_inbound_recording_ends_per_number_outbound_for_the_organisation(cast, submit, number):
    # rule A7
    desk = cast("avoxi")
    info = {"full_name": "Ada", "company": "Acme", "contact": "ada@acme.test"}
    first = number(desk.account, "+12025550143", inbound_recording=True)
    second = number(desk.account, "+12025550144", inbound_recording=True)
    inbound = provisioning.add_addon(account=desk.account, product="inbound_recording", number=first)
    provisioning.add_addon(account=desk.account, product="inbound_recording", number=second)
    outbound = provisioning.add_addon(account=desk.account, product="outbound_recording")
    submit(desk, Kind.ADDON_CANCELLATION, addon=inbound, **info)
    assert PhoneNumber.objects.get(pk=first.pk).inbound_recording is False
    assert PhoneNumber.objects.get(pk=second.pk).inbound_recording is True
    submit(desk, Kind.ADDON_CANCELLATION, addon=outbound, **info)
    assert AddOn.objects.get(pk=outbound.pk).status == "cancelled" and outbound.number_id is None
    # A number that leaves takes its own recording with it, and only its own.
    third = number(desk.account, "+12025550145", inbound_recording=True)
    leaving = provisioning.add_addon(account=desk.account, product="inbound_recording", number=third)
    work(submit(desk, Kind.NUMBER_CANCELLATION, numbers=[third], **info), desk, "verify", "approve", "complete")
    assert AddOn.objects.get(pk=leaving.pk).status == "cancelled"
    assert AddOn.objects.get(number=second).status == "active"


def test_call_insights_cancelled_self_service(cast, submit):
    # rule A8
    desk = cast("avoxi")
    addon = provisioning.add_addon(account=desk.account, product="call_insights")
    ticket = submit(desk, Kind.ADDON_CANCELLATION, addon=addon, full_name="Ada", company="Acme", contact="a@a.test")
    assert ticket.state == State.COMPLETED


def test_number_testing_cancelled_self_service(cast, submit):
    # rule A9
    desk = cast("avoxi")
    addon = provisioning.add_addon(account=desk.account, product="number_testing")
    ticket = submit(desk, Kind.ADDON_CANCELLATION, addon=addon, full_name="Ada", company="Acme", contact="a@a.test")
    assert ticket.state == State.COMPLETED and AddOn.objects.get(pk=addon.pk).status == "cancelled"


def test_contact_center_licenses_keep_three(cast, submit):
    # rule A10
    desk = cast("avoxi")
    license_ = provisioning.add_license(account=desk.account, product="contact_center", quantity=5)
    assert license_.minimum == 3
    info = {"full_name": "Ada", "company": "Acme", "contact": "a@a.test"}
    too_many = refusal(
        submit, desk, Kind.LICENSE_CANCELLATION, requester=desk.super_admin, license=license_, quantity=3, **info
    )
    assert too_many.code == "license_minimum"
    ticket = submit(desk, Kind.LICENSE_CANCELLATION, requester=desk.super_admin, license=license_, quantity=2, **info)
    assert ticket.state == State.SUBMITTED  # a support case
    # A second open request for the same license is refused (SPEC §4, one open request per object).
    second = refusal(
        submit, desk, Kind.LICENSE_CANCELLATION, requester=desk.super_admin, license=license_, quantity=1, **info
    )
    assert second.code == "already_requested"
    work(ticket, desk, "verify", "approve", "complete")
    assert License.objects.get(pk=license_.pk).quantity == 3


def test_jetpack_goes_through_the_account_manager(cast, submit):
    # rule A11
    desk = cast("avoxi")
    desk.account.account_manager = desk.agent
    desk.account.save()
    jetpack = provisioning.add_addon(account=desk.account, product="jetpack")
    ticket = submit(desk, Kind.ADDON_CANCELLATION, addon=jetpack, full_name="Ada", company="Acme", contact="a@a.test")
    assert ticket.route == "account_manager" and ticket.assignee == desk.agent
    ticket = transition_ticket(ticket=ticket, name="verify", actor=desk.agent)
    other_manager_less_agent = cast("avoxi").agent
    assert refusal(transition_ticket, ticket=ticket, name="approve", actor=other_manager_less_agent).code in {
        "requires_account_manager",
        "role_not_allowed",
    }


# -- Kustomer ---------------------------------------------------------------------------------------------------


def test_only_admins_or_billing_permission_may_cancel(cast, submit):
    # rule U1
    desk = cast("kustomer")
    denied = refusal(
        submit, desk, Kind.ACCOUNT_CANCELLATION, requester=desk.member, reason="unused", acknowledgements=KUSTOMER_ACKS
    )
    assert denied.code == "role_not_allowed"
    ticket = submit(
        desk, Kind.ACCOUNT_CANCELLATION, requester=desk.billing_admin, reason="unused", acknowledgements=KUSTOMER_ACKS
    )
    assert ticket.state == State.COMPLETED


def test_essentials_cancels_self_service(cast, submit):
    # rule U2
    desk = cast("kustomer")
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, reason="too_expensive", acknowledgements=KUSTOMER_ACKS)
    assert ticket.state == State.COMPLETED
    assert [(r.transition, r.actor) for r in ticket.log.all()] == [
        ("submit", desk.owner),
        ("verify", desk.owner),
        ("approve", desk.owner),
        ("complete", desk.owner),
    ]


def test_premium_cancellation_goes_through_customer_success_manager(cast, submit):
    # rule U3
    desk = cast("kustomer_premium")
    desk.account.account_manager = desk.manager
    desk.account.save()
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, reason="other", acknowledgements=KUSTOMER_ACKS)
    assert ticket.state == State.SUBMITTED and ticket.assignee == desk.manager
    ticket = transition_ticket(ticket=ticket, name="verify", actor=desk.agent)
    another_manager = cast("kustomer_premium").manager
    another_manager.groups.clear()
    from django.contrib.auth.models import Group, Permission

    approver = Group.objects.create(name="Approvers only")
    approver.permissions.add(Permission.objects.get(codename="approve_ticket"))
    another_manager.groups.add(approver)
    blocked = refusal(transition_ticket, ticket=ticket, name="approve", actor=another_manager)
    assert blocked.code == "requires_account_manager"
    assert transition_ticket(ticket=ticket, name="approve", actor=desk.manager).state == State.APPROVED


def test_customer_confirms_before_cancellation(cast, submit):
    # rule U4
    desk = cast("kustomer")
    unconfirmed = refusal(submit, desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=[])
    assert unconfirmed.code == "acknowledgement_missing"
    desk.account.refresh_from_db()
    assert desk.account.status == Account.Status.ACTIVE


def test_cancellation_removes_access_at_once(cast, submit, client):
    # rule U5
    desk = cast("kustomer")
    client.force_login(desk.member)
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    assert authenticate(email=desk.owner.email, password="test-pass-2026") is None
    assert client.get("/").status_code == 302  # the member's session no longer signs them in


def test_data_deleted_sixty_days_after_cancellation(cast, submit):
    # rule U6
    desk = cast("kustomer")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    desk.account.refresh_from_db()
    assert desk.account.purge_after - desk.account.cancelled_at == dt.timedelta(days=60)


def test_restart_within_sixty_days_not_after(cast, submit):
    # rule U7
    desk = cast("kustomer")
    number_ = provisioning.add_number(account=desk.account, number="+12025550143")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    desk.owner.refresh_from_db()
    desk.account.refresh_from_db()
    with time_machine.travel(desk.account.cancelled_at + dt.timedelta(days=61)):
        closed = refusal(submit, desk, Kind.REACTIVATION)
        assert closed.code == "reactivation_closed"
    with time_machine.travel(desk.account.cancelled_at + dt.timedelta(days=59)):
        back = submit(desk, Kind.REACTIVATION)
        work(back, desk, "verify", "approve", "complete")
    desk.account.refresh_from_db()
    assert desk.account.status == "active" and desk.account.purge_after is None
    assert PhoneNumber.objects.get(pk=number_.pk).status == "released"  # released numbers stay released


def test_confirmation_email_after_cancellation(cast, submit, django_capture_on_commit_callbacks):
    # rule U10
    desk = cast("kustomer")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    subjects = [m.subject for m in mail.outbox]
    assert any("Your account has been cancelled" in s for s in subjects), subjects
    confirmation = next(m for m in mail.outbox if "has been cancelled" in m.subject)
    assert desk.owner.email in confirmation.to
    assert "60" not in confirmation.subject and "permanently deleted on" in confirmation.body


# -- smrtPhone --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["confirm", "Confirm", " CONFIRM", "CONFIRM ", "", None])
def test_confirmation_must_be_typed_exactly(cast, submit, typed):
    # rule S3
    desk = cast("smrtphone")
    wrong = refusal(
        submit, desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=SMRTPHONE_ACKS, confirmation=typed
    )
    assert wrong.code == "verification_failed" and wrong.field == "confirmation"
    desk.account.refresh_from_db()
    assert desk.account.status == "active" and not desk.account.tickets.exists()


def test_only_the_account_owner_may_cancel(cast, submit):
    # rule S4
    desk = cast("smrtphone")
    for person in (desk.super_admin, desk.billing_admin, desk.member, desk.outsider):
        denied = refusal(
            submit,
            desk,
            Kind.ACCOUNT_CANCELLATION,
            requester=person,
            reason="unused",
            acknowledgements=SMRTPHONE_ACKS,
            confirmation="CONFIRM",
        )
        assert denied.code == "role_not_allowed"
    ticket = submit(
        desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=SMRTPHONE_ACKS, confirmation="CONFIRM"
    )
    assert ticket.state == State.COMPLETED


def test_customer_acknowledges_unported_numbers_are_lost(cast, submit):
    # rule S5
    desk = cast("smrtphone")
    partial = [k for k in SMRTPHONE_ACKS if k != "numbers_lost"]
    missing = refusal(
        submit, desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=partial, confirmation="CONFIRM"
    )
    assert missing.code == "acknowledgement_missing"


def test_all_data_scheduled_for_deletion_at_once(cast, submit):
    # rule S6
    desk = cast("smrtphone")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=SMRTPHONE_ACKS, confirmation="CONFIRM")
    desk.account.refresh_from_db()
    assert desk.account.status in {"cancelled", "purged"}
    assert desk.account.purge_after is not None and desk.account.purge_after <= timezone.now()


def test_remaining_credit_is_forfeited(cast, submit):
    # rule S7
    desk = cast("smrtphone")
    provisioning.add_credit(account=desk.account, amount="25.50", reason="top_up")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=SMRTPHONE_ACKS, confirmation="CONFIRM")
    forfeited = CreditEntry.objects.filter(account_id=desk.account.pk, reason="forfeiture")
    if Account.objects.get(pk=desk.account.pk).status == "cancelled":
        assert list(forfeited.values_list("amount", flat=True)) == [Decimal("-25.50")]
        assert CreditEntry.balance_of(desk.account) == 0


def test_every_number_is_removed(cast, submit, number):
    # rule S8
    desk = cast("smrtphone")
    line = number(desk.account)
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=SMRTPHONE_ACKS, confirmation="CONFIRM")
    assert not PhoneNumber.objects.filter(pk=line.pk, status__in=["active", "porting_out"]).exists()


def test_port_outs_must_finish_before_cancelling(cast, submit, number):
    # rule S10
    desk = cast("smrtphone")
    line = number(desk.account)
    port = submit(
        desk, Kind.PORT_OUT, numbers=[line], gaining_carrier="Telnyx", authorized_name=desk.owner.full_name, pin="1234"
    )
    pending = refusal(
        submit,
        desk,
        Kind.ACCOUNT_CANCELLATION,
        reason="unused",
        acknowledgements=SMRTPHONE_ACKS,
        confirmation="CONFIRM",
    )
    assert pending.code == "port_outs_pending"
    work(port, desk, "verify", "approve", "complete")
    ticket = submit(
        desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=SMRTPHONE_ACKS, confirmation="CONFIRM"
    )
    assert ticket.state == State.COMPLETED


def test_cancelled_account_cannot_be_reactivated(cast, submit):
    # rule S11
    desk = cast("smrtphone")
    submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=SMRTPHONE_ACKS, confirmation="CONFIRM")
    desk.owner.refresh_from_db()
    assert refusal(submit, desk, Kind.REACTIVATION).code == "reactivation_closed"
