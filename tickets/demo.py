"""Demo tickets: every kind and every state, made through the same services a real desk uses.

Idempotent: a ticket is made only when its account has no ticket of that kind yet.
"""

import datetime as dt

from django.utils import timezone

from accounts import services as provisioning
from accounts.models import Account, Membership, User
from billing.models import AddOn, License, Plan, Policy
from numbers.models import PhoneNumber
from tickets import purge

from .models import Kind, LogChannel, RetentionOutcome, Ticket
from .services import Request, submit_ticket, transition_ticket

FORMER_CUSTOMER = "Kustomer Demo Former Customer"
# The demo's former member (SPEC §4, "Account lifecycle"): signs in to the former-member page; printed with the logins.
FORMER_LOGINS = [("former member (owner)", "owner@former.demo", FORMER_CUSTOMER, "kustomer")]
PURGED_CUSTOMER = ("Kustomer Demo Purged Customer", "owner@purged.demo", "+13125550173", 90, "")


def _person(account: Account, role: str) -> User:
    return Membership.objects.select_related("user").get(account=account, role=role).user


def _last_intake_moment(policy: Policy) -> dt.datetime:
    """10:00 on the most recent intake weekday, in the policy's time zone (for a call taken earlier)."""
    local = timezone.now().astimezone(policy.tz)
    day = local.date() if local.time() >= dt.time(10, 0) else local.date() - dt.timedelta(days=1)
    while day.weekday() not in policy.intake_weekdays:
        day -= dt.timedelta(days=1)
    return dt.datetime.combine(day, max(policy.intake_start, dt.time(10, 0)), tzinfo=policy.tz)


def _once(account: Account, kind: str, make) -> None:
    if not Ticket.objects.filter(account=account, kind=kind).exists():
        make()


def _run(ticket: Ticket, staff: dict[str, User], *steps: str, **evidence) -> Ticket:
    for name in steps:
        actor = staff["manager"] if name == "approve" else staff["agent"]
        ticket = transition_ticket(ticket=ticket, name=name, actor=actor, channel=LogChannel.ADMIN, **evidence)
    return ticket


