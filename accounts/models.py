import base64
import secrets

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, transition

from accounts.tokens import revoke_tokens
from accounts.vocabulary import LogChannel, Role


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person: a customer in one or more accounts, or a member of staff. Signs in with the email."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        # set_password() leaves the new password in _password until the save (Django's password_changed hook).
        password_changed = self.pk is not None and self._password is not None
        super().save(*args, **kwargs)
        if password_changed:
            # A password change or reset ends the API tokens too, as Django ends the other sessions (issue 24).
            revoke_tokens(self)


STAFF_GROUP_AGENTS = "Support agents"
STAFF_GROUP_MANAGERS = "Support managers"


def new_account_id() -> str:
    return "AC-" + secrets.token_hex(4).upper()


class Account(models.Model):
    """A provider's customer. Its status is a protected django-fsm machine (SPEC §4, "Account lifecycle"): only the
    transitions below change it, each run by accounts.lifecycle.move_account, which logs an AccountEvent."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"
        PURGING = "purging", "Being purged"
        PURGED = "purged", "Purged"

    account_id = models.CharField("account ID", max_length=20, unique=True, default=new_account_id, editable=False)
    name = models.CharField(max_length=200)
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="accounts")
    status = FSMField(max_length=12, choices=Status.choices, default=Status.ACTIVE, protected=True, db_index=True)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_accounts",
        limit_choices_to={"is_staff": True},
        help_text="Account manager / customer-success manager (U3, A11).",
    )
    port_out_pin = models.CharField(max_length=128, blank=True, editable=False, help_text="Hashed, never shown.")
    # SPEC §4: the owner's own choice, switched in the portal with their password; while on, port-outs are refused.
    port_out_locked = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True, db_index=True)
    reactivated_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    # The purge's claim: who holds it (a random token) and when it last made progress. A claim whose heartbeat
    # is older than settings.PURGE_CLAIM_TIMEOUT belongs to a dead worker and may be taken over.
    purge_claim = models.CharField(max_length=32, blank=True, editable=False)
    purge_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    legal_hold = models.BooleanField(default=False, help_text="Blocks the purge while set.")
    # The sequence of the account's last outbox event (accounts.outbox.record): bumped by an UPDATE, which locks the
    # row until the change commits, so one account's events are numbered in commit order on PostgreSQL and SQLite.
    event_sequence = models.PositiveBigIntegerField(default=0, editable=False)
    legal_hold_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        # The admin's account list reads a page in this order (name, then id as Django's tiebreak): an index scan
        # that stops after a page, not a sort of every account.
        indexes = [models.Index(fields=["name", "id"], name="account_name_order_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(legal_hold=False) | ~Q(legal_hold_reason=""),
                name="legal_hold_needs_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"

    def save(self, *args, **kwargs) -> None:
        # The outbox's counter moves only by accounts.outbox.record's UPDATE: a whole-row save of an instance read
        # before an event was recorded (the admin's change form) would write the old number back, and the next event
        # would collide with one already numbered.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "event_sequence"
            ]
        super().save(*args, **kwargs)

    def refresh_from_db(self, using=None, fields=None, from_queryset=None) -> None:
        # The protected FSMField refuses any assignment once loaded; a reload is not a transition.
        if fields is None or "status" in fields:
            self.__dict__.pop("status", None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    def clean_fields(self, exclude=None) -> None:
        # Cleaning assigns each field its cleaned value, which the protected status refuses; its transitions are
        # what keeps it valid.
        super().clean_fields(exclude={*(exclude or ()), "status"})

    # -- the account's machine: each transition changes the instance only; accounts.lifecycle saves and logs it.
    # `custom` says who runs it and what it settles (the README's "Account lifecycle" table is printed from it) and
    # which fields it writes besides the status (the service saves those).

    @transition(
        field=status,
        source=Status.ACTIVE,
        target=Status.CANCELLED,
        custom={
            "by": "the system, completing an account cancellation (staff, or the customer on a self-service route)",
            "settles": "every other open case closed by the system and listed in the confirmation email; access "
            "removed (K8, U5); numbers released (K8, S8); subscription ended; credit as the policy says (S7); "
            "purge scheduled after the retention days (U6)",
            "fields": ("cancelled_at", "purge_after", "reactivated_at"),
        },
    )
    def cancel(self, *, at, purge_after) -> None:
        self.cancelled_at = at
        self.purge_after = purge_after
        self.reactivated_at = None

    @transition(
        field=status,
        source=Status.CANCELLED,
        target=Status.ACTIVE,
        custom={
            "by": "the system, completing a reactivation asked within the policy's window (K9, U7; never S11)",
            "settles": "the scheduled purge cancelled; members' access and the subscription restored",
            "fields": ("purge_after", "reactivated_at"),
        },
    )
    def reactivate(self, *, at) -> None:
        self.purge_after = None
        self.reactivated_at = at

    @transition(
        field=status,
        source=[Status.CANCELLED, Status.PURGING],
        target=Status.PURGING,
        custom={
            "by": "the purge job, past the purge date, with no legal hold and no reactivation asked in time "
            "(or taking over a dead worker's claim)",
            "settles": "a reactivation completed from now on is refused (`reactivation_closed`)",
            "fields": ("purge_claim", "purge_heartbeat_at"),
        },
    )
    def start_purge(self, *, claim: str, at) -> None:
        self.purge_claim = claim
        self.purge_heartbeat_at = at

    @transition(
        field=status,
        source=Status.PURGING,
        target=Status.CANCELLED,
        custom={
            "by": "the purge job, finding a reactivation asked within the retention period (U7)",
            "settles": "the purge waits until the reactivation is decided",
            "fields": ("purge_claim", "purge_heartbeat_at"),
        },
    )
    def hold_purge(self) -> None:
        self.purge_claim = ""
        self.purge_heartbeat_at = None

    @transition(
        field=status,
        source=Status.PURGING,
        target=Status.PURGED,
        custom={
            "by": "the purge job, once every batch is deleted (U6, S6)",
            "settles": "the account's data deleted, its tickets and logs redacted, a tombstone kept",
            "fields": ("purged_at", "purge_claim", "purge_heartbeat_at", "name", "port_out_pin"),
        },
    )
    def purge(self, *, at) -> None:
        self.purged_at = at
        self.purge_claim = ""
        self.purge_heartbeat_at = None
        self.name = self.account_id
        self.port_out_pin = ""

    def set_port_out_pin(self, pin: str | None) -> None:
        self.port_out_pin = make_password(pin) if pin else ""

    def check_port_out_pin(self, pin: str | None) -> bool:
        return bool(pin and self.port_out_pin and check_password(pin, self.port_out_pin))

    @property
    def policy(self):
        return self.plan.policy

    @property
    def owner(self):
        membership = self.memberships.filter(role=Membership.Role.OWNER).select_related("user").first()
        return membership.user if membership else None

    def clean(self) -> None:
        if self.legal_hold and not self.legal_hold_reason.strip():
            raise ValidationError({"legal_hold_reason": "A legal hold needs a reason."})


class Membership(models.Model):
    Role = Role  # defined once in accounts.vocabulary

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "role", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="one_membership_per_user_and_account"),
            # At most one owner per account is the database's job; "at least one" is checked by the services.
            models.UniqueConstraint(fields=["account"], condition=Q(role="owner"), name="one_owner_per_account"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.account.name}"

    def validate_constraints(self, exclude=None) -> None:
        if self.role == self.Role.OWNER and self.account_id:
            others = Membership.objects.filter(account_id=self.account_id, role=self.Role.OWNER).exclude(pk=self.pk)
            if others.exists():
                raise ValidationError({"role": "This account already has an owner; an account has exactly one."})
        super().validate_constraints(exclude=exclude)


class AccountEvent(models.Model):
    """What happened to an account that no ticket carries: each move of its status (accounts.lifecycle), the
    verification lockout, the port-out lock, a data export."""

    class Kind(models.TextChoices):
        CANCELLED = "cancelled", "Account cancelled"
        REACTIVATED = "reactivated", "Account reactivated"
        PURGE_STARTED = "purge_started", "Purge started"
        PURGE_HELD = "purge_held", "Purge held for a reactivation request"
        PURGED = "purged", "Account purged"
        VERIFICATION_LOCKED = "verification_locked", "Verification locked after repeated failures"
        PORT_OUT_LOCK_ON = "port_out_lock_on", "Port-out lock switched on"
        PORT_OUT_LOCK_OFF = "port_out_lock_off", "Port-out lock switched off"
        DATA_EXPORTED = "data_exported", "Account data exported"  # SPEC §6: who downloaded the archive, and when

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=LogChannel.choices, blank=True)
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["account", "-at"], name="account_event_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class Tombstone(models.Model):
    """What is left of a purged account: ids, dates and how many rows of each kind were deleted."""

    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="tombstone")
    account_code = models.CharField(max_length=20)
    plan_name = models.CharField(max_length=100)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"Tombstone of {self.account_code}"


def new_message_id() -> str:
    """An event's public id and its `webhook-id`: `msg_` and 26 random base-32 characters."""
    return "msg_" + base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=").lower()[:26]


class OutboxEvent(models.Model):
    """One state change worth telling the provider's systems (SPEC §6a), written in the transaction of the change.

    Rows are written by accounts.outbox.record only; a rolled-back change leaves none. The body names things by
    public ids and is what every webhook endpoint receives, unchanged on every retry.
    """

    public_id = models.CharField(max_length=40, unique=True, default=new_message_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="outbox_events")
    sequence = models.PositiveBigIntegerField(help_text="Per account, rising from 1, with no gaps.")
    type = models.CharField(max_length=40, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["account", "sequence"], name="outbox_event_account_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.sequence} ({self.public_id})"

    def body(self) -> dict:
        """The JSON body of SPEC §6a: id, type, created_at, account (public id), sequence, data."""
        return {
            "id": self.public_id,
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "account": self.account.account_id,
            "sequence": self.sequence,
            "data": self.data,
        }
