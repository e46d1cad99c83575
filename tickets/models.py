"""Tickets: one table for every kind so a queue is one query; a protected django-fsm state machine."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, transition

from accounts.vocabulary import Channel, ExitReason, Kind, LogChannel

__all__ = ["Channel", "Kind", "LogChannel"]  # defined once in accounts.vocabulary, read from here by most of tickets


class State(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    VERIFIED = "verified", "Verified"
    APPROVED = "approved", "Approved"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATES = [State.SUBMITTED, State.VERIFIED, State.APPROVED]
CLOSED_STATES = [State.COMPLETED, State.REJECTED, State.WITHDRAWN]


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# US rules forbid refusing a valid port-out for money owed: a port-out is rejected only with one of these.
PORT_OUT_REJECTION_CODES = {
    "invalid_pin": "The PIN or account number does not match.",
    "name_mismatch": "The authorized name does not match the account.",
    "number_not_on_account": "A number is not on this account.",
    "incomplete_request": "The request lacks information the gaining carrier must supply.",
    "customer_request": "The customer asked to stop the port-out.",
    "outstanding_balance": "Payments are outstanding (only where the policy's balance rule is deny).",
}


# The rejection code of a case the system closed because its account's cancellation completed (services.settle_account):
# not a carrier's refusal of a port-out, so not in the allow-list above.
SETTLED_CODE = "account_cancelled"


def _permitted(name: str):
    """django-fsm's permission for a transition: tickets.access decides. Access reads these models, so its answer is
    handed in at start-up (TicketsConfig.ready, answer_transition_permissions) rather than imported: no circle."""

    def check(instance: "Ticket", user) -> bool:
        return _transition_permission(user, name, instance)

    return check


def _nobody(user, name: str, ticket: "Ticket") -> bool:
    return False  # before start-up has handed in tickets.access.may_run, nobody may run a transition


_transition_permission = _nobody


def answer_transition_permissions(rule) -> None:
    """Called once by TicketsConfig.ready with tickets.access.may_run: from then on it answers django-fsm."""
    global _transition_permission
    _transition_permission = rule


class Ticket(models.Model):
    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    state = FSMField(default=State.SUBMITTED, choices=State.choices, protected=True, db_index=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="tickets")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requested_tickets",
    )
    # A4: who asked and how to reach them, as given on the request (redacted by the purge).
    full_name = models.CharField(max_length=200, blank=True)
    company = models.CharField("company name or account ID", max_length=200, blank=True)
    contact = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    route = models.CharField(max_length=20, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # The kind's details.
    license = models.ForeignKey("billing.License", null=True, blank=True, on_delete=models.SET_NULL)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    numbers = models.ManyToManyField("numbers.PhoneNumber", blank=True, related_name="tickets")
    addon = models.ForeignKey("billing.AddOn", null=True, blank=True, on_delete=models.SET_NULL)
    tier = models.CharField("new tier", max_length=40, blank=True, help_text="An add-on change's new tier or package.")
    target_plan = models.ForeignKey(
        "billing.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="downgrade_tickets"
    )
    gaining_carrier = models.CharField(max_length=120, blank=True)
    authorized_name = models.CharField(max_length=200, blank=True)
    foc_date = models.DateField("FOC date", null=True, blank=True)

    # Exit survey (U8, S2) and what was acknowledged (S5).
    reason = models.CharField(max_length=30, choices=ExitReason.choices, blank=True)
    comment = models.TextField(blank=True)
    acknowledgements = models.JSONField(default=list, blank=True)
    # Outcome of each verification check, e.g. {"card_last4": true}; never the card digits or the PIN.
    checks = models.JSONField(default=dict, blank=True)

    needs_manager_review = models.BooleanField(default=False, help_text="K10: outstanding balance on a port-out.")
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejection_code = models.CharField(max_length=40, blank=True)
    rejection_reason = models.TextField(blank=True)

    # SLA bookkeeping (first response by staff, time waiting on the customer does not count).
    first_response_at = models.DateTimeField(null=True, blank=True)
    waiting_on_customer_since = models.DateTimeField(null=True, blank=True)
    # Where the SLA clocks start (NULL: created_at); moved forward past a pause by tickets.sla.resume_clock.
    sla_clock_started_at = models.DateTimeField(null=True, blank=True)
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    redacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("verify_ticket", "Can verify tickets"),
            ("approve_ticket", "Can approve tickets"),
            ("complete_ticket", "Can complete tickets"),
            ("reject_ticket", "Can reject tickets"),
            ("view_queues", "Can view manager queues"),
            ("assign_ticket", "Can assign and reassign tickets"),
        ]
        indexes = [
            models.Index(fields=["state", "kind", "created_at"], name="ticket_queue_idx"),
            models.Index(fields=["assignee", "state"], name="ticket_assignee_idx"),
            models.Index(fields=["account", "state"], name="ticket_account_idx"),
            # Manager queues (tickets.selectors): history lists by date within a state, throughput per week,
            # exit reasons per month.
            models.Index(fields=["state", "-created_at"], name="ticket_state_created_idx"),
            models.Index(fields=["state", "closed_at"], name="ticket_state_closed_idx"),
            models.Index(fields=["kind", "created_at"], name="ticket_kind_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="rejected") | ~Q(rejection_reason=""), name="rejection_needs_reason"
            ),
            # SPEC §4, one open request per object, held by the database too (tickets.services checks it first).
            models.UniqueConstraint(
                fields=["license"],
                condition=Q(kind="license_cancellation", state__in=["submitted", "verified", "approved"]),
                name="one_open_license_cancellation",
            ),
            models.UniqueConstraint(
                fields=["addon"],
                condition=Q(kind="addon_cancellation", state__in=["submitted", "verified", "approved"]),
                name="one_open_addon_cancellation",
            ),
            models.UniqueConstraint(
                fields=["addon"],
                condition=Q(kind="addon_change", state__in=["submitted", "verified", "approved"]),
                name="one_open_addon_change",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} — {self.account.account_id}"

    def refresh_from_db(self, using=None, fields=None, from_queryset=None) -> None:
        # The protected FSMField refuses any assignment once loaded; a reload is not a transition.
        if fields is None or "state" in fields:
            self.__dict__.pop("state", None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # -- transitions: they change the instance only; the service does the rest ---------------------------
    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.VERIFIED,
        permission=_permitted("verify"),
    )
    def verify(self, *, by=None) -> None:
        self.verified_by = by if by and by.is_staff else None

    @transition(field=state, source=State.VERIFIED, target=State.APPROVED, permission=_permitted("approve"))
    def approve(self, *, by=None, foc_date=None) -> None:
        self.approved_by = by if by and by.is_staff else None
        if foc_date:
            self.foc_date = foc_date

    @transition(
        field=state,
        source=State.APPROVED,
        target=State.COMPLETED,
        permission=_permitted("complete"),
    )
    def complete(self, *, by=None) -> None:
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=[State.SUBMITTED, State.VERIFIED, State.APPROVED],
        target=State.REJECTED,
        permission=_permitted("reject"),
    )
    def reject(self, *, by=None, reason: str = "", code: str = "") -> None:
        self.rejection_reason = reason
        self.rejection_code = code
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=[State.SUBMITTED, State.VERIFIED],
        target=State.WITHDRAWN,
        permission=_permitted("withdraw"),
    )
    def withdraw(self, *, by=None) -> None:
        self.closed_at = timezone.now()


TRANSITIONS = ["verify", "approve", "complete", "reject", "withdraw"]
ONE_OPEN_REQUEST_CONSTRAINTS = {"one_open_license_cancellation", "one_open_addon_cancellation", "one_open_addon_change"}


class TransitionLog(models.Model):
    """Every change of state, read-only everywhere.

    Our own model rather than django-fsm-log's StateLog: we need the channel and a free-text note on each row,
    a plain foreign key to the ticket for one-query timelines, and the purge must redact the actor's name while
    keeping the row, which StateLog's generic relation and user foreign key do not allow.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="log")
    transition = models.CharField(max_length=20)
    source = models.CharField(max_length=20, blank=True)
    target = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="Who acted, as shown (system, or the user's email).")
    channel = models.CharField(max_length=10, choices=LogChannel.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["ticket", "at"], name="log_ticket_at_idx")]

    def __str__(self) -> str:
        return f"{self.transition}: {self.source or '∅'} → {self.target} by {self.actor_label}"


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    public = models.BooleanField(default=True, help_text="Internal comments are seen by staff only.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment on #{self.ticket_id}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    return f"attachments/{instance.ticket_id}/{filename}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    public = models.BooleanField(
        "customers see it",
        default=True,
        help_text="Staff-only files (from an unverified sender's email or an internal note) are hidden from customers.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class VerificationAttempt(models.Model):
    """One try at a verification check; five failures in an hour lock verification for that account."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=30)
    succeeded = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "succeeded", "at"], name="verif_attempt_idx")]

    def __str__(self) -> str:
        return f"{self.method} {'ok' if self.succeeded else 'failed'} at {self.at:%Y-%m-%d %H:%M}"


class EmailNotice(models.Model):
    """One row per email the desk sends: the key makes a redelivered task send it once."""

    key = models.CharField(max_length=120, unique=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="emails")
    template = models.CharField(max_length=60)
    recipients = models.JSONField(default=list)
    # Set when the email is rendered ahead of sending, before the data it names is erased (SPEC §4, U10, S6):
    # the task sends these words to these recipients, and blanks the text once it is out.
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.key


class RetentionOutcome(models.Model):
    """One run of the cancellation flow: the survey answer, the offers shown and what the customer did."""

    class Outcome(models.TextChoices):
        KEPT = "kept", "Kept the account"
        DOWNGRADED = "downgraded", "Took the downgrade"
        MEETING = "meeting", "Booked a meeting with customer success"
        CANCELLED = "cancelled", "Went on to cancel"
        ABANDONED = "abandoned", "Left the flow"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="retention_outcomes")
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=30, choices=ExitReason.choices, blank=True)
    offers_shown = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.ABANDONED)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.account} — {self.get_outcome_display()}"

    @property
    def saved(self) -> bool:
        return self.outcome in {self.Outcome.KEPT, self.Outcome.DOWNGRADED, self.Outcome.MEETING}


class IdempotencyKey(models.Model):
    """An API create replayed with the same Idempotency-Key returns the first result; the key reused for a
    different request is refused, told apart by the fingerprint (a hash of the request's validated fields)."""

    key = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64, blank=True, default="", help_text="Empty on keys from before it.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self) -> str:
        return self.key
