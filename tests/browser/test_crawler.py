"""Every page every demo role can reach, in a real Chromium at 1,280×800 and at 390×844 (issue 17).

The demo (`manage.py demo`) is loaded once; then, for each demo login (every customer role of every preset, the
agent, the manager), the crawler signs in through the login form and follows same-site links breadth-first from
the first page it lands on. URLs are deduplicated by pattern (a path segment holding a digit is an id; query
values are ignored, and a path gets one query variant, after every plain path), logout and anything non-GET is never
touched, and each role stops at a cap. Every page must answer 200 (or the status listed in EXPECTED_STATUS),
log no console error and raise no script error, and be no wider than the window at either width. A few intended
error pages (ERROR_PAGES: a stale address) are visited directly and held to the same layout rules.

Screenshots (JPEG, full page, both widths) go to test-artifacts/crawler/<preset or staff role>/ for review: one
per page pattern per preset, named after the role that saw it first. One browser, one context per role; the
window is resized in place, so each page is loaded once. The run prints where its time went.
"""

import io
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urldefrag, urlsplit

import pytest

from accounts.models import Membership, User
from tickets.models import Comment, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "crawler"
PASSWORD = "demo-pass-2026"  # tickets/management/commands/demo.py DEMO_PASSWORD
WIDE, NARROW = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
STAFF_LOGINS = ["agent@exitdesk.demo", "manager@exitdesk.demo"]
# The demo's former member (tickets/demo.py FORMER_LOGINS): the sign-in leads to the former-member page alone.
FORMER_LOGINS = ["owner@former.demo"]
PAGES_PER_ROLE = {"customer": 40, "staff": 90, "former": 10}
QUERY_VARIANTS_PER_PATH = 1  # a query (a filter, a sort, a tab) is followed after every plain path
# Where each audience starts besides the page the login lands on: the manager queues are a staff page of their own.
SEEDS = {"customer": ["/"], "staff": ["/admin/", "/queues/"], "former": []}
# Never followed: signing out ends the walk; the rest only answer POST or are not pages.
SKIP = re.compile(r"logout|/jsi18n/|\.csv$|/api/|/static/|/media/")
# Linked pages whose non-200 answer is intended: {path pattern regex: status}. None today; keep the list honest.
EXPECTED_STATUS: dict[str, int] = {}
# Intended error pages, visited directly after the walk: they must fit the window and log nothing else either.
ERROR_PAGES = {
    "customer": [("/tickets/999999999/", 404), ("/a/AC-NOTMINE/", 404)],
    "staff": [("/tickets/999999999/", 404), ("/admin/tickets/ticket/999999999/change/", 200)],
    "former": [],  # a former member is nobody to the rest of the site: every other page sends them to sign in
}
LONG_WORD = "x" * 10_000  # issue 17: a comment like this made the case page 57,231 px wide


@dataclass
class Finding:
    role: str
    url: str
    problems: list[str] = field(default_factory=list)


def _pattern(url: str) -> tuple[str, frozenset[str]]:
    parts = urlsplit(url)
    path = "/".join("<id>" if re.search(r"\d", segment) else segment for segment in parts.path.split("/"))
    return path, frozenset(key for key, _ in parse_qsl(parts.query, keep_blank_values=True))


def _logins() -> list[tuple[str, str]]:
    """(label, email) for every demo login: each customer role of each preset, the agent and the manager, then the
    former member."""
    rows = []
    memberships = (
        Membership.objects.filter(user__email__endswith=".demo", user__is_active=True, account__status="active")
        .select_related("user", "account__plan__policy")
        .order_by("account__plan__policy__preset", "role")
    )
    for membership in memberships:
        rows.append((f"{membership.account.plan.policy.preset}-{membership.role}", membership.user.email))
    rows += [(email.split("@")[0], email) for email in STAFF_LOGINS]
    rows += [("former-member", email) for email in FORMER_LOGINS]
    return rows


