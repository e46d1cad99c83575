"""Email in: one pipeline for every message, however it came (IMAP, a hosted provider's webhook, a file).

`receive` stores a message once per Message-ID and decides what it is: a machine's mail (ignored), a reply to a
ticket (a comment), or new mail (a triage item). `convert_message` turns a triage item into a ticket through
the same submission service as the portal, the admin and the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from email.utils import parseaddr
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.exceptions import Code, Refusal
from accounts.models import Account, User
from tickets import access
from tickets import services as tickets
from tickets.attachments import add_attachment, check_file, display_name
from tickets.inbound import tasks
from tickets.models import Channel, Comment, Ticket
from tickets.purge import count_refused_mail
from tickets.rules.verification import record_failed_attempt

from . import addresses
from .models import InboundMessage, Mailbox
from .parsing import ParsedAttachment, ParsedMail, parse, quarantine_headers

logger = logging.getLogger(__name__)

# Larger messages are kept as their headers only and ignored: no real cancellation request needs 25 MB.
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
# A sender who writes this often within an hour is a loop (an auto-responder that sets none of the headers).
LOOP_LIMIT = 20
LOOP_WINDOW = dt.timedelta(hours=1)
# One acknowledgement per sender in this window, however many messages they send; INBOUND_ACK_RATE in it desk-wide.
ACK_WINDOW = dt.timedelta(hours=1)
# A message that cannot be stored is kept for staff up to this size (the rest of a larger one is dropped).
QUARANTINE_BYTES = 1024 * 1024

Status = InboundMessage.Status
logger = logging.getLogger(__name__)


def own_addresses() -> set[str]:
    """Every address the desk itself sends from or reads: mail from one of them is our own, come back."""
    own = {addresses.desk_address(), parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()}
    own.update(u.lower() for u in Mailbox.objects.values_list("username", flat=True) if "@" in u)
    return {a for a in own if a}


def member_for(email: str) -> User | None:
    """The customer with this address, when there is one in an account: an active member, or else a former member
    of a cancelled, not purged, account (tickets.access), whose email converts to a reactivation."""
    if not email:
        return None
    member = (
        User.objects.filter(email__iexact=email, is_active=True, is_staff=False, memberships__isnull=False)
        .distinct()
        .first()
    )
    return member or access.former_member_by_email(email)


def receive(raw: bytes, *, source: str, mailbox: Mailbox | None = None, size: int | None = None) -> InboundMessage:
    """Store one raw message and act on it; a message already stored is returned as it is.

    1. Parse it; a Message-ID already stored ends here (a message fetched or posted twice is stored once).
    2. Decide: our own mail come back, a machine's mail (auto-reply, bounce, list) or a loop is ignored;
       mail to a ticket's reply address (or answering one of its emails) is a reply; anything else is new.
    3. In one transaction: store it, and for a reply add the comment and its attachments.
    4. After the commit: acknowledge new mail (once per sender an hour, INBOUND_ACK_RATE an hour desk-wide), tell a
       reply's ticket's assignee.
    A message that cannot be stored (a NUL character in a header, a parser or database error) is quarantined instead:
    the error never reaches the caller, so one message never stops the mailbox or the webhook behind it.
    `size`: the message's size as received, when `raw` is less than all of it (inbound/spool.py).
    """
    try:
        # Its own savepoint: a failure rolls back this message alone, never what was stored before it.
        with transaction.atomic():
            return _store(raw, source=source, mailbox=mailbox, size=size)
    except Exception as error:  # noqa: BLE001 - whatever fails is kept for staff, with its error
        return quarantine(raw, source=source, mailbox=mailbox, error=error)


def _store(raw: bytes, *, source: str, mailbox: Mailbox | None, size: int | None = None) -> InboundMessage:
    too_large = (size if size is not None else len(raw)) > MAX_MESSAGE_BYTES
    if too_large:
        head, _, _ = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
        parsed = parse(head + b"\r\n\r\n")
    else:
        parsed = parse(raw)
    existing = InboundMessage.objects.filter(message_id=parsed.message_id).first()
    if existing is not None:
        return existing
    gone = _purged_ticket(parsed)
    if gone is not None:
        return _refuse_after_purge(gone, parsed)
    now = timezone.now()
    message = InboundMessage(
        message_id=parsed.message_id,
        source=source,
        mailbox=mailbox,
        raw=head if too_large else raw,
        from_email=parsed.from_email,
        from_name=parsed.from_name,
        subject=parsed.subject,
        text=parsed.text,
        # When the customer sent it, never later than we got it (a sender's clock may run ahead).
        received_at=min(parsed.sent_at, now) if parsed.sent_at else now,
        fetched_at=now,
        status=Status.IGNORED,
        authenticated=parsed.authenticated,
        authentication=parsed.authentication[:300],
    )
    try:
        with transaction.atomic():
            _decide(message, parsed, too_large=too_large)
            message.save()
            if message.status == Status.COMMENT:
                _add_reply(message, parsed)
            elif message.status == Status.TRIAGE:
                message.note = " ".join(filter(None, [message.note, _attachment_notes(parsed.attachments)]))
                message.save(update_fields=["note"])
    except IntegrityError:
        # Another fetch stored the same message a moment ago.
        return InboundMessage.objects.get(message_id=parsed.message_id)
    _after(message)
    return message


def _purged_ticket(parsed: ParsedMail) -> Ticket | None:
    """The case a message is addressed or threaded to, when its account is purged or being purged."""
    named = addresses.addressed(parsed.recipients, parsed.references)
    # An old-format address is never honoured, but mail naming a purged account's case that way is not kept either.
    ticket_id = named.ticket_id if named.ticket_id is not None else named.old_ticket_id
    if ticket_id is None:
        return None
    gone = [Account.Status.PURGING, Account.Status.PURGED]
    return Ticket.objects.filter(pk=ticket_id, account__status__in=gone).only("pk", "account_id").first()


def _refuse_after_purge(ticket: Ticket, parsed: ParsedMail) -> InboundMessage:
    """U6, S6: purged means gone: mail to a purged account's case stores nothing (no message, comment or file),
    whatever it is (a reply, an auto-reply); it is logged (without the sender) and counted on the tombstone."""
    count_refused_mail(ticket.account_id)
    logger.info("Mail to case #%s of a purged account: nothing stored.", ticket.pk)
    return InboundMessage(
        message_id=parsed.message_id,
        status=Status.IGNORED,
        note="Refused: the account of the case it answers was purged; nothing was stored.",
    )


def quarantine(raw: bytes, *, source: str, mailbox: Mailbox | None, error: Exception) -> InboundMessage:
    """Keep a message that could not be stored: its first QUARANTINE_BYTES and the error, for staff to read.

    It is named by its bytes (a Message-ID of its own), so the same message quarantined twice is kept once and its
    real Message-ID stays free: fetched again once whatever failed is fixed, it is stored as any other.
    """
    reason = f"{type(error).__name__}: {error}".replace("\x00", "\\x00")[:2000]
    kept = raw[:QUARANTINE_BYTES]
    note = f"Quarantined, it could not be stored: {reason}"
    if len(kept) < len(raw):
        note += f" Only its first {len(kept):,} of {len(raw):,} bytes were kept."
    from_email, from_name, subject = quarantine_headers(kept)
    now = timezone.now()
    with transaction.atomic():
        message, _ = InboundMessage.objects.get_or_create(
            message_id=f"<quarantine.{hashlib.sha256(raw).hexdigest()}@exitdesk.invalid>",
            defaults={
                "source": source,
                "mailbox": mailbox,
                "raw": kept,
                "from_email": from_email,
                "from_name": from_name,
                "subject": subject,
                "received_at": now,
                "fetched_at": now,
                "status": Status.QUARANTINED,
                "note": note,
            },
        )
    # Logged without the sender (no personal data in the logs): staff read it in the admin.
    logger.warning("Inbound message %s quarantined: %s", message.pk, reason)
    return message


def _decide(message: InboundMessage, parsed: ParsedMail, *, too_large: bool) -> None:
    sender = parsed.from_email
    if too_large:
        message.note = f"Larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MB: only its headers were kept."
    elif not sender:
        message.note = "No sender address."
    elif sender in own_addresses():
        message.note = "Loop: sent from the desk's own address."
    elif parsed.automatic:
        message.note = f"Automatic mail ({parsed.automatic})."
    elif InboundMessage.objects.filter(from_email=sender, fetched_at__gte=message.fetched_at - LOOP_WINDOW).count() >= (
        LOOP_LIMIT
    ):
        message.note = f"Loop: more than {LOOP_LIMIT} messages from this sender within an hour."
    else:
        named = addresses.addressed(parsed.recipients, parsed.references)
        if named.forged:
            message.note = "Refused: it names a ticket's reply address whose signature does not match."
            return
        staff = is_staff_address(sender)
        message.status = Status.TRIAGE
        # Staff never act by email: their mail is triage, whatever it says, and never a known customer's.
        message.member = None if staff else member_for(sender)
        notes = []  # why the sender is (not) verified is kept apart, in message.authentication
        if staff:
            notes.append("Sent from a staff address: staff never act by email, so it waits here.")
        if named.ticket_id is not None:
            ticket = Ticket.objects.select_related("account").filter(pk=named.ticket_id).first()
            why_not = _why_not_threaded(ticket, named, sender, staff=staff, authenticated=parsed.authenticated)
            # Linked either way: staff see which case it answers, and it goes with the case's account when purged.
            message.ticket = ticket
            if why_not is None:
                message.status = Status.COMMENT
                return
            notes.append(why_not)
        elif named.old:
            notes.append(
                "It answers an old-format reply address (one per case, before addresses were per recipient): "
                "not added to the case."
            )
        message.note = " ".join(dict.fromkeys(filter(None, notes)))


def is_staff_address(email: str) -> bool:
    """Whether the address is a member of staff's (active or not): mail from it never acts."""
    return User.objects.filter(email__iexact=email, is_staff=True).exists()


