"""Celery tasks: they take ids, are safe to run twice and call the services."""

import smtplib

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from .models import EmailNotice, State, Ticket

# Email tasks retry a failed SMTP connection with backoff (about 40 minutes in all) before giving up.
EMAIL_RETRIES = {
    "bind": True,
    "autoretry_for": (smtplib.SMTPException, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "max_retries": 8,
}

EMAIL_TEMPLATES = {
    "submitted": "ticket_submitted",
    "verified": "ticket_changed",
    "approved": "ticket_changed",
    "rejected": "ticket_changed",
    "withdrawn": "ticket_changed",
    "completed": "ticket_completed",
}


def recipients_for(ticket: Ticket, event: str) -> list[str]:
    """Who hears about the ticket: tickets.access decides (the requester while a member, U10's owner)."""
    from .access import notice_recipients

    return notice_recipients(ticket, event)


def send_once(
    *,
    key: str,
    template: str,
    recipients: list[str],
    context: dict,
    ticket: Ticket | None = None,
    reply_to: list[str] | None = None,
) -> str:
    """Send templates/emails/<template>-subject/-body.txt once per key, however often a task is delivered.

    The notice row is claimed with a conditional update on its attempt count, so of two deliveries running at
    the same moment only one sends; a failed send leaves sent_at empty and the task's retry claims it again.
    """
    try:
        with transaction.atomic():
            notice, _ = EmailNotice.objects.get_or_create(
                key=key, defaults={"ticket": ticket, "template": template, "recipients": []}
            )
    except IntegrityError:
        notice = EmailNotice.objects.get(key=key)
    if notice.sent_at:
        return "already sent"
    claimed = EmailNotice.objects.filter(pk=notice.pk, attempts=notice.attempts, sent_at__isnull=True).update(
        attempts=F("attempts") + 1, recipients=recipients
    )
    if not claimed:
        return "claimed by another delivery"
    subject = " ".join(render_to_string(f"emails/{template}-subject.txt", context).split())
    body = render_to_string(f"emails/{template}-body.txt", context)
    EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, reply_to=reply_to).send()
    EmailNotice.objects.filter(pk=notice.pk).update(sent_at=timezone.now())
    return "sent"


@shared_task(**EMAIL_RETRIES)
def send_ticket_email(self, ticket_id: int, event: str, key: str) -> str:
    """Send one email about a ticket once, however often the task is delivered."""
    ticket = Ticket.objects.select_related("account__plan", "requester").filter(pk=ticket_id).first()
    if ticket is None or event not in EMAIL_TEMPLATES:
        return "skipped"
    recipients = recipients_for(ticket, event)
    if not recipients:
        return "no recipients"
    context = {
        "ticket": ticket,
        "event": event,
        "event_label": dict(State.choices).get(event, event),
        "site_url": settings.SITE_URL,
    }
    return send_once(key=key, template=EMAIL_TEMPLATES[event], recipients=recipients, context=context, ticket=ticket)


@shared_task(**EMAIL_RETRIES)
def send_meeting_request(self, outcome_id: int) -> str:
    """S2, U9: a customer about to cancel asked for a meeting; tell the account manager (or the desk) once."""
    from .models import RetentionOutcome

    outcome = (
        RetentionOutcome.objects.select_related("account__account_manager", "account__plan", "user")
        .filter(pk=outcome_id)
        .first()
    )
    if outcome is None:
        return "skipped"
    manager = outcome.account.account_manager
    recipients = [manager.email] if manager and manager.email else [settings.DEFAULT_FROM_EMAIL]
    context = {"outcome": outcome, "account": outcome.account, "site_url": settings.SITE_URL}
    reply_to = [outcome.user.email] if outcome.user_id and outcome.user.email else None
    return send_once(
        key=f"meeting:{outcome_id}",
        template="meeting_requested",
        recipients=recipients,
        context=context,
        reply_to=reply_to,
    )


@shared_task(**EMAIL_RETRIES)
def send_sla_warning(self, ticket_id: int, key: str) -> str:
    """Tell a ticket's assignee that its SLA is about to breach, once per key."""
    from . import sla

    ticket = Ticket.objects.select_related("account__plan__policy", "assignee").filter(pk=ticket_id).first()
    if ticket is None or ticket.assignee is None or not ticket.assignee.email:
        return "skipped"
    context = {
        "ticket": ticket,
        "sla": sla.ticket_sla(ticket, ticket.account.plan.policy),
        "site_url": settings.SITE_URL,
    }
    return send_once(
        key=key, template="sla_warning", recipients=[ticket.assignee.email], context=context, ticket=ticket
    )


@shared_task
def approve_overdue_port_outs() -> int:
    """Every 15 minutes on beat: the port-out deadline (tickets/jobs.py)."""
    from .jobs import approve_overdue_port_outs as run

    return len(run())


@shared_task
def warn_sla_at_risk() -> int:
    """Every 15 minutes on beat: warn assignees of tickets about to breach their SLA, once (tickets/jobs.py)."""
    from .jobs import warn_sla_at_risk as run

    return len(run())
