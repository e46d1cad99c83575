"""The account's whole life, once per preset (issue 23's "Tests"; SPEC §4, "Account lifecycle"): an account with one
open case of every kind its preset lets be open is cancelled as the preset takes it; the other cases close and move
no further; a former owner comes back through sign-in and asks to reactivate (or reads the rule); staff reactivate
it with a next bill in the future; it is cancelled again and purged; then mail to an old thread and a password
reset store and send nothing. SQLite and PostgreSQL; everything goes through the services, the pages and the API
the customers and staff use."""

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services as provisioning
from accounts.exceptions import Refusal
from accounts.models import Account, Membership, User
from billing.models import AddOn, Plan, Subscription
from tests.factories import PASSWORD, PIN, StaffFactory
from tests.former_members import text
from tests.inbound.conftest import email_bytes
from tickets import purge
from tickets.inbound import addresses
from tickets.inbound.models import InboundMessage
from tickets.inbound.services import receive
from tickets.models import OPEN_STATES, TRANSITIONS, Comment, Kind, State, Ticket
from tickets.services import Request, submit_ticket, transition_ticket

pytestmark = pytest.mark.django_db

# Monday 23 November 2026, 10:00 Pacific: inside every preset's intake hours (K6). The walk moves in whole weeks
# from here, so every step that needs the intake hours (Kixie's phone cancellations) is a Monday morning too.
MONDAY = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)
INFO = {"full_name": "Olive Owner", "company": "Acme Widgets", "contact": "olive@acme.test"}
NEW_PASSWORD = "a-new-pass-2026"


@dataclass(frozen=True)
class Preset:
    """How the preset's account lives, as its policy says (billing migration 0002 and the sources)."""

    plan_rank: int
    # The kinds of the open cases the cancellation finds (one each): every kind that may be open then, by its rules.
    open_kinds: tuple[str, ...]
    reactivation_weeks: int | None  # when the former owner asks to come back; None: never (S11)
    purges: bool


PRESETS = {
    # K1, K2: Power Dialer, so a downgrade has somewhere to go. No add-on change: Kixie's policy lists no tiers.
    # K9: reactivated on request whenever; K8: nothing is ever purged (purge_scheduled is off).
    "kixie": Preset(
        2,
        (
            Kind.LICENSE_CANCELLATION,
            Kind.NUMBER_CANCELLATION,
            Kind.ADDON_CANCELLATION,
            Kind.PORT_OUT,
            Kind.DOWNGRADE,
        ),
        reactivation_weeks=56,  # a year and more on: the next bill is still in the future (issue 23: "7 Jan 2024")
        purges=False,
    ),
    # A2: one plan (no downgrade). A8, A11: the add-on change is Jetpack's (the account manager's route); the
    # cancellation is the initial UCaaS trunk's (a support case, A6): the self-service add-ons close at once.
    "avoxi": Preset(
        1,
        (
            Kind.LICENSE_CANCELLATION,
            Kind.NUMBER_CANCELLATION,
            Kind.ADDON_CANCELLATION,
            Kind.ADDON_CHANGE,
            Kind.PORT_OUT,
        ),
        reactivation_weeks=3,  # U7-like: within the 30 days
        purges=True,
    ),
    # Essentials is the lowest plan (no downgrade) and lists no add-on tiers (no add-on change).
    "kustomer": Preset(
        1,
        (Kind.LICENSE_CANCELLATION, Kind.NUMBER_CANCELLATION, Kind.ADDON_CANCELLATION, Kind.PORT_OUT),
        reactivation_weeks=3,  # U7: within the 60 days
        purges=True,
    ),
    # U3: the cancellation goes to the customer-success manager; Premium may move down to Essentials.
    "kustomer_premium": Preset(
        2,
        (
            Kind.LICENSE_CANCELLATION,
            Kind.NUMBER_CANCELLATION,
            Kind.ADDON_CANCELLATION,
            Kind.PORT_OUT,
            Kind.DOWNGRADE,
        ),
        reactivation_weeks=3,
        purges=True,
    ),
    # S10: an open port-out refuses the cancellation, so none is open; one plan (no downgrade), no add-on tiers.
    # S6, S11: retention 0, purged at once, never reactivated.
    "smrtphone": Preset(
        1,
        (Kind.LICENSE_CANCELLATION, Kind.NUMBER_CANCELLATION, Kind.ADDON_CANCELLATION),
        reactivation_weeks=None,
        purges=True,
    ),
}