def _why_not_threaded(
    ticket: Ticket | None, named: addresses.Addressed, sender: str, *, staff: bool, authenticated: bool
) -> str | None:
    """Why a reply naming a ticket and a recipient is not added to the ticket, or None when it is: its sender must be
    authenticated and be that recipient, a customer who may still comment on the ticket, and the ticket not closed for
    longer than INBOUND_REPLY_GRACE_DAYS."""
    if ticket is None:
        return "It answers a case that no longer exists."
    case = f"case #{ticket.pk}"
    if staff:
        return f"It answers {case}, but staff never act by email."
    if not authenticated:
        return f"It answers {case}, but its sender is not verified, so it was not added to the case."
    recipient = User.objects.filter(pk=named.recipient_id, is_active=True).first()
    if recipient is None or recipient.email.lower() != sender.lower():
        return f"It was sent to the reply address of another recipient of {case}: not added to the case."
    grace = dt.timedelta(days=settings.INBOUND_REPLY_GRACE_DAYS)
    if ticket.closed_at is not None and ticket.closed_at + grace < timezone.now():
        return (
            f"It answers {case}, closed on {ticket.closed_at:%d %b %Y}: its reply address stopped working "
            f"{settings.INBOUND_REPLY_GRACE_DAYS} days later."
        )
    if not access.may_comment(recipient, ticket, public=True):
        return f"It answers {case}, on which its sender may no longer comment."
    return None


