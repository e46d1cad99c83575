"""A real IMAP server for the email channel: Debian's Dovecot, run as our own instance on a free high port.

TESTING.md's recipe: installed with apt-get when absent (as root; CI's .ci/run installs it too), configured in a
temporary folder with one passwd-file user, started once per session and stopped at its end.
"""

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from types import SimpleNamespace

import pytest

USER = "intake@desk.test"
PASSWORD = "intake-pass"


def _install_dovecot() -> None:
    if shutil.which("dovecot"):
        return
    if os.geteuid() != 0:
        pytest.fail("Dovecot (dovecot-imapd) is not installed and this user cannot install it: apt-get install it.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "dovecot-imapd"], check=True, env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/run
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@pytest.fixture(scope="session")
def dovecot():
    """(host, port, user, password) of a running Dovecot; `append(bytes)` delivers a message as a server would."""
    _install_dovecot()
    root = Path(tempfile.mkdtemp(prefix="exitdesk-dovecot-"))
    (root / "mail").mkdir()
    (root / "run").mkdir()
    os.chmod(root, 0o755)
    os.chmod(root / "run", 0o755)
    if os.geteuid() == 0:
        shutil.chown(root / "mail", "dovecot", "dovecot")
        uid, gid = shutil.os.stat(root / "mail").st_uid, shutil.os.stat(root / "mail").st_gid
    else:
        uid, gid = os.getuid(), os.getgid()
    hashed = subprocess.run(
        ["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PASSWORD], check=True, capture_output=True, text=True
    ).stdout.strip()
    (root / "users").write_text(f"{USER}:{hashed}:{uid}:{gid}::{root}/mail/%u\n")
    port = _free_port()
    (root / "dovecot.conf").write_text(CONFIG.format(d=root, port=port))
    subprocess.run(["dovecot", "-c", str(root / "dovecot.conf")], check=True)
    deadline = time.monotonic() + 15
    while True:
        try:
            imaplib.IMAP4("127.0.0.1", port).logout()
            break
        except OSError:
            if time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                pytest.fail(f"Dovecot did not start on port {port}: {log[-2000:]}")
            time.sleep(0.1)
    yield SimpleNamespace(host="127.0.0.1", port=port, user=USER, password=PASSWORD, root=root)
    pid = (root / "run" / "master.pid").read_text().strip()
    subprocess.run(["kill", pid], check=False)
    shutil.rmtree(root, ignore_errors=True)


class Intake:
    """The intake mailbox on the test Dovecot: emptied for each test."""

    def __init__(self, server) -> None:
        self.server = server

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.server.host, self.server.port)
        client.login(self.server.user, self.server.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self._client()
        try:
            typ, data = client.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def empty(self) -> None:
        client = self._client()
        try:
            client.select("INBOX")
            typ, data = client.search(None, "ALL")
            if data and data[0]:
                client.store("1:*", "+FLAGS", "\\Deleted")
                client.expunge()
        finally:
            client.logout()

    def seen_flags(self) -> list[bool]:
        client = self._client()
        try:
            client.select("INBOX", readonly=True)
            typ, data = client.fetch("1:*", "(FLAGS)")
            return [b"\\Seen" in item for item in data if item]
        finally:
            client.logout()

    def mailbox(self, **fields):
        from inbound.models import Mailbox

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
) -> bytes:
    import datetime as dt

    message = EmailMessage()
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
