"""Every email the desk sends about tickets and accounts, in one place: who hears, which template, once per key.

Each email is a Celery task (its name kept under tickets.tasks, where workers and queued messages know it) whose
body composes and sends once through `send_once`. Services and effects queue them with `transaction.on_commit`, so a
rolled-back change sends nothing. This module imports no service: the services import it.
"""

import smtplib
from email.utils import parseaddr

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AccountEvent, User
from tickets.inbound.addresses import desk_address, reply_address, threading_headers

from . import sla
from .access import account_notice_members, notice_recipients
from .kinds import registry
from .models import SETTLED_CODE, EmailNotice, RetentionOutcome, State, Ticket
from .signed_links import OWNER_CONFIRMATION, OWNER_CONFIRMATION_HOURS
from .withdraw_links import make_token, max_age

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
    return notice_recipients(ticket, event)


def send_once(
    *,
    key: str,
    template: str,
    recipients: list[str],
    context: dict,
    ticket: Ticket | None = None,
    reply_to: list[str] | None = None,
    headers: dict[str, str] | None = None,
    rendered: tuple[str, str] | None = None,
) -> str:
    """Send templates/emails/<template>-subject/-body.txt once per key, however often a task is delivered.

    An email about a ticket is sent to each recipient apart and threaded (tickets/inbound/addresses.py): a Message-ID
    of its own, In-Reply-To and References to the ticket's thread (and to the customer's first message, when the
    ticket came by email), and a reply address signed for the ticket and that recipient as Reply-To, so their reply
    lands on the ticket. Every email says it was sent
    automatically (Auto-Submitted, RFC 3834), so well-behaved auto-responders do not answer it.
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
    subject, body = rendered or render_email(template, context)
    headers = {"Auto-Submitted": "auto-generated", **(headers or {})}
    if ticket is None:
        EmailMultiAlternatives(
            subject, body, settings.DEFAULT_FROM_EMAIL, recipients, reply_to=reply_to, headers=headers
        ).send()
    else:
        for email in _per_recipient(ticket, key, subject, body, recipients, reply_to=reply_to, headers=headers):
            email.send()
    # Text rendered ahead is only kept until it is out (it may name people whose data is being erased).
    EmailNotice.objects.filter(pk=notice.pk).update(sent_at=timezone.now(), subject="", body="")
    if ticket is not None and Ticket.objects.filter(pk=ticket.pk, redacted_at__isnull=False).exists():
        EmailNotice.objects.filter(pk=notice.pk).update(recipients=[])  # the purge redacted it meanwhile
    return "sent"


def _per_recipient(
    ticket: Ticket, key: str, subject: str, body: str, recipients: list[str], *, reply_to, headers
) -> list[EmailMultiAlternatives]:
    """An email about a ticket, one copy per recipient, each threaded and answerable at a reply address signed for
    that ticket and that person (issue 24: a reply is threaded only when its authenticated sender is the recipient).
    A recipient who is no user of the desk (r0) gets the desk's own address: their reply waits in triage."""
    first = list(ticket.inbound_messages.filter(status="converted").values_list("message_id", flat=True)[:1])
    wanted = [parseaddr(r)[1].lower() for r in recipients]
    users = dict(User.objects.filter(email__in=wanted).values_list("email", "pk"))
    emails = []
    for recipient, address in zip(recipients, wanted, strict=True):
        user_id = users.get(address, 0)
        answer_at = reply_to or [reply_address(ticket.pk, user_id) if user_id else desk_address()]
        own = {**threading_headers(ticket.pk, user_id, key, references=first), **headers}
        emails.append(
            EmailMultiAlternatives(
                subject, body, settings.DEFAULT_FROM_EMAIL, [recipient], reply_to=answer_at, headers=own
            )
        )
    return emails


def render_email(template: str, context: dict) -> tuple[str, str]:
    subject = " ".join(render_to_string(f"emails/{template}-subject.txt", context).split())
    return subject, render_to_string(f"emails/{template}-body.txt", context)


def _ticket_context(ticket: Ticket, event: str) -> dict:
    context = {
        "ticket": ticket,
        "event": event,
        "event_label": dict(State.choices).get(event, event),
        "site_url": settings.SITE_URL,
    }
    if event == "completed" and registry.spec(ticket.kind).closes_account:  # U10: it names the cases it closed
        context["closed_cases"] = closed_with_cancellation(ticket)
    return context


