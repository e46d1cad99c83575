"""Webhook endpoints and the deliveries of outbox events to them (SPEC §6a, issue 26).

An endpoint's signing secrets are kept as they are (`whsec_…`): HMAC signing needs the key itself, so it cannot be
hashed like a password. They are shown once (the answer that creates or rotates them), never in a list, a detail,
the admin's forms, a log line or `repr`; whoever reads the database reads them, as for the intake mailboxes'
passwords, so the database and its backups are the boundary (encrypt them at rest where that matters).
"""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import OutboxEvent

SECRET_PREFIX = "whsec_"
ALL_EVENTS = "*"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and a base64 key of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookEndpoint(models.Model):
    url = models.URLField(
        max_length=1000, help_text="Where events are POSTed: https:// (http:// only to listed hosts)."
    )
    events = models.JSONField(default=list, help_text='Event types sent here, or ["*"] for every type.')
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    ordered = models.BooleanField(
        default=False, help_text="Send one account's events in sequence: a later one waits while an earlier is retried."
    )
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", help_text="Emailed when the endpoint is disabled."
    )
    created_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # The first failed attempt since the last delivered one: failing everything for 5 days disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        permissions = [("manage_webhooks", "Can manage webhook endpoints and resend deliveries")]

    def __str__(self) -> str:
        return self.description or self.url

    def __repr__(self) -> str:  # never the secret
        return f"<WebhookEndpoint {self.pk} {self.url}>"

    def subscribes_to(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets that sign now: the current one, and for 24 h after a rotation the one before it."""
        now = now or timezone.now()
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            keys.append(self.previous_secret)
        return keys


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed, will retry"
        EXHAUSTED = "exhausted", "Exhausted"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; while an attempt runs, when its claim lapses (a worker that died mid-attempt).
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once")]
        indexes = [
            # The sweep's and the metrics' question: what is not delivered yet, and since when.
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event.public_id} → endpoint {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response = models.TextField(blank=True, help_text="The first 2 kB of the answer.")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.at:%Y-%m-%d %H:%M:%S}"
