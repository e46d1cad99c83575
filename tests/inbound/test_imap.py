"""Intake mailboxes over IMAP, against a real Dovecot: UIDs tracked, stored before marked, failures isolated."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.inbound.conftest import email_bytes
from tests.test_settings import refused, start
from tickets.inbound.imap import ENV_MAILBOX, fetch_all
from tickets.inbound.models import InboundMessage, Mailbox


@pytest.fixture(autouse=True)
def _emails_in_process(tasks_in_process):
    """The acknowledgements go out in-process."""


def test_an_email_appended_to_the_intake_mailbox_becomes_a_triage_item(cast, intake):
    desk = cast("avoxi")
    intake.mailbox()
    intake.append(email_bytes(sender=f"Owner <{desk.owner.email}>", subject="Cancel please"))
    [result] = fetch_all()
    assert (result.stored, result.error) == (1, "")
    message = InboundMessage.objects.get()
    assert (message.status, message.member, message.subject, message.source) == (
        "triage",
        desk.owner,
        "Cancel please",
        "imap",
    )
    assert intake.seen_flags() == [True]  # marked only once stored


def test_a_mailbox_read_again_stores_only_what_is_new(cast, intake):
    mailbox = intake.mailbox()
    intake.append(email_bytes(subject="first"))
    fetch_all()
    intake.append(email_bytes(subject="second"))
    [result] = fetch_all()
    assert result.stored == 1
    assert sorted(InboundMessage.objects.values_list("subject", flat=True)) == ["first", "second"]
    mailbox.refresh_from_db()
    assert mailbox.last_uid and mailbox.uidvalidity and mailbox.last_fetched_at
    assert fetch_all()[0].stored == 0


def test_a_message_the_server_hands_over_twice_is_stored_once(cast, intake):
    mailbox = intake.mailbox()
    intake.append(email_bytes(message_id="<same@customer.test>"))
    fetch_all()
    # As if the desk died after storing and before remembering the UID; the copy in another folder is the same mail.
    Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=0)
    intake.append(email_bytes(message_id="<same@customer.test>"))
    [result] = fetch_all()
    assert result.stored == 2
    assert InboundMessage.objects.count() == 1


def test_a_failing_mailbox_backs_off_and_never_stops_the_others(cast, intake):
    broken = intake.mailbox(name="broken", password="wrong password")
    unreachable = intake.mailbox(name="unreachable", host="127.0.0.1", port=1)
    intake.mailbox(name="working")
    intake.append(email_bytes())
    results = {r.mailbox: r for r in fetch_all()}
    assert results["working"].stored == 1 and results["working"].error == ""
    assert results["broken"].error and results["unreachable"].error
    broken.refresh_from_db()
    assert broken.failures == 1 and broken.last_error and broken.retry_after > timezone.now()
    # Backing off: the next round skips it, then tries again once its wait is over.
    assert {r.mailbox for r in fetch_all()} == {"working"}
    later = fetch_all(now=timezone.now() + dt.timedelta(minutes=5))
    assert {r.mailbox for r in later} == {"working", "broken", "unreachable"}
    unreachable.refresh_from_db()
    assert unreachable.failures == 2 and unreachable.retry_after > timezone.now() + dt.timedelta(seconds=90)


def test_the_mailbox_in_intake_imap_url_is_read_like_the_others(cast, intake, settings):
    server = intake.server
    settings.INTAKE_IMAP = {
        "host": server.host,
        "port": server.port,
        "use_tls": False,
        "username": server.user,
        "password": server.password,
        "folder": "INBOX",
    }
    intake.append(email_bytes())
    out = StringIO()
    call_command("fetch_mail", stdout=out)
    assert f"{ENV_MAILBOX}: 1 new message(s)" in out.getvalue()
    assert InboundMessage.objects.get().mailbox.name == ENV_MAILBOX


def test_intake_imap_url_is_parsed_from_the_environment():
    url = "imaps://intake%40desk.test:p%40ss%3Aword@imap.desk.test:993/Support%20In"
    result = start(
        "import django; django.setup(); from django.conf import settings as s; print(sorted(s.INTAKE_IMAP.items()))",
        SECRET_KEY="x",
        INTAKE_IMAP_URL=url,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "[('folder', 'Support In'), ('host', 'imap.desk.test'), ('password', 'p@ss:word'), ('port', 993), "
        "('use_tls', True), ('username', 'intake@desk.test')]"
    ) in result.stdout
    assert refused(start(SECRET_KEY="x", INTAKE_IMAP_URL="pop3://user@host/"), "INTAKE_IMAP_URL")


def test_beat_reads_the_mailboxes_with_the_same_code(cast, intake, settings):
    from tickets.inbound.imap import fetch_mail

    assert settings.CELERY_BEAT_SCHEDULE["fetch-mail"]["task"] == fetch_mail.name
    intake.mailbox()
    intake.append(email_bytes())
    assert fetch_mail.apply().get() == 1
    assert InboundMessage.objects.count() == 1


def test_a_mailbox_being_read_is_not_read_twice_at_once(cast, intake):
    mailbox = intake.mailbox()
    intake.append(email_bytes())
    Mailbox.objects.filter(pk=mailbox.pk).update(claimed_until=timezone.now() + dt.timedelta(minutes=5))
    [result] = fetch_all()
    assert (result.stored, result.error) == (0, "being read by another worker")
    # A reader that died lets go when its claim runs out.
    Mailbox.objects.filter(pk=mailbox.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    assert fetch_all()[0].stored == 1