def _add_reply(message: InboundMessage, parsed: ParsedMail) -> None:
    """A reply to a ticket's email: a public comment by the recipient who wrote it (authenticated, _decide), with its
    files under the portal's rules."""
    ticket = Ticket.objects.select_related("account__plan__policy").get(pk=message.ticket_id)
    author = User.objects.get(email__iexact=parsed.from_email, is_active=True)
    tickets.add_comment(ticket=ticket, author=author, body=message.text or "(no text)", public=True)
    refused = save_attachments(ticket, parsed.attachments, uploaded_by=author, public=True)
    message.note = " ".join([f"Reply by {author.email}.", *refused])
    message.member = author
    message.save(update_fields=["note", "member"])


def _upload(attachment: ParsedAttachment) -> SimpleUploadedFile:
    return SimpleUploadedFile(Path(attachment.name).name or "attachment", attachment.content, attachment.content_type)


def _attachment_notes(attachments: list[ParsedAttachment]) -> str:
    """What a triage item's files would meet: the file checks of tickets.attachments (the case's limits wait for
    its conversion)."""
    notes = []
    for attachment in attachments:
        try:
            check_file(_upload(attachment))
        except Refusal as refusal:
            notes.append(f"Attachment {display_name(attachment.name)} refused: {refusal.detail}")
    return " ".join(notes)


