"""What a marketplace connector is: a pull client, a webhook verifier, and a normalizer.

A connector is stateless apart from the HTTP client it is given; the sync engine owns windows,
cursors and commits, and the webhook ingress owns storage. Everything a marketplace documents
(windows, lag, history depth, signature scheme, payload format) lives in its connector module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol

from daiyun.connectors.channels.outbound import (
    LISTINGS,
    MESSAGES,
    SHIPMENTS,
    BuyerMessage,
    CapabilityMissing,
    ListingPush,
    ListingResult,
    MessageReply,
    ShipmentPush,
    ShipmentRefused,
    ShipmentResult,
)
from daiyun.connectors.errors import MalformedPayload
from daiyun.connectors.hosts import HostPolicy
from daiyun.connectors.http import ShopHttp
from daiyun.core.money import MoneyError, to_minor
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

    # "order": the push carries the order; "hint": it names orders to fetch again (Douyin).
    kind: Literal["order", "hint", "ignored"]
    topic: str
    # Unique per shop for one event; a repeat of it is a duplicate delivery.
    dedupe_key: str
    order: NormalizedOrder | None = None
    order_ids: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


Hints = Callable[[list[str]], None]


class PushConsumer(Protocol):
    """A long-lived connection to a marketplace's push service for one shop: ``run`` hands the
    order ids each message names to ``on_hints`` and acknowledges the message only after it
    returned, until ``stop`` is set."""

    def run(self, on_hints: Hints, stop: threading.Event) -> None: ...


ConsumerFactory = Callable[[ShopAccess], PushConsumer]


class Connector(ABC):
    channel: ClassVar[str]
    # Credential fields a shop must provide when it connects, and the one signing webhooks.
    credential_fields: ClassVar[tuple[str, ...]]
    webhook_secret_field: ClassVar[str | None] = None
    # The body a marketplace expects when a push was taken (None: Daiyun's own acknowledgement).
    webhook_reply: ClassVar[dict[str, Any] | None] = None
    # Incremental pull: widest window per request, safety lag behind "now", overlap re-read
    # at each window start, and how far back the marketplace lets anyone read.
    max_window: ClassVar[timedelta]
    lag: ClassVar[timedelta]
    overlap: ClassVar[timedelta]
    history: ClassVar[timedelta]
    # The marketplace's own hosts (``*.`` for any subdomain): with the deployment's allowlist,
    # the only places this connector sends a shop's credentials (daiyun.connectors.hosts).
    official_hosts: ClassVar[tuple[str, ...]] = ()
    # Outbound capabilities this connector has (daiyun.connectors.channels.outbound), and how
    # many listings one call may carry (1: the marketplace has no batch endpoint).
    outbound: ClassVar[frozenset[str]] = frozenset()
    listing_batch_size: ClassVar[int] = 1
    # Daiyun's carrier code (sf, zto, yto, jd) -> the marketplace's name or code of the carrier.
    carrier_codes: ClassVar[dict[str, str]] = {}

    def __init__(self, shop: ShopAccess, http: ShopHttp) -> None:
        self.shop = shop
        self.http = http
        http.restrict(self.host_policy(shop))
        # Set when a call refreshed the shop's tokens: the caller stores them (encrypted).
        self.refreshed_credentials: dict[str, Any] | None = None

    @classmethod
    def merchant_hosts(cls, credentials: Mapping[str, Any]) -> tuple[str, ...]:
        """Hosts of the merchant's own site this shop may call (a channel living there)."""
        return ()

    @classmethod
    def default_base_urls(cls, credentials: Mapping[str, Any]) -> tuple[str, ...]:
        """The bases called when the shop has no ``api_base_url``, where they come from the
        merchant (checked when the shop is saved); fixed official bases need no check."""
        return ()

    @classmethod
    def host_policy(cls, shop: ShopAccess) -> HostPolicy:
        return HostPolicy(cls.channel, cls.official_hosts, cls.merchant_hosts(shop.credentials))

    @abstractmethod
    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        """One page of orders modified in ``[start, end)``; ``token`` from the previous page."""

    def fetch_orders(self, external_ids: Sequence[str]) -> list[NormalizedOrder]:
        """The current state of these orders (a push named them); missing ones are left out."""
        raise NotImplementedError(f"{self.channel} does not fetch single orders")

    def push_listings(self, pushes: Sequence[ListingPush]) -> list[ListingResult]:
        """Publish, update or unlist listings (at most ``listing_batch_size``), one result each
        in order; raises when the call could not get through (see :mod:`.outbound`)."""
        raise CapabilityMissing(f"{self.channel} has no listing API ({LISTINGS})")

    def push_shipment(self, push: ShipmentPush) -> ShipmentResult:
        """Tell the marketplace the order shipped with this tracking number; raises
        :class:`ShipmentRefused` when it refuses, and when the call could not get through (see
        :mod:`.outbound`)."""
        raise CapabilityMissing(f"{self.channel} has no shipment API ({SHIPMENTS})")

    def fetch_messages(self, since: datetime) -> list[BuyerMessage]:
        """Buyers' messages to the shop sent at or after ``since``, oldest first (a page)."""
        raise CapabilityMissing(f"{self.channel} has no buyer-message API ({MESSAGES})")

    def send_message(self, reply: MessageReply) -> str:
        """Send a message to a buyer; the marketplace's id of it. Raises
        :class:`MessageRefused` when the marketplace refuses it."""
        raise CapabilityMissing(f"{self.channel} has no buyer-message API ({MESSAGES})")

    @classmethod
    def marketplace_carrier(cls, carrier: str) -> str:
        """The marketplace's code of Daiyun's carrier; refused when it has none."""
        code = cls.carrier_codes.get(carrier)
        if code is None:
            raise ShipmentRefused(f"{cls.channel} has no carrier code for {carrier!r}")
        return code

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


