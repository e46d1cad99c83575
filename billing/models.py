"""Plans, the policy that governs how a plan's customers leave (SPEC §3), and what an account pays for."""

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal

import holidays
from django.core.exceptions import ValidationError
from django.core.validators import EMPTY_VALUES, MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.vocabulary import Channel, ExitReason, Kind, Role

# What the customer ticks before an account cancellation; a policy lists the keys it requires.
ACKNOWLEDGEMENT_TEXTS = {
    "numbers_lost": "Phone numbers that have not been ported out will be released and cannot be recovered.",
    "data_deleted": "All data (agents, call flows, billing history, call recordings) will be permanently deleted.",
    # U6, U7: Kustomer keeps the data for the retention window; {retention_days} is the policy's own number.
    "data_deleted_after_retention": (
        "The account's data is deleted {retention_days} days after the cancellation. Until then the account can be "
        "restarted by contacting billing; after that it cannot be recovered."
    ),
    # Kustomer's "ensure you have saved any necessary information before canceling" (SPEC §6, data export).
    "data_saved": "I have saved any information I need from the account before cancelling.",
    "credit_forfeited": "Any remaining credit is forfeited; credit balances are not refunded.",
    "no_reactivation": "A cancelled account cannot be reactivated; coming back means starting from scratch.",
    "access_removed": "User access is removed and messages stop sending immediately.",
    "no_refund": "Subscription charges already made are not refunded.",
}

# S2, U9, K1: the offers an exit-survey answer can lead to (besides keeping the account, always possible).
RETENTION_OFFERS = {"downgrade": "Downgrade to the lowest plan", "meeting": "Meeting with customer success"}
# Stripe's eight cancellation_details.feedback values (SPEC §4), as the exit survey offers them.
EXIT_REASONS = ExitReason.values

REQUIRED_INFO_FIELDS = {
    "full_name": "Full name",
    "company_or_account_id": "Company name or account ID",
    "contact": "Contact information",
}


def _default_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