def save_attachments(
    ticket: Ticket, attachments: list[ParsedAttachment], *, uploaded_by: User | None, public: bool
) -> list[str]:
    """Attach an email's files through tickets.attachments.add_attachment, under the portal's rules (types, sizes,
    the case's and the person's limits); `public=False` keeps them for staff. A refused file never stops the
    message: it is named in the returned notes, and, on a case, in an internal note staff read (issue 24: a reply
    with 30 files put 30 on a case that holds 20)."""
    refused = []
    for attachment in attachments:
        try:
            add_attachment(ticket=ticket, upload=_upload(attachment), uploaded_by=uploaded_by, public=public)
        except Refusal as refusal:
            refused.append(f"Attachment {display_name(attachment.name)} refused: {refusal.detail}")
    if refused:
        Comment.objects.create(
            ticket=ticket,
            author=None,
            public=False,
            body=f"{len(refused)} of the email's {len(attachments)} files were not attached:\n" + "\n".join(refused),
        )
    return refused


def _after(message: InboundMessage) -> None:
    pk = message.pk
    if message.status == Status.TRIAGE:
        _acknowledge(message)
    elif message.status == Status.COMMENT:
        transaction.on_commit(lambda: tasks.tell_assignee.delay(pk))


def _acknowledge(message: InboundMessage) -> None:
    """Acknowledge new mail from an authenticated sender: once per sender an hour, and at most INBOUND_ACK_RATE an
    hour desk-wide.

    A flood of new senders (spoofed, most of them) must not turn the desk into a source of backscatter: past the
    desk-wide limit the acknowledgement is skipped, marked on the message and counted where staff look (the admin's
    "acknowledgement" filter).
    """
    if not message.authenticated or is_staff_address(message.from_email):
        return  # issue 24: only an authenticated customer hears from the desk (no backscatter to spoofed addresses)
    pk, since = message.pk, message.fetched_at - ACK_WINDOW
    if InboundMessage.objects.filter(from_email=message.from_email, acknowledged_at__gte=since).exists():
        return
    if InboundMessage.objects.filter(acknowledged_at__gte=since).count() >= settings.INBOUND_ACK_RATE:
        InboundMessage.objects.filter(pk=pk).update(acknowledgement_skipped_at=timezone.now())
        logger.warning(
            "Acknowledgement skipped: %s already sent this hour (INBOUND_ACK_RATE).", settings.INBOUND_ACK_RATE
        )
        return
    claimed = InboundMessage.objects.filter(pk=pk, acknowledged_at__isnull=True).update(acknowledged_at=timezone.now())
    if claimed:
        transaction.on_commit(lambda: tasks.send_acknowledgement.delay(pk))


# -- triage ------------------------------------------------------------------------------------------------


def accounts_of(message: InboundMessage):
    """The sender's accounts, the ones an agent may file the request on."""
    if message.member_id is None:
        return Account.objects.none()
    return Account.objects.filter(memberships__user_id=message.member_id).select_related("plan__policy")


