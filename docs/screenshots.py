"""Retake the README's screenshots (docs/*.png) from a fresh demo, in Debian's Chromium at 1,280 px and 390 px.

    .venv/bin/python docs/screenshots.py            # about a minute; writes docs/screenshot-*.png

It migrates a throwaway SQLite database, loads `manage.py demo`, serves it with `runserver` on a free port (staff
two-factor off, as in the test suite), signs in as the demo people and photographs the window (not the whole
page, so each PNG stays well under 200 KB). Nothing outside docs/ and the temporary folder is touched.
"""

import os
import socket
import subprocess  # runs this project's own manage.py
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PASSWORD = "demo-pass-2026"
WIDE, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(folder: str) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{folder}/demo.sqlite3",
        "STAFF_OTP_REQUIRED": "false",
        "AXES_ENABLED": "false",
        "FORM_RATE_LIMITS_ENABLED": "false",
        "EMAIL_URL": "memorymail://",
    }
    for name in ("CELERY_BROKER_URL", "REDIS_URL"):
        env.pop(name, None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)  # noqa: S603 (our own manage.py)
    subprocess.run([*manage, "demo", "-v0"], env=env, check=True)  # noqa: S603 (our own manage.py)
    port = _free_port()
    server = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], env=env)  # noqa: S603 (our own manage.py)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/accounts/login/", timeout=1)  # noqa: S310 (our own local server)
            return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("runserver did not start")


def _sign_in(browser, base: str, email: str, viewport: dict):
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def _shoot(page, name: str) -> None:
    path = DOCS / f"screenshot-{name}.png"
    page.screenshot(path=str(path))
    print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        server, base = _serve(folder)
        try:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            owner = _sign_in(browser, base, "owner@kixie.demo", WIDE)
            owner.get_by_role("link", name="Kixie Demo Dialers").first.click() if "/a/" not in owner.url else None
            _shoot(owner, "portal-dashboard")

            customer = _sign_in(browser, base, "owner@kustomer.demo", WIDE)
            customer.get_by_role("link", name="Cancel this account").click()
            customer.get_by_role("button", name="Start").click()
            customer.get_by_role("radio").first.check()
            customer.get_by_role("button", name="Continue").click()
            customer.get_by_role("button", name="No thanks, continue cancelling").click()
            _shoot(customer, "cancellation-preview")

            manager = _sign_in(browser, base, "manager@exitdesk.demo", WIDE)
            # A fresh demo's first ticket: Kixie's cancellation taken by phone, waiting for the card check (K6, K7).
            manager.goto(f"{base}/admin/tickets/ticket/1/change/")
            _shoot(manager, "admin-ticket")
            manager.goto(f"{base}/queues/list/")
            _shoot(manager, "queue")

            phone = _sign_in(browser, base, "owner@smrtphone.demo", PHONE)
            phone.locator("main a[href^='/tickets/']").first.click()
            _shoot(phone, "phone-case")
            browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
