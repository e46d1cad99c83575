"""Provisioning: creating accounts and what they hold. The admin, the API and `demo` call these.

Each use case runs in one transaction and refuses bad input with a ValidationError that says what is wrong.
"""

import calendar
import datetime as dt
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Membership
from billing.models import AddOn, CardOnFile, CreditEntry, Invoice, License, Plan, Subscription
from numbers.models import PhoneNumber, normalize_e164

User = get_user_model()


def _a_month_after(day: dt.date) -> dt.date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def _decimal(value, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field: f"{value!r} is not an amount."}) from exc


def create_account(
    *,
    name: str,
    plan: Plan,
    port_out_pin: str | None = None,
    account_manager=None,
    seats: int = 1,
    next_billing_date: dt.date | None = None,
) -> Account:
    """Open an account on a plan with its subscription.

    1. Create the account, with the port-out PIN hashed (never stored in clear).
    2. Start the subscription: `seats` seats, billed next on `next_billing_date` (a month from today by default).
    """
    if account_manager is not None and not account_manager.is_staff:
        raise ValidationError({"account_manager": "The account manager must be a member of staff."})
    with transaction.atomic():
        account = Account(name=(name or "").strip(), plan=plan, account_manager=account_manager)
        account.set_port_out_pin(port_out_pin)
        account.full_clean()
        account.save()
        subscription = Subscription(
            account=account,
            seats=seats,
            next_billing_date=next_billing_date or _a_month_after(timezone.localdate()),
        )
        subscription.full_clean()
        subscription.save()
    return account


def add_member(*, account: Account, email: str, full_name: str, role: str, password: str | None = None) -> Membership:
    """Add a person to an account with a role, creating their user when the email is new.

    Without a password the new user gets an unusable password: they cannot sign in until they set one
    (the invitation email that lets them do so is sent by the email notifications, not here).
    An account has exactly one owner: a second owner is refused.
    """
    email = User.objects.normalize_email((email or "").strip()).lower()
    if not email:
        raise ValidationError({"email": "An email address is required."})
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; one of {', '.join(Membership.Role.values)}."})
    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User(email=email, full_name=(full_name or "").strip())
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.full_clean()
            user.save()
        elif user.is_staff:
            raise ValidationError({"email": "A member of staff cannot be a member of a customer account."})
        elif account.memberships.filter(user=user).exists():
            raise ValidationError({"email": "This person is already a member of this account."})
        membership = Membership(account=account, user=user, role=role)
        membership.full_clean()
        membership.save()
    return membership


def add_number(*, account: Account, number: str, inbound_recording: bool = False) -> PhoneNumber:
    """Put a phone number on an account, written in E.164; a number in service on any account is refused.

    A number created with inbound recording gets its inbound-recording add-on (A7), so the recording can be
    cancelled on its own like any add-on (`addon_cancellation`).
    """
    e164 = normalize_e164(number)
    with transaction.atomic():
        if PhoneNumber.objects.on_account().filter(number=e164).exists():
            raise ValidationError({"number": f"{e164} is already in service on an account."})
        phone_number = PhoneNumber(account=account, number=e164, inbound_recording=inbound_recording)
        phone_number.full_clean()
        phone_number.save()
        if inbound_recording:
            add_addon(account=account, product=AddOn.Product.INBOUND_RECORDING, number=phone_number)
    return phone_number


def ensure_inbound_recording_addon(number: PhoneNumber) -> AddOn | None:
    """A7: a number recording its inbound calls holds an active inbound-recording add-on (the admin's number forms
    switch the flag directly and call this after saving)."""
    if not number.inbound_recording or number.account_id is None:
        return None
    return add_addon(account=number.account, product=AddOn.Product.INBOUND_RECORDING, number=number)


def add_license(*, account: Account, product: str, quantity: int) -> License:
    """Add a license line; its minimum comes from the plan's policy (A10) and the quantity must meet it."""
    minimum = account.plan.policy.license_minimum(product)
    if quantity is None or int(quantity) < 0:
        raise ValidationError({"quantity": "A license quantity cannot be negative."})
    if int(quantity) < minimum:
        raise ValidationError({"quantity": f"At least {minimum} {product} licenses must be held on this plan."})
    with transaction.atomic():
        license_line = License(account=account, product=product, quantity=int(quantity), minimum=minimum)
        license_line.full_clean()
        license_line.save()
    return license_line


def add_addon(
    *,
    account: Account,
    product: str,
    name: str = "",
    tier: str = "",
    initial_ucaas: bool = False,
    number: PhoneNumber | None = None,
) -> AddOn:
    """Add a paid feature. Inbound recording belongs to one number (A7); only SIP trunks can be initial UCaaS (A6); a
    tier is one the policy lists for the product (A8, A9, A11)."""
    if initial_ucaas and product != AddOn.Product.SIP_TRUNK:
        raise ValidationError({"initial_ucaas": "Only a SIP trunk can be an initial UCaaS trunk."})
    if product == AddOn.Product.INBOUND_RECORDING and number is None:
        raise ValidationError({"number": "Inbound call recording belongs to one number: choose the number."})
    if product != AddOn.Product.INBOUND_RECORDING and number is not None:
        raise ValidationError({"number": "Only inbound call recording belongs to a number."})
    if number is not None and number.account_id != account.pk:
        raise ValidationError({"number": f"{number} is not on this account."})
    with transaction.atomic():
        if number is not None:
            # One recording per number: asking again for a number that records already gives its add-on back.
            current = number.addons.filter(product=product, status=AddOn.Status.ACTIVE).first()
            if current is not None:
                return current
        addon = AddOn(
            account=account, product=product, name=name, tier=tier, initial_ucaas=initial_ucaas, number=number
        )
        addon.full_clean()
        addon.save()
        if product == AddOn.Product.INBOUND_RECORDING and not number.inbound_recording:
            number.inbound_recording = True
            number.save(update_fields=["inbound_recording"])
    return addon


def add_invoice(*, account: Account, amount, due_date: dt.date, status: str = Invoice.Status.OPEN) -> Invoice:
    with transaction.atomic():
        invoice = Invoice(account=account, amount=_decimal(amount, "amount"), due_date=due_date, status=status)
        invoice.full_clean()
        invoice.save()
    return invoice


def set_card(*, account: Account, brand: str, last4: str) -> CardOnFile:
    """Record the card on file: its brand and exactly its last four digits, never more of the number."""
    last4 = str(last4 or "").strip()
    if len(last4) != 4 or not last4.isdigit():
        raise ValidationError({"last4": "Give exactly the last four digits of the card, never the full number."})
    with transaction.atomic():
        card = CardOnFile.objects.select_for_update().filter(account=account).first() or CardOnFile(account=account)
        card.brand = (brand or "").strip()
        card.last4 = last4
        card.full_clean()
        card.save()
    return card


def add_credit(*, account: Account, amount, reason: str, note: str = "") -> CreditEntry:
    """Write one line of the credit ledger; the balance is the sum of the lines."""
    with transaction.atomic():
        entry = CreditEntry(account=account, amount=_decimal(amount, "amount"), reason=reason, note=note)
        entry.full_clean()
        entry.save()
    return entry