def convert_message(
    *,
    message: InboundMessage | int,
    actor: User,
    kind: str,
    account: Account | int,
    request: tickets.Request,
    requester_confirmed_by: str = "",
) -> Ticket:
    """Turn a triage item into a ticket in one step.

    1. Lock the message: it must still wait in triage and come from a known member, either authenticated or
       confirmed by the agent through another channel (`requester_confirmed_by`, one of
       InboundMessage.Confirmation: the choice is kept on the message and on the ticket's submission log row).
    2. Submit through tickets.services.submit_ticket: channel email, the sender as requester, the message's
       arrival as the submission time, the agent as actor.
    3. Keep the message as the ticket's first comment, by the sender, with its attachments.
    4. Mark the message converted. A refusal rolls everything back and leaves it in triage.
    """
    pk = message.pk if isinstance(message, InboundMessage) else message
    account_pk = account.pk if isinstance(account, Account) else account
    if not access.may_submit_for_others(actor):
        raise Refusal(Code.ROLE_NOT_ALLOWED, "Only support staff turn an email into a ticket.")
    confirmations = dict(InboundMessage.Confirmation.choices)
    if requester_confirmed_by and requester_confirmed_by not in confirmations:
        raise Refusal(
            Code.INVALID_REQUEST,
            "Say how the requester was confirmed: " + ", ".join(confirmations) + ".",
            field="requester_confirmed_by",
        )
    trusted = Q(authenticated=True) if not requester_confirmed_by else Q()
    try:
        with transaction.atomic():
            # Claimed with a conditional update, the transaction's first write: of two agents converting the same
            # email at once, the second waits for the first and then finds it handled (on SQLite too).
            # No join here (a staff sender's message has no member, _decide): a joined UPDATE becomes a subquery, and
            # PostgreSQL would not re-check the status of a row another agent claimed meanwhile.
            claimed = InboundMessage.objects.filter(trusted, pk=pk, status=Status.TRIAGE, member__isnull=False).update(
                status=Status.CONVERTED, handled_by=actor, handled_at=timezone.now()
            )
            if not claimed:
                _refuse_conversion(pk)
            locked = InboundMessage.objects.select_related("member").get(pk=pk)
            member = locked.member
            request.full_name = request.full_name or locked.from_name or member.full_name
            request.contact = request.contact or locked.from_email
            ticket = tickets.submit_ticket(
                account=Account(pk=account_pk),
                kind=kind,
                requester=member,
                request=request,
                channel=Channel.EMAIL,
                actor=actor,
                received_at=locked.received_at,
            )
            Comment.objects.create(
                ticket=ticket,
                author=member,
                public=True,
                body=f"{locked.subject}\n\n{locked.text}".strip() or "(no text)",
                created_at=locked.received_at,
            )
            # Files of a sender not verified stay staff-only, even once the agent confirmed who asked (issue 24).
            files = parse(bytes(locked.raw)).attachments
            sender = member if locked.authenticated else None  # a staff-only file is nobody's upload
            save_attachments(ticket, files, uploaded_by=sender, public=locked.authenticated)
            confirmed = "" if locked.authenticated else requester_confirmed_by
            InboundMessage.objects.filter(pk=pk).update(ticket=ticket, requester_confirmed_by=confirmed)
            if confirmed:
                # The agent's choice, logged: the sender was not verified, the agent vouched for the requester.
                ticket.log.filter(transition="submit").update(
                    note=f"From an email whose sender was not verified ({locked.from_email}): "
                    f"{actor.email} {confirmations[confirmed].removeprefix('I ')}."
                )
    except Refusal as refusal:
        # The submission's failed verification was written inside the transaction this rolled back: count it.
        record_failed_attempt(refusal)
        raise
    return ticket


def _refuse_conversion(pk: int) -> None:
    message = InboundMessage.objects.filter(pk=pk).defer("raw").first()
    if message is None:
        raise Refusal(Code.NOT_FOUND, "No such message.")
    if message.status != Status.TRIAGE:
        raise Refusal(Code.ALREADY_HANDLED, f"This message was already handled ({message.get_status_display()}).")
    if message.member_id is None:
        raise Refusal(
            Code.UNVERIFIED_SENDER,
            "The sender is not a known customer: add them to their account first, or answer by email.",
        )
    raise Refusal(
        Code.UNVERIFIED_SENDER,
        "The sender is not verified (anybody can write this From address): confirm the requester by phone or "
        "another channel first, and say how.",
        field="requester_confirmed_by",
    )


def ignore_message(*, message: InboundMessage | int, actor: User, note: str = "") -> None:
    """Dismiss an email waiting in triage (not a request); claimed like a conversion, so it happens once."""
    pk = message.pk if isinstance(message, InboundMessage) else message
    with transaction.atomic():
        claimed = InboundMessage.objects.filter(pk=pk, status=Status.TRIAGE).update(
            status=Status.IGNORED, handled_by=actor, handled_at=timezone.now()
        )
        if not claimed:
            current = InboundMessage.objects.filter(pk=pk).defer("raw").first()
            shown = current.get_status_display() if current else "gone"
            raise Refusal(Code.ALREADY_HANDLED, f"This message was already handled ({shown}).")
        current = InboundMessage.objects.defer("raw").get(pk=pk)
        current.note = " ".join(filter(None, [current.note, note or f"Dismissed by {actor.email}."]))
        current.save(update_fields=["note"])
