"""Standard Webhooks signing with the reference library: `webhook-id` (the event's `msg_…` id, the same on every
retry), `webhook-timestamp` (the attempt's time) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of
id.timestamp.body, once per secret that signs: two during the 24 hours after a rotation)."""

from __future__ import annotations

import datetime as dt
import json

from standardwebhooks import Webhook

from accounts.models import OutboxEvent

from .models import WebhookEndpoint


def body_bytes(event: OutboxEvent) -> bytes:
    """The event's body as sent: compact JSON, the same bytes on every retry."""
    return json.dumps(event.body(), separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(endpoint: WebhookEndpoint, event: OutboxEvent, body: bytes, now: dt.datetime) -> dict[str, str]:
    signatures = [Webhook(secret).sign(event.public_id, now, body) for secret in endpoint.signing_secrets(now)]
    return {
        "Content-Type": "application/json",
        "User-Agent": "Exitdesk-Webhooks/1",
        "webhook-id": event.public_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
