"""Celery tasks of the email channel: they take ids and call the services (inbound/services.py, inbound/imap.py)."""

from celery import shared_task
from django.conf import settings

from tickets.notifications import EMAIL_RETRIES, send_once

from .models import InboundMessage


@shared_task(**EMAIL_RETRIES)
def send_acknowledgement(self, message_id: int) -> str:
    """One acknowledgement to the sender of new mail, threaded under their message."""
    # Never the copy as received (up to 25 MB): an email names the message, it never carries it.
    message = InboundMessage.objects.defer("raw").filter(pk=message_id, status=InboundMessage.Status.TRIAGE).first()
    if message is None or not message.from_email:
        return "skipped"
    return send_once(
        key=f"inbound:{message_id}:ack",
        template="inbound_acknowledgement",
        recipients=[message.from_email],
        context={"message": message, "site_url": settings.SITE_URL},
        headers={"In-Reply-To": message.message_id, "References": message.message_id, "Auto-Submitted": "auto-replied"},
    )


@shared_task(**EMAIL_RETRIES)
def tell_assignee(self, message_id: int) -> str:
    """A reply reached a ticket: tell the agent working it."""
    message = (
        InboundMessage.objects.defer("raw")
        .select_related("ticket__assignee", "ticket__account")
        .filter(pk=message_id, status=InboundMessage.Status.COMMENT)
        .first()
    )
    ticket = message.ticket if message else None
    if ticket is None or ticket.assignee is None or not ticket.assignee.email:
        return "no assignee"
    return send_once(
        key=f"inbound:{message_id}:assignee",
        template="inbound_reply",
        recipients=[ticket.assignee.email],
        context={"message": message, "ticket": ticket, "site_url": settings.SITE_URL},
        ticket=ticket,
    )
