"""The probes and the metrics endpoint, answered by one middleware at the top of the stack (config/settings.py).

Answered before anything else runs: /healthz touches nothing (no host check, session, user or database), and a probe
or a scrape that reaches gunicorn directly by its address (no public Host header, plain http) is answered as it is,
never redirected to https nor refused as a bad host; nor is it counted among the site's requests.

- /healthz: 200 while the process serves.
- /readyz: each check of tickets.ops.checks, 200 when all pass, else 503 naming the failing ones; only to
  HEALTH_ALLOWED_NETWORKS (the client address as config.security.client_ip reads it) or with
  `Authorization: Bearer <HEALTH_TOKEN>`, else 404.
- /metrics: Prometheus text with `Authorization: Bearer <METRICS_TOKEN>`, else 404 (always 404 when it is unset).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.utils.cache import add_never_cache_headers
from prometheus_client import CONTENT_TYPE_LATEST

from config.security import client_ip

logger = logging.getLogger(__name__)

NOT_FOUND = "Not found."


def _bearer(request: HttpRequest, token: str) -> bool:
    if not token:
        return False
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _allowed_network(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in settings.HEALTH_ALLOWED_NETWORKS)


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


def readyz(request: HttpRequest) -> HttpResponse:
    if not (_allowed_network(request) or _bearer(request, settings.HEALTH_TOKEN)):
        raise Http404
    # Loaded on the first /readyz: /healthz, answered here too, touches nothing.
    from .checks import readiness

    results = readiness()
    failing = [name for name, result in results.items() if not result.ok]
    body = {
        "status": "ok" if not failing else f"failing: {', '.join(failing)}",
        "checks": {name: {"ok": result.ok, "detail": result.detail} for name, result in results.items()},
    }
    return JsonResponse(body, status=503 if failing else 200)


def metrics(request: HttpRequest) -> HttpResponse:
    if not _bearer(request, settings.METRICS_TOKEN):
        raise Http404
    # Loaded on the first scrape, not with the middleware that answers /healthz.
    from .metrics import exposition

    try:
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    except DatabaseError:
        logger.exception("The desk's metrics could not be read")
        return HttpResponse("The database did not answer.\n", status=503, content_type="text/plain; charset=utf-8")


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


class ProbesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info.rstrip("/") or "/")
        if probe is None:
            return self.get_response(request)
        if request.method not in {"GET", "HEAD"}:
            response = HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        else:
            try:
                response = probe(request)
            except Http404:
                response = HttpResponseNotFound(NOT_FOUND, content_type="text/plain; charset=utf-8")
        add_never_cache_headers(response)
        return response
