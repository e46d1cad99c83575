"""Web-facing protections that belong to no app: the Content-Security-Policy header, rate limits on the sign-in
and password-reset forms, and how django-axes names the person behind a failed sign-in.

The API has its own DRF throttles (tickets/api/common.py); django-axes locks a name and address out after
repeated failed sign-ins (settings AXES_*). Counters live in the default cache: share it between web
processes in production (CACHE_URL=redis://...), or each process counts alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Inline style attributes (admin transition panel, chart legends) cannot run code; scripts stay 'self'.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_PERIODS |= {"d": 86400, "day": 86400}
RATE_PATTERN = re.compile(r"^(\d+)/(" + "|".join(_PERIODS) + r")$")


def parse_rate(rate: str) -> tuple[int, int]:
    """`"20/minute"` → (20, 60): how many requests in how many seconds."""
    match = RATE_PATTERN.match(rate)
    if not match:
        raise ValueError(f"A rate looks like 20/minute, not {rate!r}.")
    return int(match.group(1)), _PERIODS[match.group(2)]


def axes_username(request: HttpRequest, credentials: dict | None) -> str:
    """The sign-in form posts `username` (the email); the API's token view authenticates with `email`."""
    credentials = credentials or {}
    name = credentials.get("email") or credentials.get("username")
    if not name and request is not None:
        name = request.POST.get("username") or request.POST.get("email")
    return (name or "").strip().lower()


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the outermost of them
    saw, counted from the right of X-Forwarded-For (what a client writes there itself is further left). The
    same rule as DRF's throttles (NUM_PROXIES)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded:
        return remote
    addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
    return addresses[-min(proxies, len(addresses))] if addresses else remote


class ContentSecurityPolicyMiddleware:
    """Every response gets a same-origin Content-Security-Policy unless a view set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class FormRateLimitMiddleware:
    """Fixed-window limits on POSTs to the sign-in and password-reset views, per client address and per
    submitted email, so neither one address nor one target can be hammered. Over the limit: 429.

    settings.FORM_RATE_LIMITS maps a URL name (`login`, `admin:login`, `password_reset`) to a rate.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if request.method != "POST" or not getattr(settings, "FORM_RATE_LIMITS_ENABLED", True):
            return None
        match = request.resolver_match
        rate = settings.FORM_RATE_LIMITS.get(match.view_name) if match else None
        if rate is None:
            return None
        limit, period = parse_rate(rate)
        identity = (request.POST.get("username") or request.POST.get("email") or "").strip().lower()
        keys = [f"formlimit:{match.view_name}:ip:{client_ip(request)}"]
        if identity:
            keys.append(f"formlimit:{match.view_name}:id:{identity}")
        if any(self._count(key, period) > limit for key in keys):
            response = HttpResponse(
                "Too many attempts. Wait a while and try again.", status=429, content_type="text/plain; charset=utf-8"
            )
            response.headers["Retry-After"] = str(period)
            return response
        return None

    @staticmethod
    def _count(key: str, period: int) -> int:
        # add() only sets a missing key, so the first request of a window fixes the window's expiry.
        if cache.add(key, 1, timeout=period):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=period)
            return 1
