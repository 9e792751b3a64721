"""What a marketplace connector is: a pull client, a webhook verifier, and a normalizer.

A connector is stateless apart from the HTTP client it is given; the sync engine owns windows,
cursors and commits, and the webhook ingress owns storage. Everything a marketplace documents
(windows, lag, history depth, signature scheme, payload format) lives in its connector module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from daiyun.connectors.errors import MalformedPayload
from daiyun.connectors.http import ShopHttp
from daiyun.platform.orders.normalized import NormalizedOrder


@dataclass(frozen=True)
class ShopAccess:
    """What a connector needs to reach one shop: decrypted credentials stay in memory only."""

    external_id: str
    credentials: Mapping[str, Any]
    api_base_url: str | None = None


@dataclass
class FetchedPage:
    orders: list[NormalizedOrder]
    # Opaque token for the next page of the same window; None when the window is exhausted.
    next_token: str | None = None


@dataclass
class WebhookMessage:
    """A verified push, parsed: what it is about and the key that makes a repeat a no-op."""

    kind: Literal["order", "ignored"]
    topic: str
    # Unique per shop for one event; a repeat of it is a duplicate delivery.
    dedupe_key: str
    order: NormalizedOrder | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Connector(ABC):
    channel: ClassVar[str]
    # Credential fields a shop must provide when it connects, and the one signing webhooks.
    credential_fields: ClassVar[tuple[str, ...]]
    webhook_secret_field: ClassVar[str | None] = None
    # Incremental pull: widest window per request, safety lag behind "now", overlap re-read
    # at each window start, and how far back the marketplace lets anyone read.
    max_window: ClassVar[timedelta]
    lag: ClassVar[timedelta]
    overlap: ClassVar[timedelta]
    history: ClassVar[timedelta]

    def __init__(self, shop: ShopAccess, http: ShopHttp) -> None:
        self.shop = shop
        self.http = http

    @abstractmethod
    def fetch_page(
        self, start: datetime, end: datetime, token: str | None
    ) -> FetchedPage:
        """One page of orders modified in ``[start, end)``; ``token`` from the previous page."""

    @classmethod
    def verify_webhook(
        cls, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, Any]
    ) -> bool:
        """Whether the raw body carries a valid signature (constant-time comparison)."""
        return False

    @classmethod
    def parse_webhook(cls, headers: Mapping[str, str], body: bytes) -> WebhookMessage:
        """Parse a verified push; raises :class:`MalformedPayload` on a body of the wrong shape."""
        raise MalformedPayload(f"{cls.channel} does not push over HTTP")

    @staticmethod
    @abstractmethod
    def normalize(raw: dict[str, Any]) -> NormalizedOrder:
        """The channel's order document as a canonical order (raises MalformedPayload)."""