def requester_for(desk, kind):
    """The first of the owner, super admin and billing admin the policy lets ask for `kind` (S4, A5, U1)."""
    people = {"owner": desk.owner, "super_admin": desk.super_admin, "billing_admin": desk.billing_admin}
    return next(people[role] for role in people if desk.policy.allows_role(kind, role))


def open_one_of_each(desk, kinds) -> dict[str, Ticket]:
    """One case of each kind, asked through the service by a member whose role may, each left open."""
    account = desk.account
    lines = [provisioning.add_number(account=account, number=f"+1202555017{i}") for i in range(3)]
    seats = provisioning.add_license(account=account, product="agent_seat", quantity=5)
    if desk.preset == "avoxi":
        cancelled_addon = provisioning.add_addon(account=account, product="sip_trunk", initial_ucaas=True)
        changed_addon = provisioning.add_addon(account=account, product="jetpack", tier="Jetpack Standard")
    else:
        cancelled_addon = provisioning.add_addon(account=account, product=AddOn.Product.CALL_INSIGHTS)
        changed_addon = None
    lower = Plan.objects.filter(product_line=account.plan.product_line, rank__lt=account.plan.rank).first()
    details = {
        Kind.LICENSE_CANCELLATION: {"license": seats, "quantity": 1},
        Kind.NUMBER_CANCELLATION: {"numbers": [lines[0]]},
        Kind.ADDON_CANCELLATION: {"addon": cancelled_addon},
        Kind.ADDON_CHANGE: {"addon": changed_addon, "tier": "Jetpack Plus"},
        Kind.PORT_OUT: {"numbers": [lines[1]], "gaining_carrier": "Telnyx", "pin": PIN},
        Kind.DOWNGRADE: {"plan": lower},
    }
    opened = {}
    for kind in kinds:
        requester = requester_for(desk, kind)
        fields = {**INFO, "authorized_name": requester.full_name, **details[kind]}
        ticket = submit_ticket(account=account, kind=kind, requester=requester, request=Request(**fields))
        ticket.refresh_from_db()
        assert ticket.state in OPEN_STATES, (kind, ticket.state)
        opened[kind] = ticket
    return opened


def cancel(desk) -> Ticket:
    """The owner cancels as the preset takes it: self-service on the web (Kustomer, smrtPhone: U5, S6), a support
    case (AVOXI) or the account manager's route (Kustomer Premium, U3), or by phone in the intake hours with the
    card's last four (Kixie, K6, K7); staff take it on to completed where it waits for them."""
    policy = desk.policy
    by_web = "web" in policy.intake_channels
    ticket = submit_ticket(
        account=desk.account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=desk.owner,
        request=Request(
            **INFO,
            reason="unused",
            acknowledgements=list(policy.acknowledgements),
            confirmation=policy.confirmation_word or None,
            card_last4="4242",
        ),
        channel="web" if by_web else "phone",
        actor=None if by_web else desk.agent,
    )
    approver = desk.account.account_manager if ticket.route == "account_manager" else desk.manager
    steps = {State.SUBMITTED: ("verify", desk.agent), State.VERIFIED: ("approve", approver)}
    ticket.refresh_from_db()
    while ticket.state in steps:
        name, actor = steps[ticket.state]
        ticket = transition_ticket(ticket=ticket, name=name, actor=actor)
    if ticket.state == State.APPROVED:
        ticket = transition_ticket(ticket=ticket, name="complete", actor=desk.agent)
    assert ticket.state == State.COMPLETED
    return ticket


def sign_in(client, user, password=PASSWORD):
    return client.post(reverse("login"), {"username": user.email, "password": password})


def reset_password(client, email) -> None:
    mail.outbox.clear()
    client.post(reverse("password_reset"), {"email": email})
    assert [m.to for m in mail.outbox] == [[email]]
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def refused_everywhere(ticket, desk) -> None:
    """A closed case takes no transition, whoever asks, through the service (K8, U5)."""
    actors = {"approve": desk.manager, "withdraw": ticket.requester}
    for name in TRANSITIONS:
        with pytest.raises(Refusal) as caught:
            transition_ticket(
                ticket=Ticket.objects.get(pk=ticket.pk), name=name, actor=actors.get(name, desk.agent), reason="x"
            )
        assert caught.value.code in {"invalid_state", "account_not_active", "role_not_allowed"}, (name, caught.value)
    assert Ticket.objects.get(pk=ticket.pk).state == State.REJECTED


