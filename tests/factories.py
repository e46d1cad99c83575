"""factory_boy factories for every model. Plans and policies default to the shipped presets (from migrations)."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts import lifecycle
from accounts.models import STAFF_GROUP_AGENTS, STAFF_GROUP_MANAGERS, Account, Membership, Tombstone, User
from billing.models import AddOn, CardOnFile, CreditEntry, Invoice, License, Plan, Policy, Subscription
from numbers.models import PhoneNumber
from tickets.models import (
    Attachment,
    Comment,
    EmailNotice,
    IdempotencyKey,
    RetentionOutcome,
    Ticket,
    TransitionLog,
    VerificationAttempt,
)

PASSWORD = "test-pass-2026"
PIN = "1234"


def preset_plan(preset: str = "avoxi") -> Plan:
    """The lowest plan of a shipped preset."""
    return Plan.objects.filter(policy__preset=preset).order_by("rank").first()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["email"]
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.django.Password(PASSWORD)


def _staff_groups(default: str):
    @factory.post_generation
    def groups(user: User, create: bool, extracted, **kwargs) -> None:
        if create:
            user.groups.set(Group.objects.filter(name__in=extracted or [default]))

    return groups


class StaffFactory(UserFactory):
    """A support agent (staff in the "Support agents" group)."""

    is_staff = True
    groups = _staff_groups(STAFF_GROUP_AGENTS)


class ManagerFactory(StaffFactory):
    """A support manager (staff in the "Support managers" group)."""

    groups = _staff_groups(STAFF_GROUP_MANAGERS)


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy

    preset = factory.Sequence(lambda n: f"custom-{n}")
    name = factory.Sequence(lambda n: f"Custom policy {n}")
    intake_channels = factory.LazyFunction(lambda: ["web", "email", "phone", "api"])


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    name = factory.Sequence(lambda n: f"Plan {n}")
    product_line = factory.Sequence(lambda n: f"line-{n}")
    rank = 1
    price_per_seat = Decimal("10.00")
    policy = factory.SubFactory(PolicyFactory)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")
    plan = factory.LazyFunction(preset_plan)
    port_out_pin = factory.LazyFunction(lambda: make_password(PIN))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Membership.Role.MEMBER


def move_account(account: Account, *names: str, actor: User | None = None) -> Account:
    """Run the account's machine through `names` (accounts.lifecycle: the one way its status moves), e.g.
    `move_account(account, "cancel")` for a cancelled account without a cancellation ticket."""
    now = timezone.now()
    arguments = {
        "cancel": {"at": now, "purge_after": now + dt.timedelta(days=account.plan.policy.retention_days)},
        "reactivate": {"at": now},
        "start_purge": {"claim": "test", "at": now},
        "hold_purge": {},
        "purge": {"at": now},
    }
    for name in names:
        lifecycle.move_account(account=account, name=name, actor=actor, channel="system", **arguments[name])
    return account


def purged_account() -> Account:
    return move_account(AccountFactory(), "cancel", "start_purge", "purge")


class TombstoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tombstone

    account = factory.LazyFunction(purged_account)
    account_code = factory.SelfAttribute("account.account_id")
    plan_name = factory.SelfAttribute("account.plan.name")
    counts = factory.LazyFunction(lambda: {"numbers": 0})


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    account = factory.SubFactory(AccountFactory)
    seats = 1
    next_billing_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=30))


class LicenseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = License

    account = factory.SubFactory(AccountFactory)
    product = License.Product.AGENT_SEAT
    quantity = 5
    minimum = 0


class PhoneNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneNumber

    account = factory.SubFactory(AccountFactory)
    # Washington DC numbers that phonenumbers accepts as valid.
    number = factory.Sequence(lambda n: f"+1202555{n % 10000:04d}")


class AddOnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AddOn

    account = factory.SubFactory(AccountFactory)
    product = AddOn.Product.CALL_INSIGHTS


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    account = factory.SubFactory(AccountFactory)
    amount = Decimal("100.00")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=14))
    status = Invoice.Status.OPEN


class CreditEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditEntry

    account = factory.SubFactory(AccountFactory)
    amount = Decimal("50.00")
    reason = CreditEntry.Reason.TOP_UP


class CardOnFileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CardOnFile

    account = factory.SubFactory(AccountFactory)
    brand = "Visa"
    last4 = "4242"


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    kind = "account_cancellation"
    account = factory.SubFactory(AccountFactory)
    requester = factory.SubFactory(UserFactory)
    full_name = factory.SelfAttribute("requester.full_name")
    contact = factory.SelfAttribute("requester.email")


class TransitionLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TransitionLog

    ticket = factory.SubFactory(TicketFactory)
    transition = "submit"
    source = ""
    target = "submitted"
    actor = factory.SelfAttribute("ticket.requester")
    actor_label = factory.LazyAttribute(lambda o: o.actor.email if o.actor else "system")
    channel = "web"


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    ticket = factory.SubFactory(TicketFactory)
    author = factory.SelfAttribute("ticket.requester")
    body = "Please go ahead."


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    ticket = factory.SubFactory(TicketFactory)
    file = factory.django.FileField(filename="invoice.pdf", data=b"%PDF-1.4 demo")
    name = "invoice.pdf"
    content_type = "application/pdf"
    size = 13


class VerificationAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VerificationAttempt

    account = factory.SubFactory(AccountFactory)
    method = "card_last4"
    succeeded = False


class EmailNoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailNotice

    key = factory.Sequence(lambda n: f"notice-{n}")
    ticket = factory.SubFactory(TicketFactory)
    template = "ticket_submitted"
    recipients = factory.LazyFunction(lambda: ["someone@example.test"])


class RetentionOutcomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RetentionOutcome

    account = factory.SubFactory(AccountFactory)
    plan = factory.SelfAttribute("account.plan")
    reason = "too_expensive"


class IdempotencyKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdempotencyKey

    key = factory.Sequence(lambda n: f"idem-{n}")
    user = factory.SubFactory(UserFactory)
