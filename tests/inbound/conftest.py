"""A real IMAP server for the email channel: Debian's Dovecot, run as our own instance on a free high port.

TESTING.md's recipe (bench/dovecot.py): installed with apt-get when absent (as root; CI's .ci/run installs it
too), configured in a temporary folder with one passwd-file user, started once per session and stopped at its end.
"""

import imaplib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from bench import dovecot as dovecot_server


@pytest.fixture(scope="session")
def dovecot():
    """A running Dovecot (bench/dovecot.py): host, port, user, password; installed with apt-get when absent."""
    try:
        with dovecot_server.running() as server:
            yield server
    except dovecot_server.DovecotUnavailable as exc:
        pytest.fail(str(exc))


class Intake:
    """The intake mailbox on the test Dovecot: emptied for each test."""

    def __init__(self, server) -> None:
        self.server = server

    def _client(self) -> imaplib.IMAP4:
        return self.server.client()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self._client()
        try:
            typ, data = client.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def empty(self) -> None:
        dovecot_server.empty(self.server)

    def seen_flags(self) -> list[bool]:
        client = self._client()
        try:
            client.select("INBOX", readonly=True)
            typ, data = client.fetch("1:*", "(FLAGS)")
            return [b"\\Seen" in item for item in data if item]
        finally:
            client.logout()

    def mailbox(self, **fields):
        from tickets.inbound.models import Mailbox

        values = {
            "name": "intake",
            "host": self.server.host,
            "port": self.server.port,
            "use_tls": False,
            "username": self.server.user,
            "password": self.server.password,
            "folder": "INBOX",
        }
        return Mailbox.objects.create(**{**values, **fields})


@pytest.fixture
def intake(dovecot):
    box = Intake(dovecot)
    box.empty()
    return box


TRUSTED_AUTHSERV_ID = "mx.exitdesk.test"


def authentication_results(sender: str, *, authserv_id: str = TRUSTED_AUTHSERV_ID, dmarc: str = "pass") -> str:
    """The Authentication-Results header value an MTA (OpenDMARC) writes for the sender's domain."""
    from email.utils import parseaddr

    domain = parseaddr(sender)[1].rpartition("@")[2]
    return (
        f"{authserv_id}; spf=pass smtp.mailfrom={domain}; dkim=pass header.d={domain}; "
        f"dmarc={dmarc} (p=reject dis=none) header.from={domain}"
    )


def email_bytes(
    *,
    sender: str = "Pat Customer <pat@customer.test>",
    to: str = "desk@exitdesk.localhost",
    subject: str = "Please cancel my account",
    body: str = "Hello, please cancel our account.\n",
    message_id: str | None = None,
    headers: dict | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
    date=None,
    authenticated: bool = False,
) -> bytes:
    """A message as a mail client writes it; `authenticated=True` adds what the desk's own MTA writes on top of one
    whose DMARC passed: an Authentication-Results header of the trusted authserv-id (TRUSTED_AUTHSERV_ID, listed in
    INBOUND_TRUSTED_AUTHSERV_IDS by pyproject.toml's pytest env)."""
    import datetime as dt

    message = EmailMessage()
    if authenticated:
        message["Authentication-Results"] = authentication_results(sender)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or dt.datetime.now(dt.UTC))
    message["Message-ID"] = message_id or make_msgid(domain="customer.test")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for name, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()