def told_once(desk, opened) -> None:
    """U10, S1: the owner's one confirmation lists the closed cases; nobody deactivated hears of them otherwise."""
    confirmations = [m for m in mail.outbox if desk.owner.email in m.to and "cancelled" in m.subject.lower()]
    assert len(confirmations) == 1
    for ticket in opened.values():
        assert f"#{ticket.pk} " in confirmations[0].body
    assert not [m for m in mail.outbox if desk.owner.email in m.to and "rejected" in (m.subject + m.body).lower()]


@pytest.fixture(autouse=True)
def _tasks(tasks_in_process, settings, tmp_path):
    """Emails and the retention-0 purge run in-process: the walk reads the outbox and the database after them."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize("preset", list(PRESETS))
def test_an_accounts_whole_life(preset, cast, django_capture_on_commit_callbacks):
    # rules K8, K9, U3, U5, U6, U7, S6, S10, S11 (SPEC §4, "Account lifecycle")
    walk = PRESETS[preset]
    desk = cast(preset, plan=Plan.objects.get(policy__preset=preset, rank=walk.plan_rank))
    desk.preset = preset
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    if desk.policy.route == "account_manager":
        desk.account.account_manager = StaffFactory(full_name="Casey Success")  # U3
        desk.account.save(update_fields=["account_manager"])
    traveller = time_machine.travel(MONDAY, tick=True)
    traveller.start()
    try:
        _walk(desk, walk, django_capture_on_commit_callbacks)
    finally:
        traveller.stop()


def _walk(desk, walk, capture):
    account, owner = desk.account, desk.owner
    # 1. Every kind that may be open at once is open when the cancellation completes.
    opened = open_one_of_each(desk, walk.open_kinds)
    assert sorted(opened) == sorted(walk.open_kinds)
    billed = (account.subscription.seats, list(account.licenses.values_list("product", "quantity")))
    mail.outbox.clear()
    # smrtPhone's purge (retention 0, S6) is queued on commit: it waits until its former owner has read the rule.
    with capture(execute=walk.reactivation_weeks is not None) as after_commit:
        cancellation = cancel(desk)
    account.refresh_from_db()
    assert account.status == Account.Status.CANCELLED
    # 2. The other cases closed as the system, logged, and take no transition (K8, U5): the service and the API.
    for ticket in opened.values():
        ticket.refresh_from_db()
        closing = ticket.log.latest("pk")
        assert (ticket.state, closing.actor, closing.note) == (
            State.REJECTED,
            None,
            f"Closed: the account was cancelled on {account.cancelled_at:%-d %B %Y}.",
        )
        refused_everywhere(ticket, desk)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=desk.agent).key}")
    any_case = next(iter(opened.values()))
    answer = api.post(f"/api/v1/tickets/{any_case.pk}/transitions/", {"name": "verify"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] in {"invalid_state", "account_not_active"}

    if walk.reactivation_weeks is not None:
        told_once(desk, opened)

    # 3. The former owner comes back through sign-in (Kixie's first resets the password the erasure took, K8, K9).
    client = Client()
    password = PASSWORD
    if not User.objects.get(pk=owner.pk).has_usable_password():
        assert sign_in(client, owner).status_code == 200  # the generic error: nothing revealed
        reset_password(client, owner.email)
        password = NEW_PASSWORD
    assert sign_in(client, owner, password).url == reverse("former_member")
    page = text(client.get(reverse("former_member")))
    assert f"{account.name} ({account.account_id})" in page
    if walk.reactivation_weeks is None:
        # S11: no reactivation; the page says a returning customer starts a new account, and asking is refused.
        assert "Ask to reactivate" not in page and "may use the same email address" in page
        refused = client.post(reverse("former_member"), {"account": account.account_id})
        assert refused.status_code == 409 and "cannot be reactivated" in text(refused)
        for callback in after_commit:  # what the completion queued: its emails and the purge (S6)
            callback()
        told_once(desk, opened)
        account.refresh_from_db()
        assert account.status == Account.Status.PURGED
        with pytest.raises(Refusal) as caught:  # S11, SPEC §4: the account's rule first, whoever asks
            submit_ticket(account=account, kind=Kind.REACTIVATION, requester=owner, request=Request(**INFO))
        assert caught.value.code == "reactivation_closed"
        former_case = cancellation
    else:
        assert "Ask to reactivate" in page
        traveller_now = MONDAY + dt.timedelta(weeks=walk.reactivation_weeks)
        with time_machine.travel(traveller_now, tick=True):
            client = Client()
            assert sign_in(client, owner, password).url == reverse("former_member")
            assert client.post(reverse("former_member"), {"account": account.account_id}).status_code == 302
            back = Ticket.objects.get(account=account, kind=Kind.REACTIVATION)
            assert (back.requester, back.state) == (User.objects.get(pk=owner.pk), State.SUBMITTED)
            # 4. Staff work it to completed (a support case in every preset that reactivates: K9, U7).
            for name, actor in (("verify", desk.agent), ("approve", desk.manager), ("complete", desk.agent)):
                back = transition_ticket(ticket=Ticket.objects.get(pk=back.pk), name=name, actor=actor)
            account.refresh_from_db()
            assert account.status == Account.Status.ACTIVE
            # K9, U7: the first period boundary after the reactivation: in the future, and within a month
            today = timezone.localdate()
            next_bill = Subscription.objects.get(account=account).next_billing_date
            assert today < next_bill <= today + dt.timedelta(days=31)
            assert Membership.objects.get(account=account, user=owner).role == "owner"
            # As at the cancellation: the license cancellation it closed took no seat away.
            seats = Subscription.objects.get(account=account).seats
            assert (seats, list(account.licenses.values_list("product", "quantity"))) == billed
            client = Client()
            assert sign_in(client, owner, password).url != reverse("former_member")  # a customer again
            assert client.get(reverse("portal:dashboard", args=[account.account_id])).status_code == 200

        # 5. Cancelled again a week later, then purged once its retention is over (U6); Kixie never purges (K8).
        with time_machine.travel(traveller_now + dt.timedelta(weeks=1), tick=True):
            former_case = cancel(desk)
        account.refresh_from_db()
        assert account.status == Account.Status.CANCELLED
        if walk.purges:
            with time_machine.travel(account.purge_after + dt.timedelta(minutes=1)):
                assert purge.purge_account(account.pk).outcome == "purged"
            account.refresh_from_db()
            assert account.status == Account.Status.PURGED
        else:
            # K8, K9: Kixie keeps the data (no purge date), so the purge finds nothing due, ten years on.
            assert account.purge_after is None
            with time_machine.travel(MONDAY + dt.timedelta(days=3650)):
                result = purge.purge_account(account.pk)
            assert result.outcome == "not_due"
            account.refresh_from_db()
            assert account.status == Account.Status.CANCELLED

    # 6. Mail to an old thread sends nothing. Once purged it stores nothing either (U6, S6: no message, no
    # comment). Kixie's account is never purged (K8, K9): what its former owner writes, from their own authenticated
    # address to the address signed for them, waits in triage (no comment on the closed case): a former customer's
    # way back by email, which staff convert to a reactivation.
    messages, public = InboundMessage.objects.count(), Comment.objects.filter(public=True).count()
    comments = Comment.objects.count()
    mail.outbox.clear()
    for thread in (former_case, any_case):
        received = receive(
            email_bytes(
                sender=owner.email,
                to=addresses.reply_address(thread.pk, owner.pk),
                authenticated=True,
                subject=f"Re: [Exitdesk #{thread.pk}]",
                body="Call me on +1 202 555 0143.\n",
            ),
            source="imap",
        )
        assert (received.pk is None) == walk.purges
        assert Ticket.objects.get(pk=thread.pk).state in {State.COMPLETED, State.REJECTED}
    if walk.purges:
        assert (InboundMessage.objects.count(), Comment.objects.count()) == (messages, comments)
    else:
        assert InboundMessage.objects.count() == messages + 2
        assert set(InboundMessage.objects.order_by("-pk")[:2].values_list("status", flat=True)) == {"triage"}
        assert Comment.objects.count() == comments
    assert Comment.objects.filter(public=True).count() == public
    assert mail.outbox == []
    # 7. A password reset of the former owner: nobody is left to send it to once purged (U6, S6). Kixie's owner
    # is a former member for good (no purge, K9): their reset still reaches them, as their way back.
    Client().post(reverse("password_reset"), {"email": owner.email})
    if walk.purges:
        assert mail.outbox == []
        assert not User.objects.filter(email=owner.email).exists()
    else:
        assert [m.to for m in mail.outbox] == [[owner.email]]