def _add_a_long_word() -> None:
    """One case per demo account carries a comment of one 10,000-character word (inbound email can do that)."""
    for ticket in Ticket.objects.filter(account__name__contains=" Demo ").order_by("account", "pk").distinct():
        if not Comment.objects.filter(ticket__account=ticket.account, body=LONG_WORD).exists():
            Comment.objects.create(ticket=ticket, author=ticket.requester, body=LONG_WORD, public=True)


def _overflow(page) -> int:
    """How many CSS pixels the document is wider than the window (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


# The element reaching furthest right (the deepest of equals): what to fix when a page is too wide.
WIDEST = """() => {
  let worst = null, right = window.innerWidth;
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right >= right) { right = r.right; worst = el; }
  }
  if (!worst) return "";
  const classes = [...worst.classList].map(c => "." + c).join("");
  const text = (worst.innerText || "").trim().replace(/\\s+/g, " ").slice(0, 40);
  return `${worst.tagName.toLowerCase()}${worst.id ? "#" + worst.id : ""}${classes} "${text}"`;
}"""


class Walker:
    """One role's signed-in browser context, checking and photographing pages."""

    def __init__(self, browser, base: str, role: str, clock: dict, shot: set) -> None:
        self.base, self.role, self.clock, self.shot = base, role, clock, shot
        self.group = role.split("-")[0]  # the preset for customers, the role for staff
        self.folder = ARTIFACTS / self.group
        self.folder.mkdir(parents=True, exist_ok=True)
        self.context = browser.new_context(viewport=WIDE)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))

    def sign_in(self, email: str) -> bool:
        page = self.page
        page.goto(f"{self.base}/accounts/login/")
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        return not page.url.rstrip("/").endswith("/accounts/login")

    def check(self, url: str, expected: int = 200) -> tuple[Finding, bool]:
        """Load one page, check status, console and width at both sizes; (finding, is it an HTML page)."""
        page, finding = self.page, Finding(self.role, url)
        path = _pattern(url)[0]
        self.errors.clear()
        tick = time.monotonic()
        try:
            response = page.goto(url, wait_until="load")
        except Exception as exc:  # a download (an attachment) is not a page: check its status alone
            if "Download is starting" not in str(exc):
                raise
            if (status := self.context.request.get(url).status) != expected:
                finding.problems.append(f"download answered {status}, expected {expected}")
            return finding, False
        self.clock["load"] += time.monotonic() - tick
        status = response.status if response else 0
        if status != expected:
            finding.problems.append(f"status {status}, expected {expected}")
        name = f"{re.sub(r'[^a-z0-9]+', '-', path.lower()).strip('-') or 'home'}-{self.role}"
        for size, label in ((WIDE, "1280"), (NARROW, "390")):
            page.set_viewport_size(size)
            if (too_wide := _overflow(page)) > 0:
                culprit = page.evaluate(WIDEST)
                finding.problems.append(f"{too_wide} px wider than the window at {label} px (widest: {culprit})")
            if (self.group, path, expected) not in self.shot:  # one picture per page pattern per preset/staff role
                tick = time.monotonic()
                shot = self.folder / f"{name}-{label}.jpeg"
                page.screenshot(path=str(shot), full_page=True, type="jpeg", quality=60)
                self.clock["screenshot"] += time.monotonic() - tick
        self.shot.add((self.group, path, expected))
        page.set_viewport_size(WIDE)
        # An intended error page logs its own status as a failed resource; anything else is a problem.
        intended = f"status of {expected}" if expected != 200 else None
        finding.problems += [f"console: {t}" for t in self.errors if not (intended and intended in t)]
        return finding, bool(response and "text/html" in (response.headers.get("content-type") or ""))

    def links(self) -> list[str]:
        hrefs = self.page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        return [
            href
            for href in (urldefrag(href).url for href in hrefs)
            if href.startswith(self.base) and not SKIP.search(urlsplit(href).path)
        ]


