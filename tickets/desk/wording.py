"""What the agents' ticket page and list say, in words: the fields each kind shows, a one-line summary, the
transition panel (what this person may do now and, where they may not, who may), and the history as one timeline.

Nothing here decides access: tickets.access and tickets.services answer, this module only puts their answers
into sentences. A kind added to tickets.models.Kind without an entry in KIND_FIELDS shows every detail field that
holds a value (never a blank page).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.utils import timezone

from billing.models import ACKNOWLEDGEMENT_TEXTS, REQUIRED_INFO_FIELDS, Route
from tickets import access, sla
from tickets.inbound.models import InboundMessage
from tickets.models import PORT_OUT_REJECTION_CODES, TRANSITIONS, Kind, LogChannel, State, Ticket

# The details each kind shows on its page (admin field or display method names, in order).
KIND_FIELDS: dict[str, list[str]] = {
    Kind.ACCOUNT_CANCELLATION: ["reason_text", "comment", "acknowledgement_list", "check_list", "billing_note"],
    Kind.LICENSE_CANCELLATION: ["license_text", "quantity", "billing_note"],
    Kind.NUMBER_CANCELLATION: ["number_list", "billing_note"],
    Kind.ADDON_CANCELLATION: ["addon_text", "billing_note"],
    Kind.ADDON_CHANGE: ["addon_text", "tier", "billing_note"],
    Kind.PORT_OUT: ["number_list", "gaining_carrier", "authorized_name", "foc_date", "check_list", "review_text"],
    Kind.DOWNGRADE: ["target_plan", "reason_text", "comment", "billing_note"],
    Kind.REACTIVATION: ["comment"],
}
# Every detail a kind may show: a kind without an entry above shows those of these that hold a value.
DETAIL_FIELDS = [
    "license_text",
    "quantity",
    "number_list",
    "addon_text",
    "tier",
    "target_plan",
    "gaining_carrier",
    "authorized_name",
    "foc_date",
    "reason_text",
    "comment",
    "acknowledgement_list",
    "check_list",
]
_DETAIL_VALUES = {  # the model attribute a display method reads, to tell whether an unknown kind holds it
    "number_list": "numbers",
    "reason_text": "reason",
    "acknowledgement_list": "acknowledgements",
    "check_list": "checks",
    "license_text": "license_id",
    "addon_text": "addon_id",
}

# What a verification check's key means (tickets.services stores {key: passed}).
CHECK_TEXTS = {
    "card_last4": "Last four digits of the card on file",
    "owner_link": "Owner confirmed by the emailed link (no card on file)",
    "confirmation": "Typed confirmation word",
    "acknowledgements": "Every acknowledgement the policy asks for was ticked",
    "pin": "Port-out PIN",
    "account_number": "Account number (no PIN set)",
    "authorized_name": "Authorized person's name matches the account",
    "name": "Authorized person's name matches the account",
    "numbers": "Every number is on this account",
    "numbers_on_account": "Every number is on this account",
}

ROUTE_TEXTS = dict(Route.choices)
CHANNEL_TEXTS = dict(LogChannel.choices)

EMAIL_TEXTS = {
    "ticket_submitted": "Email sent: request received",
    "ticket_changed": "Email sent: the request changed state",
    "ticket_completed": "Email sent: request completed",
    "sla_warning": "Email sent to staff: SLA at risk",
    "port_out_alert": "Email sent: port-out alert to the owner and billing admins",
    "port_out_account_manager": "Email sent to staff: port-out alert to the account manager",
    "port_out_lock_off": "Email sent: port-out lock switched off",
    "inbound_acknowledgement": "Email sent: acknowledgement of an email",
    "inbound_reply": "Email sent: reply",
    "meeting_requested": "Email sent: meeting with customer success requested",
    "verification_locked": "Email sent: verification locked after failed attempts",
    "member_invitation": "Email sent: invitation",
}

GERUNDS = {"verify": "Verifying", "complete": "Completing", "reject": "Rejecting", "approve": "Approving"}

PAST = {
    "submit": "Submitted",
    "verify": "Verified",
    "approve": "Approved",
    "complete": "Completed",
    "reject": "Rejected",
    "withdraw": "Withdrawn",
    "assign": "Assignment changed",
}


def words(value: str) -> str:
    """A stored key as words when nothing better is known: `support_case` → "Support case"."""
    return str(value or "").replace("_", " ").strip().capitalize()


def check_text(key: str) -> str:
    return CHECK_TEXTS.get(key) or words(key)


def acknowledgement_text(key: str) -> str:
    return ACKNOWLEDGEMENT_TEXTS.get(key) or words(key)


def required_info_text(key: str) -> str:
    return REQUIRED_INFO_FIELDS.get(key) or words(key)


def route_text(route: str) -> str:
    return ROUTE_TEXTS.get(route) or words(route) or "—"


def rejection_text(ticket: Ticket) -> str:
    if ticket.state != State.REJECTED:
        return ""
    code = PORT_OUT_REJECTION_CODES.get(ticket.rejection_code, "")
    return " ".join(part for part in (code, ticket.rejection_reason) if part)


def detail_fields(ticket: Ticket | None) -> list[str]:
    if ticket is None:
        return []
    if ticket.kind in KIND_FIELDS:
        return list(KIND_FIELDS[ticket.kind])
    shown = []
    for name in DETAIL_FIELDS:
        attr = _DETAIL_VALUES.get(name, name)
        value = getattr(ticket, attr, None)
        if attr == "numbers":
            value = ticket.pk and ticket.numbers.exists()
        if value not in (None, "", [], {}):
            shown.append(name)
    return shown


# -- the list's one-line summary ---------------------------------------------------------------------------------


def summary(ticket: Ticket) -> str:
    """What the request is about, in one line, from the row's own columns (no query)."""
    kind = ticket.kind
    if kind == Kind.ACCOUNT_CANCELLATION:
        return f"Whole account — {ticket.get_reason_display()}" if ticket.reason else "Whole account"
    if kind == Kind.LICENSE_CANCELLATION:
        what = ticket.license.get_product_display() if ticket.license_id and ticket.license else "licenses"
        return f"Cancel {ticket.quantity} × {what}" if ticket.quantity else f"Cancel {what}"
    if kind == Kind.NUMBER_CANCELLATION:
        return "Cancel phone numbers"
    if kind == Kind.ADDON_CANCELLATION:
        addon = ticket.addon if ticket.addon_id else None  # its name, not str(): that reads the add-on's number
        return f"Cancel {addon.name or addon.get_product_display()}" if addon else "Cancel an add-on"
    if kind == Kind.ADDON_CHANGE:
        addon = ticket.addon if ticket.addon_id else None
        what = (addon.name or addon.get_product_display()) if addon else "an add-on"
        return f"Change {what} to {ticket.tier}" if ticket.tier else f"Change {what}"
    if kind == Kind.PORT_OUT:
        carrier = f" to {ticket.gaining_carrier}" if ticket.gaining_carrier else ""
        foc = f", FOC {ticket.foc_date:%d %b}" if ticket.foc_date else ""
        return f"Port numbers out{carrier}{foc}"
    if kind == Kind.DOWNGRADE:
        return f"Downgrade to {ticket.target_plan}" if ticket.target_plan_id and ticket.target_plan else "Downgrade"
    if kind == Kind.REACTIVATION:
        return "Restore the cancelled account"
    return words(kind)


