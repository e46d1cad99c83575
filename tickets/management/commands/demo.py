"""`python manage.py demo`: an account per policy preset, users of every role, staff, and their logins.

Idempotent: every row is found by a stable key (account name, email, number, product) before it is created,
so running it twice leaves the same data. The presets and their plans come from the billing migrations.
"""

import datetime as dt
import logging
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from tqdm import tqdm

from accounts import services, two_factor
from accounts.models import STAFF_GROUP_AGENTS, STAFF_GROUP_MANAGERS, Account, Membership, User
from billing.models import AddOn, CardOnFile, CreditEntry, Invoice, License, Plan
from numbers.models import PhoneNumber
from tickets.demo import FORMER_LOGINS, load_demo_tickets

DEMO_PASSWORD = "demo-pass-2026"
DEMO_PIN = "2468"  # every demo account's port-out PIN
CONSOLE_EMAIL = "django.core.mail.backends.console.EmailBackend"
ROLE_MAILBOXES = {
    Membership.Role.OWNER: "owner",
    Membership.Role.SUPER_ADMIN: "super-admin",
    Membership.Role.BILLING_ADMIN: "billing-admin",
    Membership.Role.MEMBER: "member",
}


@dataclass
class StaffSpec:
    key: str
    email: str
    full_name: str
    group: str | None = None
    superuser: bool = False
    role: str = "agent"  # what the login table calls it


STAFF = [
    StaffSpec("agent", "agent@exitdesk.demo", "Alex Agent", group=STAFF_GROUP_AGENTS),
    StaffSpec("manager", "manager@exitdesk.demo", "Morgan Manager", group=STAFF_GROUP_MANAGERS, role="manager"),
    StaffSpec("csm", "csm@exitdesk.demo", "Casey Success", group=STAFF_GROUP_AGENTS, role="agent (account manager)"),
    StaffSpec("admin", "admin@exitdesk.demo", "Ada Admin", superuser=True, role="superuser"),
]


@dataclass
class AccountSpec:
    preset: str
    domain: str
    name: str
    plan: str
    people: tuple[str, str, str, str]  # owner, super admin, billing admin, member
    numbers: list[str]
    seats: int = 1
    account_manager: str | None = None
    pin: str = DEMO_PIN
    card: tuple[str, str] | None = None
    licenses: dict[str, int] = field(default_factory=dict)
    addons: list[dict] = field(default_factory=list)
    # (amount, days from today to the due date, status)
    invoices: list[tuple[str, int, str]] = field(default_factory=list)
    # (amount, reason, note)
    credits: list[tuple[str, str, str]] = field(default_factory=list)
    porting_out: list[str] = field(default_factory=list)


ACCOUNTS = [
    AccountSpec(
        preset="kixie",
        domain="kixie.demo",
        name="Kixie Demo Dialers",
        plan="Power Dialer",  # the higher plan, so K2's downgrade to Integrated has somewhere to go
        people=("Kim Owner", "Sam Super", "Bea Billing", "Max Member"),
        numbers=["+14152370100", "+14152370101"],
        seats=5,
        card=("Visa", "4242"),
        licenses={"agent_seat": 5},
        invoices=[("475.00", -45, "paid"), ("190.00", -14, "open")],  # the open one is overdue (K10)
    ),
    AccountSpec(
        preset="avoxi",
        domain="avoxi.demo",
        name="AVOXI Demo Contact Centre",
        plan="AVOXI Cloud",
        people=("Ava Owner", "Sol Super", "Bo Billing", "Mia Member"),
        numbers=["+12025550143", "+12025550144", "+12025550145"],
        seats=10,
        account_manager="csm",  # A11: Jetpack goes through the account manager
        card=("Mastercard", "5454"),
        licenses={"contact_center": 5, "agent_seat": 10},  # A10: minimum 3 contact-center licenses
        addons=[
            {"product": "call_insights", "name": "Call Insights Pro", "tier": "Pro"},  # A8
            {"product": "number_testing", "name": "Number testing 500", "tier": "500 tests"},  # A9
            {"product": "jetpack", "name": "Jetpack", "tier": "Jetpack Standard"},  # A11
            {"product": "outbound_recording", "name": "Outbound recording"},  # A7, whole organisation
            {"product": "inbound_recording", "name": "Inbound recording", "number": "+12025550143"},  # A7
            {"product": "sip_trunk", "name": "Office PBX trunk"},  # A6: self-service
            {"product": "sip_trunk", "name": "UCaaS trunk", "initial_ucaas": True},  # A6: needs a case
        ],
        invoices=[("299.90", -20, "paid"), ("299.90", 10, "open")],
    ),
    AccountSpec(
        preset="kustomer",
        domain="kustomer.demo",
        name="Kustomer Demo Essentials",
        plan="Essentials",
        people=("Kai Owner", "Sky Super", "Bel Billing", "Mo Member"),
        numbers=["+13125550123"],
        seats=3,
        card=("Amex", "0005"),
        invoices=[("267.00", -25, "paid")],
    ),
    AccountSpec(
        preset="kustomer_premium",
        domain="kustomer-premium.demo",
        name="Kustomer Demo Premium",
        plan="Premium",
        people=("Pat Owner", "Pax Super", "Pia Billing", "Pim Member"),
        numbers=["+16175550100", "+16175550101"],
        seats=8,
        account_manager="csm",  # U3: cancellation goes through the customer-success manager
        card=("Visa", "1881"),
        invoices=[("1112.00", -25, "paid")],
    ),
    AccountSpec(
        preset="smrtphone",
        domain="smrtphone.demo",
        name="smrtPhone Demo Realty",
        plan="smrtPhone Pro",
        people=("Sid Owner", "Sue Super", "Ben Billing", "Meg Member"),
        numbers=["+12125551234", "+12125551235"],
        seats=2,
        card=("Visa", "4000"),
        credits=[("100.00", "top_up", "Demo top-up"), ("-25.50", "usage", "Demo call usage")],  # S7: balance 74.50
        porting_out=["+12125551235"],  # S10: a port-out in progress blocks the cancellation
        invoices=[("80.00", -30, "paid")],
    ),
]


