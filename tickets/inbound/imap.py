"""Read the intake mailboxes over IMAP (imap-tools), for the beat task and `manage.py fetch_mail` alike.

Each mailbox remembers the folder's UIDVALIDITY and the last UID it stored; a message is stored (once per
Message-ID, inbound/services.py) before it is flagged \\Seen on the server and before the UID moves on, so a crash
between the two fetches it again and the store finds it already there. A mailbox that fails backs off (1 minute,
doubling, at most an hour) and never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from imap_tools import MailBox, MailBoxUnencrypted, MailMessage, MailMessageFlags

from . import spool
from .models import InboundMessage, Mailbox
from .services import MAX_MESSAGE_BYTES, receive

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
    2. List the UIDs above the last one stored, and fetch them in batches without marking them seen, one message at
       a time into a temporary file (fetch_message): never a whole batch, nor a whole message, in memory.
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
                for uid, size in _sizes(box.client, batch):
                    # A message that cannot be stored comes back quarantined: the UID still moves past it.
                    message = fetch_message(box.client, uid, size, mailbox)
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


def _sizes(client, uids: list[str]) -> list[tuple[str, int]]:
    """Each message's UID and size (RFC822.SIZE), in UID order; a message gone meanwhile is not listed."""
    typ, data = client.uid("FETCH", ",".join(uids), "(UID RFC822.SIZE)")
    if typ != "OK":
        raise ConnectionError(f"FETCH RFC822.SIZE: {typ} {data!r}")
    sizes = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        if not isinstance(line, bytes):
            continue
        uid, size = re.search(rb"\bUID (\d+)", line), re.search(rb"\bRFC822\.SIZE (\d+)", line)
        if uid and size:
            sizes[int(uid.group(1))] = int(size.group(1))
    return [(str(uid), sizes[uid]) for uid in sorted(sizes)]


def _fetch_into(client, uid: str, section: str, file) -> int:
    """Write one message's `section` into `file`, CHUNK_BYTES per FETCH (a partial fetch, RFC 3501 BODY[]<o.n>)."""
    written = 0
    while True:
        typ, data = client.uid("FETCH", uid, f"(BODY.PEEK[{section}]<{written}.{spool.CHUNK_BYTES}>)")
        if typ != "OK":
            raise ConnectionError(f"FETCH {uid}: {typ} {data!r}")
        chunk = b"".join(item[1] for item in data if isinstance(item, tuple) and isinstance(item[1], bytes))
        file.write(chunk)
        written += len(chunk)
        if len(chunk) < spool.CHUNK_BYTES:
            return written


def fetch_message(client, uid: str, size: int, mailbox: Mailbox) -> InboundMessage:
    """Fetch one message into a temporary file and store it (inbound/spool.py): what is parsed is bounded, and the
    copy as received is written to the database from the file. A message over the 25 MB cap
    (services.MAX_MESSAGE_BYTES) is fetched as its headers alone, which are all it keeps."""
    with tempfile.TemporaryFile(prefix="exitdesk-mail-") as file:
        if size > MAX_MESSAGE_BYTES:
            _fetch_into(client, uid, "HEADER", file)
            return receive(spool.spool_whole(file), source=InboundMessage.Source.IMAP, mailbox=mailbox, size=size)
        received = _fetch_into(client, uid, "", file)
        digest = spool.digest(file)
        with transaction.atomic():
            message = receive(digest.raw, source=InboundMessage.Source.IMAP, mailbox=mailbox, size=received)
            stored_now = message.pk is not None and message.raw is digest.raw
            if stored_now and not digest.whole and message.status != InboundMessage.Status.QUARANTINED:
                notes = [message.note, digest.note()]
                try:
                    with transaction.atomic():
                        spool.store_raw(message, file, received)
                except Exception as error:  # noqa: BLE001 - the message stays stored; only its whole copy is lost
                    logger.warning("Inbound message %s: its whole copy could not be kept (%s).", message.pk, error)
                    notes.append("Its copy as received could not be kept whole: only what was read of it is kept.")
                message.note = " ".join(filter(None, notes))
                InboundMessage.objects.filter(pk=message.pk).update(note=message.note)
        return message


# Here rather than in tasks.py: the fetch hands mail to services, whose replies are tasks.py's (no circle). The name
# is the one beat's schedule and queued runs know (config/settings.py CELERY_BEAT_SCHEDULE).
@shared_task(name="tickets.inbound.tasks.fetch_mail")
def fetch_mail() -> int:
    """Every minute on beat: read every intake mailbox once (the same code as `manage.py fetch_mail`)."""
    return sum(result.stored for result in fetch_all())
