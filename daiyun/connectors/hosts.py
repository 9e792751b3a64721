"""Where a shop's connector may send requests, and so its credentials (SECURITY.md 27).

A shop talks only to its marketplace: the hosts its connector declares official
(``Connector.official_hosts``, ``*.`` matching any subdomain), over HTTPS or WSS; for a channel
that lives on the merchant's own site (WooCommerce), the host of the site named when the shop was
connected, over HTTPS and only if it resolves to public addresses; and the hosts of the
deployment's ``DAIYUN_MARKETPLACE_HOSTS`` allowlist (the sandboxes of the demo and the tests), over
any scheme. Whoever may edit a shop therefore cannot point its stored token at a host of their
choosing, nor at an internal service.

The check runs when a shop is connected or changed (an answer naming the host) and again before
every request (:class:`HostPolicy` in :class:`~daiyun.connectors.http.ShopHttp` and in the push
consumers), so a row stored before the check existed, or changed behind the API's back, is never
used either.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import httpx

from daiyun.connectors.errors import HostNotAllowed
from daiyun.core.config import get_settings

SECURE_SCHEMES = frozenset({"https", "wss"})
SCHEMES = frozenset({"http", "https", "ws", "wss"})
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
# Names that never denote a merchant's public site: this machine and private networks.
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet")


@lru_cache(maxsize=8)
def _parse_allowlist(raw: str) -> frozenset[tuple[str, int | None]]:
    """``"a.example, 127.0.0.1:8100, [::1]:9"`` as ``{(host, port or None for any)}``."""
    entries: set[tuple[str, int | None]] = set()
    for item in raw.split(","):
        entry = item.strip().lower()
        if not entry:
            continue
        host, port = entry, None
        if entry.startswith("["):  # [v6]:port
            host, _, rest = entry[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            name, _, digits = entry.partition(":")
            if digits.isdigit():
                host, port = name, int(digits)
        entries.add((host.rstrip("."), port))
    return frozenset(entries)


def allowlist() -> frozenset[tuple[str, int | None]]:
    """The deployment's extra hosts (read on every call: settings can change in tests)."""
    return _parse_allowlist(get_settings().marketplace_hosts)


def _allowlisted(host: str, port: int) -> bool:
    return any(h == host and p in (None, port) for h, p in allowlist())


def _matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def merchant_host(url: object) -> str | None:
    """The host of a merchant's own site if it may be called at all: HTTPS, a public-looking
    DNS name (no address literal, no single label, no private suffix); else None."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    host = parsed.host.lower().rstrip(".")
    if parsed.scheme != "https" or not host or "." not in host or _is_ip(host):
        return None
    if host == "localhost" or host.endswith(PRIVATE_SUFFIXES):
        return None
    return host


def _resolves_publicly(host: str, port: int) -> bool:
    """Whether every address the name resolves to is a public one (no loopback, private,
    link-local or metadata address behind a public-looking name)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_global for a in addresses
    )


@dataclass(frozen=True)
class HostPolicy:
    """The hosts one shop may call: its connector's official ones, the merchant's own site (if
    the channel has one) and the deployment's allowlist."""

    channel: str
    official: tuple[str, ...] = ()
    merchant: tuple[str, ...] = ()

    def refusal(self, url: str) -> str | None:
        """Why a request to ``url`` may not be sent, or None when it may."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            return f"{self.channel} may not call {url[:100]!r}: not a URL"
        scheme, host = parsed.scheme, parsed.host.lower().rstrip(".")
        if scheme not in SCHEMES or not host:
            return f"{self.channel} may not call {url[:100]!r}: not an http(s) URL"
        port = parsed.port or DEFAULT_PORTS[scheme]
        shown = f"{host}:{parsed.port}" if parsed.port else host
        if _allowlisted(host, port):
            return None
        official = any(_matches(p, host) for p in self.official)
        merchant = host in self.merchant
        if not (official or merchant):
            return (
                f"{self.channel} may not call {shown}: not one of its marketplace's hosts"
                " nor in DAIYUN_MARKETPLACE_HOSTS"
            )
        if scheme not in SECURE_SCHEMES:
            return f"{self.channel} may call {shown} only over HTTPS"
        if merchant and not official and not _resolves_publicly(host, port):
            return f"{self.channel} may not call {shown}: it does not resolve to public addresses"
        return None

    def check(self, url: str) -> None:
        """Raise :class:`HostNotAllowed` unless ``url`` may be called."""
        reason = self.refusal(url)
        if reason is not None:
            raise HostNotAllowed(reason)


def allowlist_only() -> HostPolicy:
    """The policy of a client no connector has claimed: the deployment's allowlist alone."""
    return HostPolicy("this client")


def first_refusal(policy: HostPolicy, urls: Iterable[str]) -> tuple[str, str] | None:
    """The first of ``urls`` the policy refuses, as ``(host, reason)``; None if all may go.
    Names are not resolved here (a shop is checked when saved, before DNS is asked)."""
    for url in urls:
        unresolved = HostPolicy(policy.channel, policy.official + policy.merchant)
        reason = unresolved.refusal(url)
        if reason is not None:
            try:
                host = httpx.URL(url).host or url[:100]
            except (httpx.InvalidURL, TypeError, ValueError):
                host = url[:100]
            return host, reason
    return None
