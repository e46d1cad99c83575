import secrets

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from tickets.vocabulary import Role


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
            from .tokens import revoke_tokens

            # A password change or reset ends the API tokens too, as Django ends the other sessions (issue 24).
            revoke_tokens(self)

    @property
    def is_support_manager(self) -> bool:
        from tickets.access import is_manager  # the rule lives there; this name stays for templates and admin

        return is_manager(self)


STAFF_GROUP_AGENTS = "Support agents"
STAFF_GROUP_MANAGERS = "Support managers"


def new_account_id() -> str:
    return "AC-" + secrets.token_hex(4).upper()


class Account(models.Model):
    """A provider's customer. Status moves active → cancelled → purging → purged (or back to active on reactivation)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"
        PURGING = "purging", "Being purged"
        PURGED = "purged", "Purged"

    account_id = models.CharField("account ID", max_length=20, unique=True, default=new_account_id, editable=False)
    name = models.CharField(max_length=200)
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="accounts")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True)
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
    Role = Role  # defined once in tickets.vocabulary

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
    """A security event on an account that no ticket carries: the verification lockout, the port-out lock, a data
    export."""

    class Kind(models.TextChoices):
        VERIFICATION_LOCKED = "verification_locked", "Verification locked after repeated failures"
        PORT_OUT_LOCK_ON = "port_out_lock_on", "Port-out lock switched on"
        PORT_OUT_LOCK_OFF = "port_out_lock_off", "Port-out lock switched off"
        DATA_EXPORTED = "data_exported", "Account data exported"  # SPEC §6: who downloaded the archive, and when

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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