# -- the header --------------------------------------------------------------------------------------------------


@dataclass
class Header:
    state: str
    state_key: str
    sla_label: str
    sla_key: str
    sla_due: dt.datetime | None
    time_zone: str
    next_step: str


def header(ticket: Ticket, now: dt.datetime | None = None) -> Header:
    policy = ticket.account.plan.policy
    status = sla.ticket_sla(ticket, policy, now)
    due = status.due.astimezone(policy.tz) if status.due else None
    which = "first response" if status.target == "first_response" else "resolution"
    label = status.label if ticket.closed_at else f"{status.label} ({which})"
    return Header(
        state=ticket.get_state_display(),
        state_key=ticket.state,
        sla_label=label,
        sla_key=status.status,
        sla_due=due,
        time_zone=policy.intake_time_zone,
        next_step=next_step(ticket),
    )


def next_step(ticket: Ticket) -> str:
    if ticket.state == State.SUBMITTED:
        return "Waiting for an agent to verify the request."
    if ticket.state == State.VERIFIED:
        if ticket.needs_manager_review:
            return "Verified; the account owes money, so a support manager reviews it before approval."
        return "Verified; waiting for a manager's approval."
    if ticket.state == State.APPROVED:
        return "Approved; waiting to be completed."
    return "Closed: nothing left to do."


