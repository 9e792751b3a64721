"""The client's address, as far as it can be believed.

``X-Forwarded-For`` is written by whoever sends the request, so it only counts when the peer is
one of the reverse proxies named in ``DAIYUN_TRUSTED_PROXIES``; otherwise a client could pick a
new address for every guess and never meet the per-address sign-in limit. The same list is
handed to uvicorn as ``forwarded_allow_ips`` (``daiyun api``), which then already reports the
client as the peer; walking the header again here is harmless because the walk stops at the
first address that is not a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import HTTPConnection

from daiyun.core.config import get_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """Comma-separated addresses or networks; raises ``ValueError`` naming a bad entry."""
    networks: list[Network] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"DAIYUN_TRUSTED_PROXIES: {item!r} is not an IP address or network"
            ) from exc
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted(value: str) -> tuple[Network, ...]:
    try:
        return parse_trusted_proxies(value)
    except ValueError:
        # `daiyun api` refuses to start on a bad list; anywhere else, trust nobody.
        return ()


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:443"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in networks)


def client_address(request: HTTPConnection) -> str:
    """The address that sent the request: the peer, unless the peer is a trusted proxy, in
    which case the nearest address in ``X-Forwarded-For`` that is not one (read right to
    left: each proxy appends the address it was called from)."""
    peer = request.client.host if request.client else UNKNOWN
    networks = _trusted(get_settings().trusted_proxies)
    if not networks or not _is_trusted(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    client = peer
    for hop in reversed([h for h in hops if h]):
        ip = _ip(hop)
        if ip is None:
            break  # garbage from before the trusted chain: the last good hop is the client
        client = str(ip)
        if not _is_trusted(client, networks):
            break
    return client