# Small helpers every connector uses on what a marketplace sends.


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """A pushed body as a JSON object, or :class:`MalformedPayload` naming ``what``."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"{what} body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise MalformedPayload(f"{what} body is not an object")
    return doc


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name, from a plain dict or from starlette's ``Headers``."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def hmac_sha256_base64_matches(secret: object, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is base64(HMAC-SHA256(secret, body)), compared in constant time."""
    if not signature or not isinstance(secret, str | bytes) or not secret:
        return False
    key = secret.encode() if isinstance(secret, str) else secret
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def required(doc: Mapping[str, Any], name: str, where: str = "order") -> Any:
    """A field the marketplace always sends; its absence makes the payload malformed."""
    if not isinstance(doc, Mapping):
        raise MalformedPayload(f"{where} is not an object")
    value = doc.get(name)
    if value is None or value == "":
        raise MalformedPayload(f"{where} has no {name}")
    return value


def minor_units(amount: Any, currency: str, name: str) -> int:
    """An amount as exact minor units; a float or a garbled amount is a malformed payload."""
    if amount is None or amount == "":
        return 0
    if isinstance(amount, bool) or not isinstance(amount, str | int):
        raise MalformedPayload(f"{name} is not a decimal string: {type(amount).__name__}")
    try:
        return to_minor(amount, currency)
    except MoneyError as exc:
        raise MalformedPayload(f"{name}: {exc}") from exc


def parse_time(value: Any, name: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time as an aware datetime (kept in its own offset; naive only if allowed)."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{name} is missing or not a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedPayload(f"{name} is not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise MalformedPayload(f"{name} has no UTC offset: {value!r}")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def text_or_none(value: Any) -> str | None:
    """Marketplaces send absent text as null or as "": both mean nothing."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def unit_price(line_minor: int, quantity: int) -> tuple[int, int]:
    """Split a whole line's amount into a unit price and the rounding that keeps it exact.

    ``line_minor / quantity`` need not be whole (10.00 for 3): the unit price is rounded up and
    the surplus returned, to be added to the line's discount, so that unit price x quantity -
    discount still equals what the marketplace charged, to the minor unit.
    """
    if quantity <= 0:
        return line_minor, 0
    unit = -(-line_minor // quantity)
    return unit, unit * quantity - line_minor
