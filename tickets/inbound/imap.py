"""Read the intake mailboxes over IMAP (imap-tools), for the beat task and `manage.py fetch_mail` alike.

Each mailbox remembers the folder's UIDVALIDITY and the last UID it stored; a message is stored (once per
Message-ID, inbound/services.py) before it is flagged \\Seen on the server and before the UID moves on, so a crash
between the two fetches it again and the store finds it already there. A mailbox that fails backs off (1 minute,
doubling, at most an hour) and never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from imap_tools import MailBox, MailBoxUnencrypted, MailMessage, MailMessageFlags

from .models import InboundMessage, Mailbox
from .services import receive

logger = logging.getLogger(__name__)

ENV_MAILBOX = "INTAKE_IMAP_URL"
BATCH = 100
TIMEOUT_SECONDS = 30
MAX_BACKOFF = dt.timedelta(hours=1)
# How long a reader holds a mailbox; a reader that died is replaced after this.
CLAIM = dt.timedelta(minutes=10)


class RawMessage(MailMessage):
    """imap-tools' message, keeping the raw bytes and parsing nothing: inbound.parsing reads them once."""

    def __init__(self, fetch_data: list) -> None:
        self.raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)


class _TLSBox(MailBox):
    email_message_class = RawMessage


class _PlainBox(MailBoxUnencrypted):
    email_message_class = RawMessage


@dataclass
class FetchResult:
    mailbox: str
    stored: int = 0
    quarantined: int = 0  # of those stored, the ones that could not be stored as they are (inbound.services.quarantine)
    error: str = ""


def connect(mailbox: Mailbox):
    box_class = _TLSBox if mailbox.use_tls else _PlainBox
    box = box_class(mailbox.host, mailbox.port, timeout=TIMEOUT_SECONDS)
    return box.login(mailbox.username, mailbox.password, initial_folder=mailbox.folder or "INBOX")


def sync_env_mailbox() -> Mailbox | None:
    """The mailbox INTAKE_IMAP_URL names, kept as a row so its UIDs are tracked like any other's."""
    config = getattr(settings, "INTAKE_IMAP", None)
    if not config:
        return None
    mailbox, created = Mailbox.objects.get_or_create(name=ENV_MAILBOX, defaults=config)
    if not created and any(getattr(mailbox, key) != value for key, value in config.items()):
        moved = (mailbox.host, mailbox.username, mailbox.folder) != (
            config["host"],
            config["username"],
            config["folder"],
        )
        for key, value in config.items():
            setattr(mailbox, key, value)
        if moved:
            mailbox.uidvalidity, mailbox.last_uid = None, 0
        mailbox.failures, mailbox.retry_after = 0, None
        mailbox.save()
    return mailbox


def fetch_all(now: dt.datetime | None = None) -> list[FetchResult]:
    """Read every enabled mailbox that is not backing off; one failing mailbox never stops the others."""
    now = now or timezone.now()
    sync_env_mailbox()
    due = Mailbox.objects.filter(enabled=True).filter(Q(retry_after__isnull=True) | Q(retry_after__lte=now))
    return [fetch_mailbox(mailbox) for mailbox in due.order_by("pk")]


def fetch_mailbox(mailbox: Mailbox) -> FetchResult:
    """Fetch what is new in one mailbox.

    1. Log in and read the folder's UIDVALIDITY: when it changed, every UID is new again (the Message-ID store
       keeps what was already stored from being stored twice).
    2. List the UIDs above the last one stored, and fetch them in batches without marking them seen.
    3. Store each message through the pipeline (one that cannot be stored is quarantined, never blocking the ones
       after it), then flag the batch \\Seen and remember its last UID.
    The mailbox is claimed first with a conditional update, so two rounds never read it at once.
    A failure records the error and backs off; what was stored before it stays stored.
    """
    result = FetchResult(mailbox=mailbox.name)
    now = timezone.now()
    claimed = (
        Mailbox.objects.filter(pk=mailbox.pk)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM)
    )
    if not claimed:
        result.error = "being read by another worker"
        return result
    try:
        with connect(mailbox) as box:
            folder = mailbox.folder or "INBOX"
            uidvalidity = int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])
            if uidvalidity != mailbox.uidvalidity:
                mailbox.uidvalidity, mailbox.last_uid = uidvalidity, 0
                Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity, last_uid=0)
            # "N:*" always names the newest message, even below N: keep only the new ones.
            uids = sorted(
                u for u in (int(x) for x in box.uids(f"UID {mailbox.last_uid + 1}:*")) if u > mailbox.last_uid
            )
            for start in range(0, len(uids), BATCH):
                batch = [str(u) for u in uids[start : start + BATCH]]
                for fetched in box.fetch(uid_list=batch, mark_seen=False, bulk=True):
                    # A message that cannot be stored comes back quarantined: the UID still moves past it.
                    message = receive(fetched.raw, source=InboundMessage.Source.IMAP, mailbox=mailbox)
                    result.stored += 1
                    result.quarantined += message.status == InboundMessage.Status.QUARANTINED
                box.flag(batch, MailMessageFlags.SEEN, True)
                mailbox.last_uid = int(batch[-1])
                Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=mailbox.last_uid)
    except Exception as exc:  # noqa: BLE001 - any failure of one mailbox is recorded and retried later
        mailbox.failures += 1
        backoff = min(dt.timedelta(minutes=2 ** min(mailbox.failures - 1, 10)), MAX_BACKOFF)
        result.error = f"{type(exc).__name__}: {exc}"[:1000]
        Mailbox.objects.filter(pk=mailbox.pk).update(
            failures=mailbox.failures, retry_after=timezone.now() + backoff, last_error=result.error, claimed_until=None
        )
        logger.warning("Mailbox %s failed (%s); next try in %s.", mailbox.name, result.error, backoff)
        return result
    Mailbox.objects.filter(pk=mailbox.pk).update(
        failures=0, retry_after=None, last_error="", last_fetched_at=timezone.now(), claimed_until=None
    )
    return result
