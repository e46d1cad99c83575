"""Portal fixtures: signed-in clients, a private MEDIA_ROOT, and Debian's Chromium for pytest-playwright."""

import os
from pathlib import Path

import pytest

from tests.conftest import reload_data_migrations
from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in the test thread; the live server's ORM calls are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A phone-sized window: the portal must be usable there.
    return {**browser_context_args, "viewport": {"width": 420, "height": 900}}


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """The portal's emails and the retention-0 purge run in-process even where CI configures a broker:
    what a customer sees next must not depend on a worker, and no task is left on the shared test queue."""


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def presets(transactional_db) -> None:
    """Browser tests run on tables an earlier transactional test may have flushed: put the data migrations'
    rows back (the presets and the staff groups; both migrations are idempotent)."""
    reload_data_migrations()


@pytest.fixture
def shoot():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def screenshot(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return screenshot


@pytest.fixture
def browser_login(live_server):
    def login(page, user) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

    return login