def load_demo_tickets(accounts: dict[str, Account], staff: dict[str, User]) -> int:
    """Make the demo's tickets; returns how many tickets the demo accounts hold afterwards."""
    kixie, avoxi, smrt = accounts["kixie"], accounts["avoxi"], accounts["smrtphone"]
    premium = accounts["kustomer_premium"]

    # Kixie: a cancellation taken by phone waits for the agent's card check (K6, K7); a downgrade (K1, K2);
    # a port-out with an overdue invoice waits for a manager (K10).
    owner = _person(kixie, "owner")
    _once(
        kixie,
        Kind.ACCOUNT_CANCELLATION,
        lambda: submit_ticket(
            account=kixie,
            kind=Kind.ACCOUNT_CANCELLATION,
            requester=owner,
            channel="phone",
            actor=staff["agent"],
            received_at=_last_intake_moment(kixie.plan.policy),
            request=Request(
                full_name=owner.full_name,
                contact=owner.email,
                reason="too_expensive",
                comment="Slow season; we may come back.",
            ),
        ),
    )
    _once(
        kixie,
        Kind.DOWNGRADE,
        lambda: submit_ticket(
            account=kixie,
            kind=Kind.DOWNGRADE,
            requester=owner,
            channel="email",
            actor=staff["agent"],
            request=Request(plan=kixie.plan.lowest_in_line(), full_name=owner.full_name, contact=owner.email),
        ),
    )
    kixie_line = kixie.numbers.filter(status="active").order_by("number").last()
    _once(
        kixie,
        Kind.PORT_OUT,
        lambda: _run(
            submit_ticket(
                account=kixie,
                kind=Kind.PORT_OUT,
                requester=owner,
                channel="email",
                actor=staff["agent"],
                request=Request(
                    numbers=[kixie_line],
                    gaining_carrier="Telnyx",
                    authorized_name=owner.full_name,
                    pin="2468",
                    contact=owner.email,
                ),
            ),
            staff,
            "verify",
        ),
    )

    # AVOXI: a license cancellation verified (A5, A10), Call Insights cancelled self-service (A8), Jetpack with
    # the account manager (A11), a number cancellation withdrawn by its requester (A2).
    super_admin, avoxi_owner = _person(avoxi, "super_admin"), _person(avoxi, "owner")
    info = {"full_name": super_admin.full_name, "company": avoxi.name, "contact": super_admin.email}
    _once(
        avoxi,
        Kind.LICENSE_CANCELLATION,
        lambda: _run(
            submit_ticket(
                account=avoxi,
                kind=Kind.LICENSE_CANCELLATION,
                requester=super_admin,
                request=Request(
                    license=License.objects.get(account=avoxi, product="contact_center"), quantity=1, **info
                ),
            ),
            staff,
            "verify",
        ),
    )
    if not Ticket.objects.filter(account=avoxi, kind=Kind.ADDON_CANCELLATION).exists():
        for product in ("call_insights", "jetpack"):
            submit_ticket(
                account=avoxi,
                kind=Kind.ADDON_CANCELLATION,
                requester=super_admin,
                request=Request(addon=AddOn.objects.get(account=avoxi, product=product), **info),
            )
    avoxi_line = avoxi.numbers.filter(status="active").order_by("number").last()
    _once(
        avoxi,
        Kind.NUMBER_CANCELLATION,
        lambda: transition_ticket(
            ticket=submit_ticket(
                account=avoxi,
                kind=Kind.NUMBER_CANCELLATION,
                requester=avoxi_owner,
                request=Request(numbers=[avoxi_line], **info),
            ),
            name="withdraw",
            actor=avoxi_owner,
            channel=LogChannel.WEB,
        ),
    )

    # smrtPhone: a port-out approved with its FOC date, which blocks cancelling (S10); a number cancellation
    # rejected with a reason.
    smrt_owner = _person(smrt, "owner")
    in_flight = smrt.numbers.filter(status="porting_out").first()
    if in_flight and not Ticket.objects.filter(account=smrt, kind=Kind.PORT_OUT).exists():
        PhoneNumber.objects.filter(pk=in_flight.pk).update(status="active")  # the ticket puts it in flight
        _run(
            submit_ticket(
                account=smrt,
                kind=Kind.PORT_OUT,
                requester=smrt_owner,
                request=Request(
                    numbers=[in_flight],
                    gaining_carrier="Twilio",
                    authorized_name=smrt_owner.full_name,
                    pin="2468",
                    contact=smrt_owner.email,
                ),
            ),
            staff,
            "verify",
            "approve",
        )
    smrt_line = smrt.numbers.filter(status="active").first()
    if smrt_line:
        _once(
            smrt,
            Kind.NUMBER_CANCELLATION,
            lambda: transition_ticket(
                ticket=submit_ticket(
                    account=smrt,
                    kind=Kind.NUMBER_CANCELLATION,
                    requester=smrt_owner,
                    request=Request(numbers=[smrt_line], contact=smrt_owner.email),
                ),
                name="reject",
                actor=staff["agent"],
                channel=LogChannel.ADMIN,
                reason="This is the account's main line; reply to confirm you want it released.",
            ),
        )

    # Kustomer Premium: a cancellation routed to the customer-success manager (U3).
    premium_owner = _person(premium, "owner")
    _once(
        premium,
        Kind.ACCOUNT_CANCELLATION,
        lambda: submit_ticket(
            account=premium,
            kind=Kind.ACCOUNT_CANCELLATION,
            requester=premium_owner,
            request=Request(
                reason="switched_service",
                comment="Moving to another helpdesk.",
                acknowledgements=list(premium.plan.policy.acknowledgements),
            ),
        ),
    )

    # Kustomer Essentials: a former customer who cancelled self-service (U2) and asks to come back (U7).
    former = Account.objects.filter(name=FORMER_CUSTOMER).first()
    if former is None:
        former = provisioning.create_account(name=FORMER_CUSTOMER, plan=Plan.objects.get(policy__preset="kustomer"))
        person = provisioning.add_member(
            account=former, email="owner@former.demo", full_name="Fran Former", role="owner", password="demo-pass-2026"
        )
        provisioning.add_number(account=former, number="+13125550188")
        submit_ticket(
            account=former,
            kind=Kind.ACCOUNT_CANCELLATION,
            requester=person.user,
            request=Request(reason="unused", acknowledgements=list(former.plan.policy.acknowledgements)),
        )
        submit_ticket(
            account=former,
            kind=Kind.REACTIVATION,
            requester=User.objects.get(pk=person.user_id),
            channel="email",
            actor=staff["agent"],
            request=Request(full_name="Fran Former", contact="owner@former.demo"),
        )
    _load_lapsed_customers()
    _load_purged_customer()
    _load_retention_history(accounts)
    return Ticket.objects.count()


