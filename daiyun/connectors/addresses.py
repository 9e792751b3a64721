"""What a webhook address resolves to, kept in memory per process.

The ingress (:mod:`daiyun.connectors.webhooks`) reads an address once and trusts it for
:data:`CACHE_SECONDS`; the shop service drops a shop's entry the moment its address, secret or
status changes in this process (:func:`forget_shop`). It lives apart from both so that neither
imports the other for it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# How long this process trusts what it read about a webhook address (seconds): a shop
# disconnected, paused or given a new secret by another process is seen within this time.
CACHE_SECONDS = 10.0
# Entries beyond this many are pruned (expired first), so the cache cannot grow without bound.
CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class Endpoint:
    """What a webhook address resolves to, as read from the database at ``loaded_at``."""

    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    channel: str
    # Only the fields the channel's signature check reads (decrypted), read-only.
    signing: Mapping[str, Any]
    loaded_at: float


class EndpointCache:
    """Webhook key -> (tenant, shop) and (tenant, shop) -> :class:`Endpoint`, each entry
    trusted for ``ttl`` seconds. Dropping a shop's entry cuts every key that leads to it."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._routes: dict[str, tuple[uuid.UUID, uuid.UUID, float]] = {}
        self._endpoints: dict[tuple[uuid.UUID, uuid.UUID], tuple[Endpoint, float]] = {}

    def get(self, key: str) -> Endpoint | None:
        now = self.clock()
        route = self._routes.get(key)
        if route is None or route[2] <= now:
            return None
        cached = self._endpoints.get((route[0], route[1]))
        if cached is None or cached[1] <= now:
            return None
        return cached[0]

    def put(self, key: str, endpoint: Endpoint) -> None:
        if len(self._endpoints) >= CACHE_LIMIT or len(self._routes) >= CACHE_LIMIT:
            self._prune()
        expires = endpoint.loaded_at + self.ttl
        self._endpoints[(endpoint.tenant_id, endpoint.shop_id)] = (endpoint, expires)
        self._routes[key] = (endpoint.tenant_id, endpoint.shop_id, expires)

    def forget(self, tenant_id: uuid.UUID, shop_id: uuid.UUID) -> None:
        self._endpoints.pop((tenant_id, shop_id), None)

    def clear(self) -> None:
        self._routes.clear()
        self._endpoints.clear()

    def _prune(self) -> None:
        now = self.clock()
        self._routes = {k: v for k, v in self._routes.items() if v[2] > now}
        self._endpoints = {k: v for k, v in self._endpoints.items() if v[1] > now}
        if len(self._endpoints) >= CACHE_LIMIT or len(self._routes) >= CACHE_LIMIT:
            self.clear()


endpoints = EndpointCache(CACHE_SECONDS)


def forget_shop(tenant_id: uuid.UUID, shop_id: uuid.UUID) -> None:
    """Stop trusting what this process remembers about a shop's webhook address (it changed)."""
    endpoints.forget(tenant_id, shop_id)
