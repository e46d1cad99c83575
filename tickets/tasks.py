"""Celery tasks: they take ids, are safe to run twice and call one function each.

The emails are tasks of tickets.notifications (named here, `tickets.tasks.send_*`, and importable from here); the
periodic jobs below call tickets.jobs.
"""

from celery import shared_task

from . import jobs
from .notifications import (
    send_meeting_request,
    send_owner_confirmation_link,
    send_port_out_alert,
    send_port_out_lock_off,
    send_sla_warning,
    send_ticket_email,
    send_verification_locked,
)

__all__ = [
    "approve_overdue_port_outs",
    "send_meeting_request",
    "send_owner_confirmation_link",
    "send_port_out_alert",
    "send_port_out_lock_off",
    "send_sla_warning",
    "send_ticket_email",
    "send_verification_locked",
    "warn_sla_at_risk",
]


@shared_task
def approve_overdue_port_outs() -> int:
    """Every 15 minutes on beat: the port-out deadline (tickets/jobs.py)."""
    return len(jobs.approve_overdue_port_outs())


@shared_task
def warn_sla_at_risk() -> int:
    """Every 15 minutes on beat: warn assignees of tickets about to breach their SLA, once (tickets/jobs.py)."""
    return len(jobs.warn_sla_at_risk())