def _crawl(walker: Walker, email: str, audience: str) -> tuple[list[Finding], int]:
    """Breadth-first from where the login lands (and the audience's seeds): plain paths before queries."""
    if not walker.sign_in(email):
        return [Finding(walker.role, walker.page.url, [f"{email} could not sign in"])], 0
    base, findings = walker.base, []
    if audience == "former" and urlsplit(walker.page.url).path != "/accounts/former/":
        landed = "a former member's sign-in must land on /accounts/former/"
        findings.append(Finding(walker.role, walker.page.url, [landed]))
    seen: set[tuple[str, frozenset[str]]] = set()
    variants: dict[str, int] = {}
    plain: deque[str] = deque([walker.page.url] + [base + seed for seed in SEEDS[audience]])
    queried: deque[str] = deque()
    visited, cap = 0, PAGES_PER_ROLE[audience]
    while (plain or queried) and visited < cap:
        url = (plain or queried).popleft()
        path, keys = _pattern(url)
        if (path, keys) in seen or (keys and variants.get(path, 0) >= QUERY_VARIANTS_PER_PATH):
            continue
        seen.add((path, keys))
        if keys:
            variants[path] = variants.get(path, 0) + 1
        visited += 1
        expected = next((status for rule, status in EXPECTED_STATUS.items() if re.search(rule, path)), 200)
        finding, is_page = walker.check(url, expected)
        findings.append(finding)
        if is_page:
            for href in walker.links():
                if _pattern(href) not in seen:
                    (queried if urlsplit(href).query else plain).append(href)
    for url, status in ERROR_PAGES[audience]:  # the error pages a mistyped or stale address leads to
        findings.append(walker.check(base + url, status)[0])
    walker.context.close()
    return findings, visited


def test_every_demo_role_every_reachable_page_fits_and_answers(presets, live_server, browser):
    # rule S4 A5 U1: no role is offered a link it may not follow (a followed 403 fails the walk);
    # SPEC §6 "usable on a phone" and issue 17: no page wider than the window at 1,280 px or at 390 px;
    # SPEC §4 "Account lifecycle": the former member's sign-in lands on the former-member page, which fits too
    from django.core.management import call_command

    call_command("demo", stdout=io.StringIO(), stderr=io.StringIO())
    _add_a_long_word()
    logins = _logins()
    assert len(logins) == 5 * 4 + 2 + 1, logins  # every role of every preset, the agent, the manager, the former member
    if os.environ.get("CRAWLER_ROLES"):  # while working on pages: CRAWLER_ROLES=agent,smrtphone-owner
        logins = [(role, email) for role, email in logins if role in os.environ["CRAWLER_ROLES"].split(",")]
    assert User.objects.filter(email__in=STAFF_LOGINS, is_staff=True).count() == 2

    icon = browser.new_context().request.get(f"{live_server.url}/favicon.ico")
    assert (icon.status, icon.headers["content-type"]) == (200, "image/svg+xml")

    started, problems, total, clock = time.monotonic(), [], 0, {"load": 0.0, "screenshot": 0.0}
    shot: set[tuple[str, str, int]] = set()
    for role, email in logins:
        audience = "staff" if email in STAFF_LOGINS else "former" if email in FORMER_LOGINS else "customer"
        walker = Walker(browser, live_server.url, role, clock, shot)
        findings, visited = _crawl(walker, email, audience)
        total += visited
        assert visited >= 3 or any(f.problems for f in findings), f"{role} reached only {visited} pages"
        problems += [f"{f.role} {f.url.removeprefix(live_server.url)}: {p}" for f in findings for p in f.problems]
    spent = ", ".join(f"{what} {seconds:.0f} s" for what, seconds in clock.items())
    print(f"crawled {total} pages for {len(logins)} roles in {time.monotonic() - started:.0f} s ({spent})")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