# -- the transition panel ----------------------------------------------------------------------------------------


@dataclass
class Blocked:
    name: str
    sentence: str


@dataclass
class Panel:
    available: list[str]
    blocked: list[Blocked] = field(default_factory=list)


def _holders(perm: str) -> list[str]:
    """The staff groups holding a permission, by name (the groups are data: a desk may rename or add them)."""
    app_label, codename = perm.split(".")
    groups = Group.objects.filter(permissions__codename=codename, permissions__content_type__app_label=app_label)
    return sorted(groups.values_list("name", flat=True))


def _who(perm: str) -> str:
    names = _holders(perm)
    return " or ".join(names).lower() if names else "an administrator"


def panel(ticket: Ticket, user, available: list[str]) -> Panel:
    """available: tickets.services.available_transitions. The rest of the transitions open in this state get a
    sentence saying who may run them and, where the ticket's own conditions hold this user back, why."""
    result = Panel(available=list(available))
    open_now = {t.name for t in ticket.get_available_state_transitions()}
    for name in TRANSITIONS:
        if name not in open_now or name in available:
            continue
        result.blocked.append(Blocked(name, _blocked_sentence(ticket, user, name)))
    return result


def _blocked_sentence(ticket: Ticket, user, name: str) -> str:
    if name == "withdraw":
        return "Only the requester or the account's owner may withdraw this request (from the portal or by email)."
    perm = access.TRANSITION_PERMISSIONS[name]
    if name == "approve":
        on_route = access.may_approve_on_route(user, ticket)
        if not on_route:  # U3, A11: routed to the account manager, who is someone else
            return (
                f"This request goes through the account manager ({ticket.account.account_manager}): "
                f"waiting for their approval or a support manager's."
            )
        if access.may_ask(user, name, ticket):  # the permission is there: the ticket's own conditions hold it back
            if ticket.needs_manager_review and not access.is_manager(user):
                return "Waiting for a support manager's approval: the account owes money on a port-out."
            return (
                "You verified this ticket, and this plan's policy has another member of staff approve it: "
                f"waiting for approval by {_who(perm)}."
            )
        return f"Waiting for approval by {_who(perm)}."
    return f"{GERUNDS.get(name, words(name))} is for {_who(perm)}."


# -- the timeline ------------------------------------------------------------------------------------------------


@dataclass
class Event:
    at: dt.datetime
    kind: str  # "transition", "comment", "email_out", "email_in", "assign"
    title: str
    who: str = ""
    body: str = ""
    detail: str = ""
    private: bool = False
    order: int = 0


def timeline(ticket: Ticket, user) -> list[Event]:
    """Transitions, comments and emails in and out, oldest first: three or four queries, whatever their number."""
    events: list[Event] = []
    for row in access.history_for(user, ticket):
        if row.transition == "assign":
            events.append(Event(row.at, "assign", row.note or "Assignment changed", row.actor_label, order=row.pk))
            continue
        title = PAST.get(row.transition, words(row.transition))
        detail = f"via {CHANNEL_TEXTS.get(row.channel, words(row.channel))}"
        events.append(Event(row.at, "transition", title, row.actor_label, row.note, detail, order=row.pk))
    for comment in access.comments_for(user, ticket):
        who = comment.author.email if comment.author else "system"
        title = "Internal note" if not comment.public else "Comment"
        events.append(Event(comment.created_at, "comment", title, who, comment.body, private=not comment.public))
    for notice in ticket.emails.order_by("created_at", "pk"):
        sent = f"sent {timezone.localtime(notice.sent_at):%Y-%m-%d %H:%M}" if notice.sent_at else "not sent yet"
        title = EMAIL_TEXTS.get(notice.template) or f"Email sent: {words(notice.template).lower()}"
        recipients = ", ".join(str(r) for r in notice.recipients) if isinstance(notice.recipients, list) else ""
        events.append(Event(notice.created_at, "email_out", title, recipients, detail=sent))
    if access.may_read_email(user):
        for message in InboundMessage.objects.filter(ticket=ticket).order_by("received_at", "pk"):
            who = f"{message.from_name} <{message.from_email}>" if message.from_name else message.from_email
            title = f"Email received: {message.subject}" if message.subject else "Email received"
            status = message.get_status_display()
            events.append(Event(message.received_at, "email_in", title, who, message.text, status))
    events.sort(key=lambda e: (e.at, e.order))
    return events
