"""Where a webhook may be sent: public http(s) addresses only, unless told otherwise.

An endpoint's host is checked when it is registered and again, resolved, before every
delivery (a name may point elsewhere later). Loopback, private, link-local, multicast and
reserved addresses are refused unless ROUNDTABLE_WEBHOOK_ALLOW_PRIVATE=true. What remains
is the short window between this resolution and the HTTP client's own (DNS rebinding
within a TTL); pinning the address would need a custom transport with SNI.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_CHARS = 2000


class TargetRefused(Exception):
    """The URL is not one Roundtable will send to; the message says why."""


def check_url_shape(url: str) -> str:
    parts = urlsplit(url.strip())
    if len(url) > MAX_URL_CHARS:
        raise TargetRefused(f"at most {MAX_URL_CHARS} characters")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TargetRefused("give an absolute http(s) URL such as https://example.com/hooks")
    if parts.username or parts.password:
        raise TargetRefused("credentials in the URL are not accepted; verify the signature")
    return url.strip()


def forbidden_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL whose host is, or resolves to, a non-public address."""
    host = urlsplit(url).hostname or ""
    if allow_private:
        return
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise TargetRefused(f"{host} is a loopback name") from None
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise TargetRefused(f"{host} does not resolve: {exc}") from None
        addresses = sorted({str(info[4][0]) for info in infos})
    for address in addresses:
        if forbidden_address(address):
            raise TargetRefused(
                f"{host} is a loopback, private or reserved address ({address}); set "
                "ROUNDTABLE_WEBHOOK_ALLOW_PRIVATE=true to allow it in development"
            )
