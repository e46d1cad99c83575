"""Never a way in (issue 26): where a webhook may be sent, decided at creation and again at every delivery.

Only `https://` URLs, and `http://` to hosts the operator lists (WEBHOOK_ALLOWED_HOSTS). The host is resolved (with
a short timeout, so a name that does not resolve cannot hold a request or a worker) and every address it resolves
to must be a public one: private, loopback, link-local (the cloud metadata service at 169.254.169.254), unspecified,
multicast and reserved ranges, and their IPv6 equivalents (IPv4-mapped ones included), are refused unless a network
in WEBHOOK_ALLOW_NETWORKS holds the address. The delivery then connects to the address checked here (transport.py),
so a second, different DNS answer cannot slip in between the check and the connection.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from accounts.exceptions import Code, Refusal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# getaddrinfo has no timeout of its own: it runs in one of these threads and is abandoned past WEBHOOK_DNS_TIMEOUT.
_resolvers = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


@dataclasses.dataclass(frozen=True)
class Target:
    """A URL cleared for delivery: where to connect (`address`) and what to call the host (Host header, SNI)."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _refuse(detail: str) -> Refusal:
    return Refusal(Code.URL_NOT_ALLOWED, detail, field="url")


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.WEBHOOK_ALLOW_NETWORKS]


def address_allowed(address: IPAddress) -> bool:
    """A public address, or one inside a network the operator allows."""
    if any(address in network for network in _allowed_networks()):
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_allowed(address.ipv4_mapped)
    closed = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global  # shared address space (100.64/10) and the other special ranges
    )
    return not closed


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, or a refusal when it does not resolve within WEBHOOK_DNS_TIMEOUT."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    future = _resolvers.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        answers = future.result(timeout=settings.WEBHOOK_DNS_TIMEOUT)
    except concurrent.futures.TimeoutError:
        raise _refuse(f"The host {host} did not resolve within {settings.WEBHOOK_DNS_TIMEOUT} s.") from None
    except (OSError, UnicodeError) as exc:
        raise _refuse(f"The host {host} does not resolve.") from exc
    addresses = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _refuse(f"The host {host} does not resolve.")
    return addresses


def check_url(url: str) -> Target:
    """The URL's target if a webhook may go there now; else a Refusal `url_not_allowed` saying why."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse("This is not a URL a webhook can be sent to.") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise _refuse("Webhook URLs start with https:// and name a host.")
    if parts.username or parts.password:
        raise _refuse("A webhook URL carries no user name or password; events are signed instead.")
    if parts.scheme == "http" and host not in settings.WEBHOOK_ALLOWED_HOSTS:
        raise _refuse("Webhook URLs must use https:// (http:// only to the hosts the operator allows).")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    refused = [str(address) for address in addresses if not address_allowed(address)]
    if refused:
        raise _refuse(
            f"The host {host} resolves to {', '.join(refused)}: private, loopback, link-local, metadata and other "
            "non-public addresses are not sent webhooks."
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))
