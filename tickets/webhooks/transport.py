"""One POST to a cleared Target (addresses.py), connecting to the address that was checked while keeping the URL's
host for the Host header and TLS (SNI and the certificate's name): no second DNS lookup, so no rebinding window.
Redirects are not followed; the answer is read up to its first 2 kB."""

from __future__ import annotations

import dataclasses
import threading
import time

import urllib3
from django.conf import settings

from .addresses import Target

ANSWER_BYTES = 2048
_pools: dict[tuple, urllib3.HTTPConnectionPool] = {}
_pools_lock = threading.Lock()
MAX_POOLS = 64


@dataclasses.dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str
    body: str
    duration_ms: int
    retry_after: float | None = None


def _pool(target: Target, timeout: float) -> urllib3.HTTPConnectionPool:
    key = (target.scheme, target.address, target.port, target.host, timeout, settings.WEBHOOK_CA_BUNDLE)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            if len(_pools) >= MAX_POOLS:
                for old in _pools.values():
                    old.close()
                _pools.clear()
            options = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 4, "block": False}
            if target.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    target.address,
                    target.port,
                    server_hostname=target.host,
                    assert_hostname=target.host,
                    cert_reqs="CERT_REQUIRED",
                    ca_certs=settings.WEBHOOK_CA_BUNDLE,
                    **options,
                )
            else:
                pool = urllib3.HTTPConnectionPool(target.address, target.port, **options)
            _pools[key] = pool
    return pool


def _retry_after(response: urllib3.BaseHTTPResponse) -> float | None:
    value = (response.headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return float(value)
    if value:
        from email.utils import parsedate_to_datetime  # only for the rare HTTP-date Retry-After

        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return None
    return None


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` and report what came back; a network error or a timeout is an Answer with `error`."""
    started = time.monotonic()
    headers = {**headers, "Host": target.host_header}
    try:
        response = _pool(target, timeout).urlopen(
            "POST", target.path, body=body, headers=headers, redirect=False, retries=False, preload_content=False
        )
        try:
            answer = response.read(ANSWER_BYTES).decode("utf-8", errors="replace")
        finally:
            response.drain_conn()
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        error = f"{type(exc).__name__}: {reason}"[:300]
        return Answer(None, error, "", int((time.monotonic() - started) * 1000))
    return Answer(
        response.status,
        "",
        answer,
        int((time.monotonic() - started) * 1000),
        _retry_after(response),
    )