def closed_with_cancellation(ticket: Ticket) -> list[Ticket]:
    """The cases the system closed when this account cancellation completed (services.settle_account): U10's
    confirmation names them, instead of an email each."""
    account = ticket.account
    if account.cancelled_at is None:
        return []
    return list(
        account.tickets.filter(
            state=State.REJECTED, rejection_code=SETTLED_CODE, closed_at__gte=account.cancelled_at
        ).order_by("pk")
    )


def render_ticket_email_ahead(ticket_id: int, event: str, key: str) -> None:
    """Render an email about a ticket now, in the caller's transaction, and keep it for the task to send: for an
    email whose recipients or words are about to be erased (U10's confirmation before a purge at once, S6)."""
    ticket = Ticket.objects.select_related("account__plan__policy", "requester").get(pk=ticket_id)
    template = EMAIL_TEMPLATES[event]
    subject, body = render_email(template, _ticket_context(ticket, event))
    EmailNotice.objects.update_or_create(
        key=key,
        defaults={
            "ticket": ticket,
            "template": template,
            "recipients": recipients_for(ticket, event),
            "subject": subject,
            "body": body,
        },
    )


@shared_task(name="tickets.tasks.send_ticket_email", **EMAIL_RETRIES)
def send_ticket_email(self, ticket_id: int, event: str, key: str) -> str:
    """Send one email about a ticket once, however often the task is delivered."""
    ticket = Ticket.objects.select_related("account__plan", "requester").filter(pk=ticket_id).first()
    if ticket is None or event not in EMAIL_TEMPLATES:
        return "skipped"
    ahead = EmailNotice.objects.filter(key=key, sent_at__isnull=True).exclude(body="").first()
    if ahead is not None:  # rendered before the data it names was erased: send it as it was written
        if not ahead.recipients:
            return "no recipients"
        return send_once(
            key=key,
            template=ahead.template,
            recipients=ahead.recipients,
            context={},
            ticket=ticket,
            rendered=(ahead.subject, ahead.body),
        )
    recipients = recipients_for(ticket, event)
    if not recipients:
        return "no recipients"
    context = _ticket_context(ticket, event)
    return send_once(key=key, template=EMAIL_TEMPLATES[event], recipients=recipients, context=context, ticket=ticket)


@shared_task(name="tickets.tasks.send_meeting_request", **EMAIL_RETRIES)
def send_meeting_request(self, outcome_id: int) -> str:
    """S2, U9: a customer about to cancel asked for a meeting; tell the account manager (or the desk) once."""
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


@shared_task(name="tickets.tasks.send_sla_warning", **EMAIL_RETRIES)
def send_sla_warning(self, ticket_id: int, key: str) -> str:
    """Tell a ticket's assignee that its SLA is about to breach, once per key."""
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


def account_emails(account, event: str) -> list[str]:
    """The addresses of the members tickets.access tells of this event on the account, owner first."""
    emails: list[str] = []
    for membership in account_notice_members(account, event):
        if membership.user.email and membership.user.email not in emails:
            emails.append(membership.user.email)
    return emails


@shared_task(name="tickets.tasks.send_verification_locked", **EMAIL_RETRIES)
def send_verification_locked(self, account_id: int, attempt_id: int) -> str:
    """Tell the owner that five failed verifications in an hour locked the account's port-outs and verifications."""
    account = Account.objects.filter(pk=account_id).first()
    recipients = account_emails(account, "verification_locked") if account else []
    if not recipients:
        return "no recipients"
    context = {"account": account, "site_url": settings.SITE_URL, "lock_url": ""}
    if not account.port_out_locked and account.plan.policy.port_out_lock_offered:
        context["lock_url"] = settings.SITE_URL + reverse("portal:port_out_lock", args=[account.account_id])
    return send_once(
        key=f"verification_locked:{account_id}:{attempt_id}",
        template="verification_locked",
        recipients=recipients,
        context=context,
    )


def _withdraw_url(ticket: Ticket, user) -> str:
    return settings.SITE_URL + reverse("port_out_withdraw", args=[make_token(ticket, user)])