def _valid_roles(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Expected an object mapping each ticket kind to a list of roles.")
    for kind, roles in value.items():
        if kind not in Kind.values:
            raise ValidationError(f"Unknown ticket kind {kind!r}.")
        if not isinstance(roles, list) or any(r not in Role.values for r in roles):
            raise ValidationError(f"Roles for {kind} must be a list drawn from {', '.join(Role.values)}.")


def _all_drawn_from(value, keys) -> bool:
    # Check the type first: a list or dict element is unhashable and would raise TypeError.
    return isinstance(value, list) and all(isinstance(k, str) and k in keys for k in value)


def _valid_acknowledgements(value) -> None:
    if not _all_drawn_from(value, ACKNOWLEDGEMENT_TEXTS):
        raise ValidationError(f"Acknowledgements must be a list drawn from {', '.join(ACKNOWLEDGEMENT_TEXTS)}.")


def _valid_offers_by_reason(value) -> None:
    shape = (
        f"Offers per reason map one of {', '.join(EXIT_REASONS)} to a list drawn from {', '.join(RETENTION_OFFERS)}."
    )
    if not isinstance(value, dict):
        raise ValidationError(shape)
    for reason, offers in value.items():
        if reason not in EXIT_REASONS or not _all_drawn_from(offers, RETENTION_OFFERS):
            raise ValidationError(shape)


def _valid_channels(value) -> None:
    keys = set(Channel.values)
    if not value or not _all_drawn_from(value, keys):
        raise ValidationError(f"Channels must be a non-empty list drawn from {', '.join(sorted(keys))}.")


def _valid_weekdays(value) -> None:
    if not isinstance(value, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in value):
        raise ValidationError("Weekdays must be a list of numbers 0 (Monday) to 6 (Sunday).")


def _valid_minimums(value) -> None:
    if not isinstance(value, dict) or any(not isinstance(v, int) or v < 0 for v in value.values()):
        raise ValidationError("License minimums must map a product to a whole number ≥ 0.")


def _valid_routes(value) -> None:
    routes = {r for r, _ in Route.choices}
    if not isinstance(value, dict) or not _all_drawn_from(list(value.values()), routes):
        raise ValidationError(f"Routes must map a key to one of {', '.join(sorted(routes))}.")


ADDON_TIER_MAX_LENGTH = 40  # AddOn.tier's length


def _valid_addon_tiers(value) -> None:
    """A8, A9, A11: {add-on product: [tier, ...]}, each tier a distinct name of at most 40 characters."""
    shape = f"Add-on tiers map one of {', '.join(AddOn.Product.values)} to a list of tier names."
    if not isinstance(value, dict):
        raise ValidationError(shape)
    for product, tiers in value.items():
        if product not in AddOn.Product.values or not isinstance(tiers, list):
            raise ValidationError(shape)
        if any(not isinstance(t, str) or not t.strip() or t != t.strip() for t in tiers):
            raise ValidationError(f"{product}: every tier needs a name, without spaces around it.")
        if any(len(t) > ADDON_TIER_MAX_LENGTH for t in tiers):
            raise ValidationError(f"{product}: a tier name is at most {ADDON_TIER_MAX_LENGTH} characters.")
        if len(set(tiers)) != len(tiers):
            raise ValidationError(f"{product}: each tier is listed once.")


def _valid_required_info(value) -> None:
    if not _all_drawn_from(value, REQUIRED_INFO_FIELDS):
        raise ValidationError(f"Required information must be drawn from {', '.join(REQUIRED_INFO_FIELDS)}.")


def _valid_closed_dates(value) -> None:
    shape = 'Closed dates must be a list of "YYYY-MM-DD" dates.'
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ValidationError(shape)
    try:
        [dt.date.fromisoformat(d) for d in value]
    except ValueError:
        raise ValidationError(shape) from None


@functools.lru_cache(maxsize=512)
def closed_days(country: str, subdivision: str, extra: tuple[str, ...], year: int) -> frozenset[dt.date]:
    """One policy calendar's closed days in a year: the public holidays of its country (and subdivision) from the
    `holidays` package, plus its extra closed dates. Intake hours (K6) and the SLA clock both ask this."""
    try:
        days = set(holidays.country_holidays(country, subdiv=subdivision or None, years=year).keys())
    except NotImplementedError:  # refused by Policy.clean; a row written around it closes on its own dates only
        days = set()
    for text in extra:
        try:
            day = dt.date.fromisoformat(text)
        except (TypeError, ValueError):
            continue
        if day.year == year:
            days.add(day)
    return frozenset(days)


# Business hours; ten thousand is years of business time, far above any real target.
SLA_MAX_HOURS = 10_000
SLA_TARGET_NAMES = ("first_response", "resolution")


def valid_sla_hours(value) -> bool:
    """A target in business hours: a positive number within SLA_MAX_HOURS (not a bool, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= SLA_MAX_HOURS


def _valid_sla_targets(value) -> None:
    keys = ["default", *Kind.values]
    shape = 'SLA targets map "default" or a ticket kind to {"first_response": hours, "resolution": hours}.'
    if not isinstance(value, dict):
        raise ValidationError(shape)
    for key, goal in value.items():
        if key not in keys:
            raise ValidationError(f"Unknown SLA key {key!r}: use one of {', '.join(keys)}.")
        if not isinstance(goal, dict) or any(name not in SLA_TARGET_NAMES for name in goal):
            raise ValidationError(f"{key}: {shape}")
        for name, hours in goal.items():
            if not valid_sla_hours(hours):
                raise ValidationError(f"{key}.{name} must be business hours above 0 and at most {SLA_MAX_HOURS:,}.")


# The container each JSON field holds: None breaks NOT NULL, a list where a dict belongs breaks .get() later.
JSON_FIELD_TYPES = {
    "request_roles": dict,
    "intake_channels": list,
    "intake_weekdays": list,
    "acknowledgements": list,
    "required_info": list,
    "kind_routes": dict,
    "addon_routes": dict,
    "license_minimums": dict,
    "sla_targets": dict,
    "offers_by_reason": dict,
    "closed_dates": list,
    "addon_tiers": dict,
}


class Route(models.TextChoices):
    SELF_SERVICE = "self_service", "Self-service (completes without an agent once verified)"
    SUPPORT_CASE = "support_case", "Support case (an agent works it)"
    ACCOUNT_MANAGER = "account_manager", "Through the account / customer-success manager"


class Policy(models.Model):
    """How the customers of a plan leave. Every field is one or more rules of SPEC §1; presets ship as data."""

    class Verification(models.TextChoices):
        NONE = "none", "None"
        CARD_LAST4 = "card_last4", "Last four digits of the card on file"
        TYPED_CONFIRMATION = "typed_confirmation", "Typed confirmation word"

    class VerificationFallback(models.TextChoices):
        NONE = "none", "None"
        CONFIRMATION_LINK = "confirmation_link", "A signed, single-use link emailed to the account owner"

    class Reactivation(models.TextChoices):
        NEVER = "never", "Never (a returning customer starts from scratch)"
        WITHIN_RETENTION = "within_retention", "Within the retention period"
        BEFORE_PURGE = "before_purge", "Any time before the purge"

    class PortOutBalanceRule(models.TextChoices):
        IGNORE = "ignore", "Ignore: an outstanding balance never affects a port-out"
        MANAGER_REVIEW = "manager_review", "Manager review: a manager must approve"
        DENY = "deny", "Deny: a manager may reject with outstanding_balance (may be unlawful in the US)"

    class Refunds(models.TextChoices):
        NONE = "none", "No refunds of charged subscriptions or credit"

    class Proration(models.TextChoices):
        NONE = "none", "No proration: the next bill reflects the new plan"

    class CreditAtCancellation(models.TextChoices):
        FORFEIT = "forfeit", "Forfeited at completion, never refunded"
        KEEP = "keep", "Kept on the ledger until the purge, and there again on reactivation"

    preset = models.SlugField(max_length=50, unique=True, help_text="Stable key, e.g. kixie, smrtphone.")
    name = models.CharField(max_length=100)
    source = models.CharField(max_length=200, blank=True, help_text="Where these rules come from.")

    # S4, A5, U1: which membership roles may request each ticket kind.
    request_roles = models.JSONField(default=dict, validators=[_valid_roles])
    # K6: channels that accept account cancellations, and the intake calendar in its own time zone.
    intake_channels = models.JSONField(default=list, validators=[_valid_channels])
    intake_hours_enforced = models.BooleanField(
        default=False, help_text="Refuse account cancellations outside the intake hours (K6)."
    )
    intake_time_zone = models.CharField(max_length=64, default="UTC")
    intake_weekdays = models.JSONField(default=_default_weekdays, validators=[_valid_weekdays])
    intake_start = models.TimeField(default=dt.time(9, 0))
    intake_end = models.TimeField(default=dt.time(17, 0))
    # K6 and the SLA clock: one calendar, closed on the public holidays of this country (ISO code of the
    # `holidays` package, with an optional subdivision such as a US state) and on the extra dates listed.
    holiday_country = models.CharField(max_length=3, default="US", help_text="ISO country code, e.g. US or GB.")
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, help_text="Optional subdivision whose holidays also close, e.g. CA for California."
    )
    closed_dates = models.JSONField(
        default=list, blank=True, validators=[_valid_closed_dates], help_text='Extra closed days, ["2026-12-24"].'
    )
    # K7, S3: how the requester proves the cancellation is theirs and intended.
    verification_method = models.CharField(max_length=20, choices=Verification.choices, default=Verification.NONE)
    confirmation_word = models.CharField(max_length=40, blank=True)
    # K7: an account with no card on file cannot be verified by the card; the fallback the agent may use instead.
    verification_fallback = models.CharField(
        max_length=20,
        choices=VerificationFallback.choices,
        default=VerificationFallback.NONE,
        help_text="When the card on file cannot verify (no card), the agent emails the owner a confirmation link.",
    )
    # S5: what must be acknowledged before an account cancellation.
    acknowledgements = models.JSONField(default=list, blank=True, validators=[_valid_acknowledgements])
    # A4: what every cancellation request must carry.
    required_info = models.JSONField(default=list, blank=True, validators=[_valid_required_info])
    # U8, S2: exit survey; U9, S2, K1: retention offers.
    exit_survey_required = models.BooleanField(default=False)
    offer_downgrade = models.BooleanField(default=False, help_text="Offer a downgrade to the lowest plan.")
    offer_meeting = models.BooleanField(default=False, help_text="Offer a meeting with customer success.")
    # S2 "depending on your responses", U9: which of the enabled offers each exit-survey reason leads to. A reason
    # not listed (or no reason given) leads to every enabled offer; an empty list to none.
    offers_by_reason = models.JSONField(
        default=dict,
        blank=True,
        validators=[_valid_offers_by_reason],
        help_text='Exit-survey reason → offers, e.g. {"too_expensive": ["downgrade", "meeting"], "unused": []}.',
    )
    # S1, U2, U3, K3: how an account cancellation is worked.
    route = models.CharField(max_length=20, choices=Route.choices, default=Route.SUPPORT_CASE)
    # A2, A10, K11: routes of the other kinds; A6, A8, A9, A11: routes per add-on product.
    kind_routes = models.JSONField(default=dict, blank=True, validators=[_valid_routes])
    addon_routes = models.JSONField(default=dict, blank=True, validators=[_valid_routes])
    # A8, A9, A11: the tiers or packages each add-on product comes in; an add-on change moves only between them.
    addon_tiers = models.JSONField(
        default=dict,
        blank=True,
        validators=[_valid_addon_tiers],
        help_text='Add-on product → its tiers, lowest first, e.g. {"call_insights": ["Starter", "Pro"]}.',
    )
    # U6, S6: days from completion to purge (0 = purge at completion).
    retention_days = models.PositiveIntegerField(default=30, validators=[MaxValueValidator(3650)])
    # What completing an account cancellation does beyond removing access (SPEC §3, §4).
    credit_at_cancellation = models.CharField(
        max_length=10,
        choices=CreditAtCancellation.choices,
        default=CreditAtCancellation.KEEP,
        help_text="S7: forfeited; U7: kept until the purge and there again if the account is reactivated.",
    )
    erase_users_at_completion = models.BooleanField(
        default=False,
        help_text="K8: users and settings are erased at completion (the owner stays, without a password, so a "
        "reactivation can invite them anew).",
    )
    purge_scheduled = models.BooleanField(
        default=True,
        help_text="U6, S6: the data is purged retention days after completion. Off: the account and its history "
        "stay and a reactivation has no deadline (K9); retention days are then not used.",
    )
    # K9, U7, S11.
    reactivation = models.CharField(max_length=20, choices=Reactivation.choices, default=Reactivation.NEVER)
    # K10.
    port_out_balance_rule = models.CharField(
        max_length=20, choices=PortOutBalanceRule.choices, default=PortOutBalanceRule.IGNORE
    )
    port_out_deadline_hours = models.PositiveIntegerField(
        default=16,
        validators=[MaxValueValidator(720)],
        help_text="Business hours after which an unanswered verified port-out is approved by the system.",
    )
    # S10.
    require_port_outs_complete = models.BooleanField(default=False)
    # SPEC §4 (fraud protection): whether an account's owner may switch on a port-out lock in the portal.
    port_out_lock_offered = models.BooleanField(
        default=True, help_text="Owners may switch on a port-out lock; while it is on, port-out requests are refused."
    )
    # A10: product → minimum quantity that must remain.
    license_minimums = models.JSONField(default=dict, blank=True, validators=[_valid_minimums])
    # A1: no minimum contract and no cancellation fee.
    minimum_term_months = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(120)])
    cancellation_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    # "Adding a rule" (README), off in every preset: no account cancellation in the last days of a term.
    refuse_cancellation_days_before_term_end = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(365)],
        help_text="Refuse account cancellations this many days before the term ends (the subscription's next "
        "billing date); 0 = off.",
    )
    # K4, S7: refunds; K1: holds; K2: downgrade proration.
    refunds = models.CharField(max_length=10, choices=Refunds.choices, default=Refunds.NONE)
    holds_offered = models.BooleanField(default=False, help_text="K1: accounts cannot be put on hold.")
    holds_refused_with_alternatives = models.BooleanField(
        default=False,
        help_text="K1: customers find a “pause my account” page: holds refused, alternatives offered.",
    )
    # K1, K2 "until you decide to start fully-utilizing the service again": a downgraded account may move back up.
    downgrade_reversible = models.BooleanField(
        default=False,
        help_text="K1, K2: a customer whose plan was downgraded may ask to move back up to the plan they left (the "
        "downgrade's roles and route: self-service where its route is).",
    )
    # S9: what cancelling never touches, named in the impact preview (empty: nothing is said).
    external_data_untouched = models.CharField(
        max_length=200,
        blank=True,
        help_text="S9: data the customer keeps elsewhere that cancelling never deletes or changes, as customers read "
        "it, e.g. “your CRM workspace (contacts, call and text logs)”; shown in the impact preview.",
    )
    # K11: "email or your Account Manager to notify us of the port-out so we can approve it".
    port_out_alerts_account_manager = models.BooleanField(
        default=False,
        help_text="K11: every port-out request is also emailed to the account's account manager, where it has one.",
    )
    # K6, K9, U7: where customers are sent when they must email or phone (shown wherever they are told to).
    support_email = models.EmailField(blank=True)
    support_phone = models.CharField(max_length=30, blank=True, help_text="As customers dial it, e.g. +1 888 555 0100.")
    support_hours = models.CharField(
        max_length=120, blank=True, help_text="When the phone is answered; empty: the intake hours."
    )
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code in capitals, e.g. USD.")],
        help_text="The currency the plan's customers are billed in (ISO 4217).",
    )
    downgrade_proration = models.CharField(max_length=10, choices=Proration.choices, default=Proration.NONE)
    # K5: days before the next billing date by which a request must be completed to avoid the next bill.
    billing_cutoff_days = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(365)])
    # SLA targets in business hours of the intake calendar, per kind: {"port_out": {"first_response": 4, ...}}.
    sla_targets = models.JSONField(default=dict, blank=True, validators=[_valid_sla_targets])
    verifier_may_approve = models.BooleanField(
        default=True, help_text="Whether the agent who verified a ticket may also approve it."
    )
    # SPEC §5: customers never read a member of staff's email address; "Support", or the first name where set.
    staff_first_names = models.BooleanField(
        default=False,
        help_text="Customers read the agent's first name on their cases instead of “Support” (never an email).",
    )

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["preset"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for name, kind in JSON_FIELD_TYPES.items():
            value = getattr(self, name)
            # The field validators check non-empty values; Django skips them for None, "", [] and {}.
            if value in EMPTY_VALUES and not isinstance(value, kind):
                errors[name] = f"Expected a JSON {'object' if kind is dict else 'list'}."
        if "intake_channels" not in errors and not self.intake_channels:
            errors["intake_channels"] = "Accept account cancellations through at least one channel."
        if self.verification_method == self.Verification.TYPED_CONFIRMATION and not self.confirmation_word:
            errors["confirmation_word"] = "Typed confirmation needs a confirmation word."
        try:
            zoneinfo.ZoneInfo(self.intake_time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: "Europe" is a directory of the tz database, a very long name is refused by the OS.
            errors["intake_time_zone"] = "Unknown time zone."
        if self.holiday_country not in holidays.list_supported_countries():
            errors["holiday_country"] = "No public-holiday calendar for this country code."
        elif (
            self.holiday_subdivision
            and self.holiday_subdivision not in (holidays.list_supported_countries()[self.holiday_country])
        ):
            errors["holiday_subdivision"] = "No such subdivision in this country's holiday calendar."
        if self.intake_start >= self.intake_end:
            errors["intake_end"] = "Intake hours must end after they start."
        if errors:
            raise ValidationError(errors)

    # -- questions the code asks ------------------------------------------------------------------------
    @property
    def shows_hold_alternatives(self) -> bool:
        """K1: the "pause my account" page exists only where holds are refused with alternatives."""
        return self.holds_refused_with_alternatives and not self.holds_offered

    def offers_for_reason(self, reason: str | None) -> list[str]:
        """S2, U9: the enabled offers this exit-survey answer leads to, in RETENTION_OFFERS order."""
        enabled = {"downgrade": self.offer_downgrade, "meeting": self.offer_meeting}
        chosen = self.offers_by_reason.get(reason, list(RETENTION_OFFERS)) if reason else list(RETENTION_OFFERS)
        return [offer for offer in RETENTION_OFFERS if enabled[offer] and offer in chosen]

    def acknowledgement_text(self, key: str) -> str:
        return ACKNOWLEDGEMENT_TEXTS[key].format(retention_days=self.retention_days)

    @property
    def has_contact_routes(self) -> bool:
        return bool(self.support_email or self.support_phone)

    @property
    def support_hours_text(self) -> str:
        return self.support_hours or self.intake_hours_text

    def roles_for(self, kind: str) -> list[str]:
        return list(self.request_roles.get(kind, []))

    def allows_role(self, kind: str, role: str | None) -> bool:
        return role is not None and role in self.roles_for(kind)

    def route_for(self, kind: str, addon_key: str | None = None) -> str:
        if kind == "account_cancellation":
            return self.route
        if kind in (Kind.ADDON_CANCELLATION, Kind.ADDON_CHANGE) and addon_key:  # A8, A9, A11: as its cancellation
            return self.addon_routes.get(addon_key, Route.SUPPORT_CASE)
        return self.kind_routes.get(kind, Route.SUPPORT_CASE)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.intake_time_zone)

    def is_closed_day(self, day: dt.date) -> bool:
        """A public holiday of the policy's calendar or one of its extra closed dates (K6, the SLA clock)."""
        return day in closed_days(
            self.holiday_country, self.holiday_subdivision, tuple(self.closed_dates or ()), day.year
        )

    def within_intake_hours(self, when: dt.datetime | None = None) -> bool:
        local = (when or timezone.now()).astimezone(self.tz)
        return (
            local.weekday() in self.intake_weekdays
            and self.intake_start <= local.time() < self.intake_end
            and not self.is_closed_day(local.date())
        )

    def billing_cutoff(self, next_billing_date: dt.date) -> dt.date:
        """K5: the last day a request must be done by to stop the bill due on `next_billing_date` (a date too
        early to count back from gives the earliest date, so every request is too late for it)."""
        try:
            return next_billing_date - dt.timedelta(days=self.billing_cutoff_days)
        except OverflowError:
            return dt.date.min

    def tiers_for(self, product: str) -> list[str]:
        """A8, A9, A11: the tiers an add-on of this product may move between (none: it has no tiers)."""
        tiers = self.addon_tiers.get(product, []) if isinstance(self.addon_tiers, dict) else []
        return [tier for tier in tiers if isinstance(tier, str)]

    def license_minimum(self, product: str) -> int:
        return int(self.license_minimums.get(product, 0))

    def reactivation_open(self, account, when: dt.datetime | None = None) -> bool:
        """NEVER: closed. WITHIN_RETENTION: until the account's purge date. BEFORE_PURGE: until the purge begins,
        even past the purge date (the daily job has not run yet, or a legal hold keeps the data)."""
        now = when or timezone.now()
        if self.reactivation == self.Reactivation.NEVER or account.status != "cancelled":
            return False
        if self.reactivation == self.Reactivation.BEFORE_PURGE or account.purge_after is None:
            return True
        return now < account.purge_after

    @property
    def intake_hours_text(self) -> str:
        names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        days = sorted(self.intake_weekdays)
        if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 1:
            span = f"{names[days[0]]}–{names[days[-1]]}"
        else:
            span = ", ".join(names[d] for d in days)
        return f"{span} {self.intake_start:%H:%M}–{self.intake_end:%H:%M} ({self.intake_time_zone})"


class LicenseProduct(models.TextChoices):
    CONTACT_CENTER = "contact_center", "Contact Center license"
    AGENT_SEAT = "agent_seat", "Agent seat"


class Plan(models.Model):
    name = models.CharField(max_length=100)
    product_line = models.SlugField(
        max_length=50,
        help_text="Plans of one product line rank against each other (downgrades stay inside it).",
    )
    rank = models.PositiveIntegerField(help_text="1 is the lowest plan of its product line.")
    price_per_seat = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="plans")
    # K5: the license whose quantity is the seats billed, so cancelling some lowers the next bill.
    seat_product = models.CharField(
        max_length=30,
        blank=True,
        choices=LicenseProduct.choices,
        help_text="The license a seat is (its cancellation lowers the billed seats); empty: seats are not licenses.",
    )

    class Meta:
        ordering = ["product_line", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["product_line", "rank"], name="one_plan_per_rank_in_line"),
            models.UniqueConstraint(fields=["product_line", "name"], name="unique_plan_name_in_line"),
        ]

    def __str__(self) -> str:
        return self.name

    def lowest_in_line(self) -> "Plan":
        return Plan.objects.filter(product_line=self.product_line).order_by("rank").first()

    @property
    def is_lowest(self) -> bool:
        return self.lowest_in_line().pk == self.pk


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="subscription")
    seats = models.PositiveIntegerField(default=1)
    next_billing_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    # K1, K2: the highest plan a downgrade left, which the account may move back up to (Policy.downgrade_reversible);
    # cleared once it is back there.
    downgraded_from = models.ForeignKey(
        "billing.Plan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Subscription of {self.account}"

    @property
    def next_bill(self) -> Decimal:
        return self.account.plan.price_per_seat * self.seats


class License(models.Model):
    Product = LicenseProduct

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="licenses")
    product = models.CharField(max_length=30, choices=Product.choices)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(0)])
    minimum = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["account", "product"]
        constraints = [
            models.UniqueConstraint(fields=["account", "product"], name="one_license_line_per_product"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="license_quantity_not_negative"),
            models.CheckConstraint(condition=Q(minimum__lte=models.F("quantity")), name="license_minimum_le_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.get_product_display()}"


class AddOn(models.Model):
    class Product(models.TextChoices):
        CALL_INSIGHTS = "call_insights", "Call Insights"
        NUMBER_TESTING = "number_testing", "Number testing package"
        JETPACK = "jetpack", "Jetpack"
        OUTBOUND_RECORDING = "outbound_recording", "Outbound call recording (whole organisation)"
        INBOUND_RECORDING = "inbound_recording", "Inbound call recording (one number)"
        SIP_TRUNK = "sip_trunk", "SIP trunk"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="addons")
    product = models.CharField(max_length=30, choices=Product.choices)
    name = models.CharField(max_length=100, blank=True)
    initial_ucaas = models.BooleanField(default=False, help_text="SIP trunk created with the UCaaS service (A6).")
    number = models.ForeignKey(
        "numbers.PhoneNumber",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="addons",
        help_text="The number an inbound-recording add-on belongs to (A7).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    tier = models.CharField(max_length=40, blank=True, help_text="The tier or package bought (A8, A9, A11).")

    class Meta:
        ordering = ["account", "product"]
        constraints = [
            models.CheckConstraint(
                condition=Q(product="inbound_recording", number__isnull=False)
                | (~Q(product="inbound_recording") & Q(number__isnull=True)),
                name="inbound_recording_is_per_number",
            ),
            models.CheckConstraint(
                condition=Q(initial_ucaas=False) | Q(product="sip_trunk"), name="initial_ucaas_only_on_trunks"
            ),
        ]

    def __str__(self) -> str:
        label = self.name or self.get_product_display()
        return f"{label} ({self.number})" if self.number_id else label

    def clean(self) -> None:
        """A8, A9, A11: a tier is one the account's policy lists for the product (blank: none chosen)."""
        super().clean()
        if self.tier and self.account_id:
            tiers = self.account.plan.policy.tiers_for(self.product)
            if self.tier not in tiers:
                offered = ", ".join(tiers) if tiers else "none: this add-on has no tiers on the plan's policy"
                raise ValidationError({"tier": f"Choose one of the policy's tiers for this add-on ({offered})."})

    @property
    def route_key(self) -> str:
        """The key the policy's addon_routes are looked up by (initial UCaaS trunks have their own, A6)."""
        return "sip_trunk_initial_ucaas" if self.initial_ucaas else self.product


class InvoiceQuerySet(models.QuerySet):
    def outstanding(self, today: dt.date | None = None):
        return self.filter(status=Invoice.Status.OPEN, due_date__lt=today or timezone.localdate())


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="invoices")
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    due_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-due_date"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_amount_not_negative")]

    def __str__(self) -> str:
        return f"Invoice {self.pk} — {self.amount} due {self.due_date}"

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.due_date < timezone.localdate()


class CreditEntry(models.Model):
    """The credit ledger: the balance is the sum of an account's entries (S7 forfeiture is a negative entry)."""

    class Reason(models.TextChoices):
        TOP_UP = "top_up", "Top-up"
        USAGE = "usage", "Usage"
        ADJUSTMENT = "adjustment", "Adjustment"
        FORFEITURE = "forfeiture", "Forfeited on cancellation"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="credit_entries")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "credit entries"

    def __str__(self) -> str:
        return f"{self.amount} {self.get_reason_display()}"

    @staticmethod
    def balance_of(account) -> Decimal:
        return CreditEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or Decimal("0")


class CardOnFile(models.Model):
    """Brand and last four digits only: a full card number is never stored."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="card")
    brand = models.CharField(max_length=30)
    last4 = models.CharField(
        max_length=4, validators=[RegexValidator(r"^\d{4}$", "Exactly the last four digits of the card.")]
    )

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(last4__regex=r"^[0-9]{4}$"), name="card_last4_four_digits")]
        verbose_name = "card on file"

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"
