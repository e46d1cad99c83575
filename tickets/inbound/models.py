"""Email in: the intake mailboxes and every message they (or a hosted provider's webhook) delivered."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tickets.models import Kind


class Mailbox(models.Model):
    """An IMAP mailbox the desk reads. The password is written here and never shown back (inbound/admin.py)."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    use_tls = models.BooleanField("TLS", default=True, help_text="IMAP over TLS (imaps, usually port 993).")
    username = models.CharField(max_length=255)
    password = models.CharField(max_length=255, blank=True)
    folder = models.CharField(max_length=255, default="INBOX")
    policy = models.ForeignKey(
        "billing.Policy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The provider whose customers write here: the triage queue offers their accounts first.",
    )
    kind = models.CharField(
        "request kind",
        max_length=30,
        choices=Kind.choices,
        blank=True,
        help_text="What mail to this mailbox usually asks for (e.g. cancellations@): the kind the triage form offers.",
    )

    # Where reading got to: UIDs are only meaningful within one UIDVALIDITY of the folder.
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    # Back-off: a mailbox that fails waits longer each time, up to an hour, and never stops the others.
    failures = models.PositiveIntegerField(default=0)
    retry_after = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # One reader at a time: beat may start a round while the last one still reads (inbound/imap.py).
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return self.name


class InboundMessage(models.Model):
    """One email, stored once per Message-ID however often it is fetched or posted."""

    class Status(models.TextChoices):
        TRIAGE = "triage", "Waiting in triage"
        CONVERTED = "converted", "Turned into a ticket"
        COMMENT = "comment", "Added to its ticket as a comment"
        IGNORED = "ignored", "Ignored"
        # A message that could not be stored (a NUL character, a parser or database error): its raw copy (the first
        # QUARANTINE_BYTES) and the error are kept for staff, and the mailbox reads on past it.
        QUARANTINED = "quarantine", "Quarantined: could not be stored"

    class Confirmation(models.TextChoices):
        """How an agent confirmed the requester of a message whose sender is not verified, before converting it."""

        PHONE = "phone", "I confirmed the requester by phone"
        VIDEO_CALL = "video_call", "I confirmed the requester on a video call"
        IN_PERSON = "in_person", "I confirmed the requester in person"

    class Source(models.TextChoices):
        IMAP = "imap", "IMAP mailbox"
        WEBHOOK = "webhook", "Inbound webhook"
        FILE = "file", "File (.eml)"

    message_id = models.CharField(max_length=255, unique=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    raw = models.BinaryField(help_text="The message as received, kept once.")
    from_email = models.EmailField(max_length=254, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    text = models.TextField(blank=True, help_text="The message's own text, quoted replies stripped.")
    received_at = models.DateTimeField(db_index=True, help_text="When the message was sent (its Date header).")
    fetched_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    note = models.TextField(blank=True, help_text="Why it was ignored, refused attachments, how it was matched.")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_messages",
        help_text="The sender, when a customer with this email address is known; empty: unverified.",
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    authenticated = models.BooleanField(
        "sender verified",
        default=False,
        help_text="DMARC passed for the From domain, by a trusted Authentication-Results header "
        "(INBOUND_TRUSTED_AUTHSERV_IDS). Only verified senders comment, are known customers or get acknowledgements.",
    )
    authentication = models.CharField(
        "sender check", max_length=300, blank=True, help_text="Why the sender is or is not verified."
    )
    requester_confirmed_by = models.CharField(
        max_length=20,
        choices=Confirmation.choices,
        blank=True,
        help_text="How the agent who converted a message from a sender not verified confirmed the requester.",
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_skipped_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its acknowledgement was skipped: the desk had sent INBOUND_ACK_RATE within the hour.",
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="inbound_status_received_idx"),
            # The loop guard and the acknowledgement's once-an-hour count a sender's recent messages.
            models.Index(fields=["from_email", "fetched_at"], name="inbound_sender_fetched_idx"),
            # The desk-wide acknowledgement limit counts the last hour's acknowledgements (INBOUND_ACK_RATE).
            models.Index(fields=["acknowledged_at"], name="inbound_acknowledged_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_email or 'unknown sender'}: {self.subject or '(no subject)'}"

    @property
    def verified(self) -> bool:
        """A known customer: a member has this address, and the message is authenticated as theirs."""
        return self.member_id is not None and self.authenticated


class WebhookToken(models.Model):
    """A signed webhook post's one-time token (Mailgun's), kept for as long as its timestamp is accepted: a post
    replayed with a token already seen is refused."""

    provider = models.CharField(max_length=30)
    token = models.CharField(max_length=100)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "token"], name="inbound_webhook_token_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.token}"