@shared_task(name="tickets.tasks.send_port_out_alert", **EMAIL_RETRIES)
def send_port_out_alert(self, ticket_id: int) -> str:
    """SPEC §4: a port-out request goes at once to the account's owner and billing admins, whoever submitted it,
    each with their own signed link to withdraw it; sent once per recipient however often the task runs."""
    ticket = (
        Ticket.objects.select_related("account__plan__policy", "account__account_manager", "requester")
        .prefetch_related("numbers")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        return "skipped"
    submit_row = ticket.log.filter(transition="submit").select_related("actor").first()
    submitted_by = submit_row.actor if submit_row else None
    outcomes = []
    for membership in account_notice_members(ticket.account, "port_out_alert"):
        context = {
            "ticket": ticket,
            "recipient": membership.user,
            "numbers": [n.number for n in ticket.numbers.all()],
            "requester": ticket.requester.get_full_name() if ticket.requester else "someone",
            "by_staff": submitted_by is not None and submitted_by.is_staff,
            "withdraw_url": _withdraw_url(ticket, membership.user),
            "link_hours": int(max_age().total_seconds() // 3600),
            "site_url": settings.SITE_URL,
        }
        outcomes.append(
            send_once(
                key=f"port_out_alert:{ticket.pk}:{membership.user_id}",
                template="port_out_alert",
                recipients=[membership.user.email],
                context=context,
                ticket=ticket,
            )
        )
    manager = port_out_account_manager(ticket)
    if manager is not None:
        context = {
            "ticket": ticket,
            "recipient": manager,
            "numbers": [n.number for n in ticket.numbers.all()],
            "requester": ticket.requester.get_full_name() if ticket.requester else "someone",
            "site_url": settings.SITE_URL,
        }
        outcomes.append(
            send_once(
                key=f"port_out_account_manager:{ticket.pk}:{manager.pk}",
                template="port_out_account_manager",
                recipients=[manager.email],
                context=context,
                ticket=ticket,
            )
        )
    return ", ".join(outcomes) or "no recipients"


def port_out_account_manager(ticket: Ticket) -> User | None:
    """K11: the account manager told of a port-out, where the plan's policy says so and the account has one who can
    still read the desk's email (an active member of staff)."""
    account = ticket.account
    if not account.plan.policy.port_out_alerts_account_manager or account.account_manager_id is None:
        return None
    manager = account.account_manager
    return manager if manager.is_active and manager.is_staff and manager.email else None


@shared_task(name="tickets.tasks.send_port_out_lock_off", **EMAIL_RETRIES)
def send_port_out_lock_off(self, event_id: int) -> str:
    """SPEC §4: the port-out lock was switched off; the owner and billing admins hear of it, once."""
    event = AccountEvent.objects.select_related("account", "actor").filter(pk=event_id).first()
    recipients = account_emails(event.account, "port_out_lock_off") if event else []
    if not recipients:
        return "no recipients"
    context = {"event": event, "account": event.account, "site_url": settings.SITE_URL}
    return send_once(
        key=f"port_out_lock_off:{event_id}", template="port_out_lock_off", recipients=recipients, context=context
    )


@shared_task(name="tickets.tasks.send_owner_confirmation_link", **EMAIL_RETRIES)
def send_owner_confirmation_link(self, ticket_id: int, owner_id: int, log_id: int) -> str:
    """K7's fallback: the account's owner receives a signed link to confirm the cancellation; once per sending."""
    ticket = Ticket.objects.select_related("account").filter(pk=ticket_id).first()
    owner = User.objects.filter(pk=owner_id, is_active=True).first()
    if ticket is None or owner is None or ticket.state != State.SUBMITTED:
        return "skipped"
    context = {
        "ticket": ticket,
        "recipient": owner,
        "confirm_url": settings.SITE_URL + reverse("owner_confirmation", args=[OWNER_CONFIRMATION.make(ticket, owner)]),
        "link_hours": OWNER_CONFIRMATION_HOURS,
        "site_url": settings.SITE_URL,
    }
    return send_once(
        key=f"owner_confirmation:{ticket_id}:{log_id}",
        template="owner_confirmation",
        recipients=[owner.email],
        context=context,
        ticket=ticket,
    )