def _load_retention_history(accounts: dict[str, Account]) -> None:
    """Runs of the cancellation flow over the past months: what was asked, offered and decided (U8, U9, S2)."""
    if RetentionOutcome.objects.exists():
        return
    now = timezone.now()
    runs = [
        # (preset, days ago, reason, offers shown, outcome)
        ("kustomer", 150, "too_expensive", ["downgrade", "meeting"], RetentionOutcome.Outcome.MEETING),
        ("kustomer", 120, "missing_features", ["meeting"], RetentionOutcome.Outcome.CANCELLED),
        ("kustomer_premium", 95, "too_expensive", ["downgrade", "meeting"], RetentionOutcome.Outcome.DOWNGRADED),
        ("smrtphone", 80, "unused", ["meeting"], RetentionOutcome.Outcome.KEPT),
        ("smrtphone", 45, "switched_service", ["meeting"], RetentionOutcome.Outcome.ABANDONED),
        ("kustomer_premium", 20, "switched_service", ["downgrade", "meeting"], RetentionOutcome.Outcome.CANCELLED),
        ("kustomer", 6, "too_complex", ["meeting"], RetentionOutcome.Outcome.KEPT),
    ]
    for preset, days, reason, offers, outcome in runs:
        account = accounts[preset]
        RetentionOutcome.objects.create(
            account=account,
            plan=account.plan,
            user=_person(account, "owner"),
            reason=reason,
            offers_shown=offers,
            outcome=outcome,
            created_at=now - dt.timedelta(days=days),
        )


LAPSED = [
    # (account name, owner email, number, days since cancellation, legal hold reason)
    ("Kustomer Demo Lapsed Customer", "owner@lapsed.demo", "+13125550171", 75, ""),
    (
        "Kustomer Demo Disputed Customer",
        "owner@disputed.demo",
        "+13125550172",
        70,
        "Chargeback dispute #4411: keep the records.",
    ),
]


def _load_lapsed_customers() -> None:
    """Two accounts past their 60-day retention (U6): one due for the purge, one held by a legal hold.

    Their cancellations go through the services like any other; only the dates are then set back in time,
    so `purge_expired --dry-run` has something to list and something to refuse.
    """
    for lapsed in LAPSED:
        if not Account.objects.filter(name=lapsed[0]).exists():
            _lapse(*lapsed)


def _load_purged_customer() -> None:
    """A former customer the purge already took (U6): its tombstone, redacted case and logs in the admin; its
    owner no longer exists, and mail to its case's reply address stores nothing. The purge names the account by its
    ID, so the demo looks for a purged Kustomer account instead of the name."""
    if not Account.objects.filter(status=Account.Status.PURGED, plan__policy__preset="kustomer").exists():
        account = _lapse(*PURGED_CUSTOMER)
        purge.purge_account(account.pk)


def _lapse(name: str, email: str, number: str, days: int, hold: str) -> Account:
    """A Kustomer account cancelled self-service `days` ago (its dates set back after the services ran)."""
    plan = Plan.objects.get(policy__preset="kustomer")
    account = provisioning.create_account(name=name, plan=plan)
    owner = provisioning.add_member(
        account=account, email=email, full_name=name.split(" Demo ")[1], role="owner", password="demo-pass-2026"
    ).user
    provisioning.add_number(account=account, number=number)
    ticket = submit_ticket(
        account=account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=owner,
        request=Request(
            reason="switched_service",
            comment="Found a cheaper tool.",
            acknowledgements=list(plan.policy.acknowledgements),
        ),
    )
    cancelled_at = timezone.now() - dt.timedelta(days=days)
    Account.objects.filter(pk=account.pk).update(
        cancelled_at=cancelled_at,
        purge_after=cancelled_at + dt.timedelta(days=plan.policy.retention_days),
        legal_hold=bool(hold),
        legal_hold_reason=hold,
    )
    Ticket.objects.filter(pk=ticket.pk).update(created_at=cancelled_at, closed_at=cancelled_at)
    ticket.log.update(at=cancelled_at)
    return account
