"""Run a Dovecot IMAP server of our own on a free high port in a temporary folder (TESTING.md's recipe).

Used by the email channel's tests (tests/inbound/conftest.py) and by bench/mail_bench.py. Debian's package
(`dovecot-imapd`) is installed with apt-get when absent and we are root; its own service is never started.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER = "intake@desk.test"
PASSWORD = "intake-pass"

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


class DovecotUnavailable(RuntimeError):
    pass


@dataclass
class Server:
    host: str
    port: int
    user: str
    password: str
    root: Path

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port)
        client.login(self.user, self.password)
        return client


def install() -> None:
    if shutil.which("dovecot"):
        return
    if os.geteuid() != 0:
        raise DovecotUnavailable("Dovecot (dovecot-imapd) is not installed and only root may install it.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "dovecot-imapd"], check=True, env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running() -> Iterator[Server]:
    """A started Dovecot with one mailbox user; stopped and its folder removed on exit."""
    install()
    root = Path(tempfile.mkdtemp(prefix="exitdesk-dovecot-"))
    (root / "mail").mkdir()
    (root / "run").mkdir()
    os.chmod(root, 0o755)
    os.chmod(root / "run", 0o755)
    if os.geteuid() == 0:
        # imap-login refuses to run as root: the mail belongs to the package's own system user.
        shutil.chown(root / "mail", "dovecot", "dovecot")
    stat = os.stat(root / "mail")
    hashed = subprocess.run(
        ["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PASSWORD], check=True, capture_output=True, text=True
    ).stdout.strip()
    (root / "users").write_text(f"{USER}:{hashed}:{stat.st_uid}:{stat.st_gid}::{root}/mail/%u\n")
    port = _free_port()
    (root / "dovecot.conf").write_text(CONFIG.format(d=root, port=port))
    subprocess.run(["dovecot", "-c", str(root / "dovecot.conf")], check=True)
    server = Server("127.0.0.1", port, USER, PASSWORD, root)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                imaplib.IMAP4(server.host, port).logout()
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                    raise DovecotUnavailable(f"Dovecot did not start on port {port}: {log[-2000:]}") from exc
                time.sleep(0.1)
        yield server
    finally:
        pid_file = root / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 15)
            for _ in range(50):  # wait for the master to go, so the folder can be removed
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


def empty(server: Server, folder: str = "INBOX") -> None:
    client = server.client()
    try:
        client.select(folder)
        _, data = client.search(None, "ALL")
        if data and data[0]:
            client.store("1:*", "+FLAGS", "\\Deleted")
            client.expunge()
    finally:
        client.logout()