class Command(BaseCommand):
    help = "Load the demo: an account per policy preset with users of every role, staff users, and print the logins."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="Print the emails the demo sends (console email backend) instead of writing them to files.",
        )
        parser.add_argument(
            "--emails-to",
            default=str(Path(tempfile.gettempdir()) / "exitdesk-demo-emails"),
            help="Where the demo's emails go while the console email backend is configured (default: %(default)s).",
        )

    def handle(self, *args, **options) -> None:
        if not Plan.objects.exists():
            raise CommandError("No plans found: run `python manage.py migrate` first (the presets ship as migrations).")
        self.password_hash = make_password(DEMO_PASSWORD)  # hashed once: every demo login shares it
        self.logins: list[tuple[str, str, str, str]] = []  # role, email, account, preset
        self.authenticators: list[tuple[str, str, str]] = []
        steps = tqdm(
            total=len(STAFF) + len(ACCOUNTS) + 1,
            desc="Loading demo",
            unit="step",
            file=sys.stderr,
            disable=options["verbosity"] == 0,
        )
        with ExitStack() as quiet:
            emails_to = None if options["verbose"] else self.quiet(quiet, Path(options["emails_to"]))
            self.load(steps)
        steps.close()
        if options["verbosity"] > 0:
            self.print_logins(emails_to)

    def quiet(self, stack: ExitStack, folder: Path) -> Path | None:
        """Without --verbose, emails the console backend would print go to files, and a missing broker's warning
        is not shown; returns the folder when emails go there. Other backends (SMTP, memory in tests) stay."""
        kombu = logging.getLogger("kombu.connection")
        stack.callback(kombu.setLevel, kombu.level)
        kombu.setLevel(logging.ERROR)
        if settings.EMAIL_BACKEND != CONSOLE_EMAIL:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        stack.enter_context(
            override_settings(
                EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(folder)
            )
        )
        return folder

    def load(self, steps) -> None:
        with transaction.atomic():
            staff = {}
            for spec in STAFF:
                staff[spec.key] = self.load_staff(spec)
                steps.update()
            accounts = {}
            for spec in ACCOUNTS:
                steps.set_postfix_str(spec.preset)
                accounts[spec.preset] = self.load_account(spec, staff)
                steps.update()
            self.load_tickets(accounts, staff)
            steps.update()

    # -- staff ---------------------------------------------------------------------------------------------
    def load_staff(self, spec: StaffSpec) -> User:
        user, _ = User.objects.update_or_create(
            email=spec.email,
            defaults={
                "full_name": spec.full_name,
                "is_staff": True,
                "is_superuser": spec.superuser,
                "is_active": True,
                "password": self.password_hash,
            },
        )
        if spec.group:
            user.groups.set([Group.objects.get(name=spec.group)])
        # Staff two-factor: every demo staff user gets an authenticator (kept when the demo is loaded again).
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or two_factor.create_authenticator(
            user, name="Demo authenticator"
        )
        self.authenticators.append((spec.email, two_factor.secret_of(device), device.config_url))
        self.logins.append((spec.role, spec.email, "staff", "—"))
        return user

    # -- accounts ------------------------------------------------------------------------------------------
    def load_account(self, spec: AccountSpec, staff: dict[str, User]) -> Account:
        """Find or create one preset's account, then bring everything it holds to the spec.

        1. The account and its subscription (created by the service, found by name afterwards).
        2. Its people, one per role, all with the demo password.
        3. Numbers, the card, licenses, add-ons, invoices and credit lines, each found by a stable key.
        """
        plan = Plan.objects.get(policy__preset=spec.preset, name=spec.plan)
        manager = staff[spec.account_manager] if spec.account_manager else None
        account = Account.objects.filter(name=spec.name).first()
        if account is None:
            account = services.create_account(
                name=spec.name, plan=plan, port_out_pin=spec.pin, account_manager=manager, seats=spec.seats
            )
        else:
            account.plan, account.account_manager = plan, manager
            account.save(update_fields=["plan", "account_manager"])

        for role, full_name in zip(ROLE_MAILBOXES, spec.people, strict=True):
            email = f"{ROLE_MAILBOXES[role]}@{spec.domain}"
            membership = Membership.objects.filter(account=account, user__email=email).select_related("user").first()
            if membership is None:
                membership = services.add_member(account=account, email=email, full_name=full_name, role=role)
            User.objects.filter(pk=membership.user_id).update(
                password=self.password_hash, full_name=full_name, is_active=True
            )
            self.logins.append((role.replace("_", " "), email, spec.name, spec.preset))

        numbers = {}
        for number in spec.numbers:
            phone = PhoneNumber.objects.filter(account=account, number=number).first()
            numbers[number] = phone or services.add_number(account=account, number=number)
        for number in spec.porting_out:
            PhoneNumber.objects.filter(pk=numbers[number].pk).update(status=PhoneNumber.Status.PORTING_OUT)

        if spec.card and not CardOnFile.objects.filter(account=account, last4=spec.card[1]).exists():
            services.set_card(account=account, brand=spec.card[0], last4=spec.card[1])
        for product, quantity in spec.licenses.items():
            if not License.objects.filter(account=account, product=product).exists():
                services.add_license(account=account, product=product, quantity=quantity)
        for addon in spec.addons:
            number = numbers[addon["number"]] if addon.get("number") else None
            if not AddOn.objects.filter(account=account, product=addon["product"], name=addon["name"]).exists():
                services.add_addon(
                    account=account,
                    product=addon["product"],
                    name=addon["name"],
                    tier=addon.get("tier", ""),  # A8, A9, A11: one of the policy's tiers
                    initial_ucaas=addon.get("initial_ucaas", False),
                    number=number,
                )
        today = timezone.localdate()
        for amount, due_in_days, status in spec.invoices:
            due_date = today + dt.timedelta(days=due_in_days)
            invoice = Invoice.objects.filter(account=account, amount=Decimal(amount), status=status).first()
            if invoice is None:
                services.add_invoice(account=account, amount=amount, due_date=due_date, status=status)
            elif invoice.due_date != due_date:
                # Keep "overdue" overdue whatever day the demo is loaded again.
                Invoice.objects.filter(pk=invoice.pk).update(due_date=due_date)
        for amount, reason, note in spec.credits:
            if not CreditEntry.objects.filter(account=account, reason=reason, note=note).exists():
                services.add_credit(account=account, amount=amount, reason=reason, note=note)
        return account

    # -- tickets -------------------------------------------------------------------------------------------
    def load_tickets(self, accounts: dict[str, Account], staff: dict[str, User]) -> None:
        """Tickets of every kind in every state, through the workflow's own services."""
        load_demo_tickets(accounts, staff)
        self.logins += FORMER_LOGINS  # SPEC §4: a cancelled account's owner signs in to the former-member page
        try:
            # an app that may be left out
            from tickets.inbound.demo import load_demo_emails
        except ImportError:  # the email channel's app is not installed
            return
        load_demo_emails()  # the triage queue: a few emails through the same pipeline as a real mailbox

    # -- output --------------------------------------------------------------------------------------------
    def print_logins(self, emails_to: Path | None) -> None:
        """Short and in this order: where the emails went, the addresses, the PIN, the staff authenticators, and
        last the logins as a table (what one looks for after the command ends)."""
        write = self.stdout.write
        write(self.style.SUCCESS("\nDemo loaded."))
        if emails_to:
            write(f"Emails the demo sent are files in {emails_to} (`demo --verbose` prints them instead).")
        write("Agent desk (staff): http://127.0.0.1:8000/admin/   Portal (customers): http://127.0.0.1:8000/")
        write(f"Port-out PIN of each preset's demo account: {DEMO_PIN}")
        write(
            "\nStaff also give a code from an authenticator app (two-factor): add the secret to any TOTP app (or open "
            "its otpauth:// URI), sign in with the password, then enter the app's 6-digit code."
        )
        self.table(["staff email", "TOTP secret"], [(email, secret) for email, secret, _ in self.authenticators])
        for _, _, uri in self.authenticators:
            write(f"  {uri}")
        write(f"\nLogins (every one uses the password {DEMO_PASSWORD}):")
        rows = [(role, email, DEMO_PASSWORD, account, preset) for role, email, account, preset in self.logins]
        self.table(["role", "email", "password", "account", "preset"], rows)

    def table(self, header: list[str], rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

        def line(cells) -> str:
            return "  " + "  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths, strict=True)).rstrip()

        self.stdout.write(line(header))
        self.stdout.write(line(["-" * width for width in widths]))
        for row in rows:
            self.stdout.write(line(row))
