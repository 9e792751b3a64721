"""In-memory state of the sandbox marketplaces: shops, their orders, rate limits, faults, stats.

Every read and write goes through one lock, so the HTTP handlers (run in a thread pool), the
webhook worker and the demo's order generator see consistent orders. Each shop keeps its orders
in a list of ``(updated_at seconds, id)`` keys sorted at all times, so a page of a time window is
two bisections and a slice however many orders the shop holds.

Orders are channel-agnostic: money in integer minor units, times aware UTC truncated to whole
seconds (every channel renders seconds, and ordering on finer times than the client can see would
break its ``(updated_at, id)`` cursor). The channel modules render them in each marketplace's shape.
"""

from __future__ import annotations

import math
import random
import threading
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from daiyun.sandboxes.marketplaces.numbering import external_id, first_id
from daiyun.sandboxes.marketplaces.orders import (
    Address,
    Buyer,
    Key,
    Order,
    OrderConflict,
    OrderLine,
    Refund,
    epoch,
)
from daiyun.sandboxes.marketplaces.push import MessageHub

if TYPE_CHECKING:
    from daiyun.sandboxes.marketplaces.webhooks import WebhookDispatcher

__all__ = [
    "ACTIONS",
    "CHANNELS",
    "CHINA_CHANNELS",
    "AccessToken",
    "Address",
    "Buyer",
    "CallVerdict",
    "Faults",
    "Key",
    "Order",
    "OrderConflict",
    "OrderLine",
    "RateVerdict",
    "Refund",
    "SandboxState",
    "Shop",
    "epoch",
    "lower_bound",
    "parse_time",
    "upper_bound",
    "utc_now",
]

CHINA_CHANNELS = ("taobao", "pinduoduo", "jd", "douyin")
CHANNELS = ("shopify", "woocommerce", "amazon", *CHINA_CHANNELS)
# Channels whose shops are rate limited by a token bucket (Shopify has its leaky bucket).
_TOKEN_BUCKET = ("amazon", *CHINA_CHANNELS)
ACTIONS = ("pay", "fulfill", "ship", "deliver", "cancel", "refund")

# A client that sleeps exactly Retry-After may land a hair early on a coarse clock.
_VIOLATION_TOLERANCE = 0.01
_MAX_KEY = 2**63


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_time(text: str, *, naive_offset_minutes: int = 0) -> datetime:
    """An ISO 8601 time as aware UTC; a time without offset is read at ``naive_offset_minutes``."""
    # A "+08:00" offset sent unencoded in a query string arrives as " 08:00".
    day, mark, clock = text.strip().partition("T")
    value = datetime.fromisoformat(day + mark + clock.replace(" ", "+"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC) - timedelta(minutes=naive_offset_minutes)
    return value.astimezone(UTC)


def lower_bound(moment: datetime) -> int:
    """Inclusive lower bound in whole seconds (orders carry whole seconds)."""
    return math.ceil(moment.timestamp())


def upper_bound(moment: datetime) -> int:
    return math.floor(moment.timestamp())


@dataclass
class Faults:
    """Misbehaviour injected into channel calls and webhook deliveries, never the control API."""

    throttle_next: int = 0
    retry_after: float = 1.0
    fail_next: int = 0
    error_rate: float = 0.0
    slow_ms: int = 0
    duplicate_webhooks: int = 1
    reverse_webhooks: bool = False
    hold_webhooks: bool = False
    webhook_delay_ms: int = 0
    expire_tokens: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CallVerdict:
    """What the fault injection decided for one channel call."""

    delay: float = 0.0
    fault: Literal["throttle", "fail"] | None = None
    retry_after: float = 0.0


@dataclass
class RateVerdict:
    allowed: bool
    retry_after: float = 0.0


@dataclass
class AccessToken:
    token: str
    shop: Shop
    expires_at: float


@dataclass(eq=False)
class Shop:
    channel: str
    name: str
    credentials: dict[str, Any]
    webhook_url: str | None = None
    currency: str = "USD"
    utc_offset_minutes: int = 0
    # Shopify's leaky bucket, and the token bucket of Amazon and the Chinese marketplaces.
    capacity: int = 40
    leak_per_second: float = 2.0
    rate: float = 5.0
    burst: int = 20
    store_url: str = ""
    widget_script: str | None = None
    webhook_id: int = 0
    bucket_level: float = 0.0
    bucket_at: float = field(default_factory=time.monotonic)
    tokens: float = 20.0
    tokens_at: float = field(default_factory=time.monotonic)
    retry_deadline: float = 0.0
    orders: dict[str, Order] = field(default_factory=dict)
    # Buyers' chat messages to the shop, and the shop's replies by their client key (the
    # gateways with a message API: china_messages.py).
    buyer_messages: list[dict[str, Any]] = field(default_factory=list)
    sent_messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: list[Key] = field(default_factory=list)
    by_id: dict[int, Order] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    # The Chinese marketplaces' tokens: access token -> monotonic expiry, and refresh tokens.
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.channel}/{self.name}"

    @property
    def marketplace_ids(self) -> list[str]:
        ids = self.credentials.get("marketplace_ids") or ["ATVPDKIKX0DER"]
        return [str(one) for one in ids]

    def allocate(self, kind: str) -> int:
        if self.channel == "woocommerce" and kind == "refund":
            kind = "order"
        value = self.counters.get(kind, first_id(self.channel, self.name, kind)) + 1
        self.counters[kind] = value
        return value

    def external_id(self, order_id: int, created_at: datetime | None = None) -> str:
        return external_id(self.channel, self.name, order_id, created_at)

    def window(self, lo: int, hi: int, after: Key | None = None) -> tuple[int, int]:
        """Index range of keys with ``lo <= updated <= hi`` (seconds), strictly after ``after``."""
        start = bisect_left(self.keys, (lo, -1))
        if after is not None:
            start = max(start, bisect_right(self.keys, after))
        end = bisect_right(self.keys, (hi, _MAX_KEY))
        return start, max(start, end)

    def scan(
        self,
        start: int,
        end: int,
        limit: int,
        keep: Callable[[Order], bool] | None = None,
        *,
        backwards: bool = False,
    ) -> list[Order]:
        """Up to ``limit`` orders of ``keys[start:end]`` that ``keep`` accepts, in key order."""
        found: list[Order] = []
        positions = range(end - 1, start - 1, -1) if backwards else range(start, end)
        for position in positions:
            order = self.by_id[self.keys[position][1]]
            if keep is None or keep(order):
                found.append(order)
                if len(found) >= limit:
                    break
        if backwards:
            found.reverse()
        return found

    def insert(self, order: Order) -> None:
        self.by_id[order.id] = order
        self.orders[order.external_id] = order
        insort(self.keys, order.key)

    def touch(self, order: Order, at: datetime) -> None:
        """Move the order to its new update time in the index."""
        old = order.key
        position = bisect_left(self.keys, old)
        if position < len(self.keys) and self.keys[position] == old:
            del self.keys[position]
        order.updated_at = at
        insort(self.keys, order.key)


class SandboxState:
    """Everything the sandbox knows; safe to share between threads."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        token_lifetime: float = 3600.0,
        china_token_lifetime: float = 86400.0,
    ) -> None:
        self.lock = threading.Lock()
        self.seed = seed
        # Amazon's access tokens, and those of the Chinese marketplaces (a day, like JD's test
        # environment; the real ones last longer, which changes nothing for a client).
        self.token_lifetime = token_lifetime
        self.china_token_lifetime = china_token_lifetime
        self.base_url = "http://127.0.0.1"
        self.rng = random.Random(seed)  # noqa: S311 (draws faults, not secrets)
        self.shops: dict[tuple[str, str], Shop] = {}
        self.faults = Faults()
        self.tokens: dict[str, AccessToken] = {}
        self._counts: dict[str, int] = {}
        self.requests: dict[str, int] = {}
        self._webhook_ids = 0
        self._dispatcher: WebhookDispatcher | None = None
        # The queues behind Taobao's TMC and Pinduoduo's message service (WebSocket push).
        self.messages = MessageHub()

    # -- shops ------------------------------------------------------------------------------

    @property
    def dispatcher(self) -> WebhookDispatcher:
        if self._dispatcher is None:
            # Imported here: the dispatcher renders orders through the channel modules, which
            # themselves import this module.
            from daiyun.sandboxes.marketplaces.webhooks import WebhookDispatcher

            self._dispatcher = WebhookDispatcher(self)
        return self._dispatcher

    def _notify(self, shop: Shop, changes: list[tuple[Order, str]]) -> None:
        """Push the changes the way the shop's marketplace pushes (called with the lock held)."""
        if shop.channel in ("taobao", "pinduoduo"):
            self.messages.publish(shop, changes)
        elif shop.webhook_url:
            self.dispatcher.publish(shop, changes)

    def register_shop(
        self,
        channel: str,
        name: str,
        credentials: dict[str, Any],
        *,
        webhook_url: str | None = None,
        currency: str = "USD",
        utc_offset_minutes: int = 0,
        rate: dict[str, float] | None = None,
        base_url: str | None = None,
        widget_script: str | None = None,
    ) -> Shop:
        """Add a shop, or replace the settings of one already there and keep its orders."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        rate = rate or {}
        if any(float(value) <= 0 for value in rate.values()):
            raise ValueError("rates and bursts must be positive")
        token_field = ""
        if channel in CHINA_CHANNELS:
            from daiyun.sandboxes.marketplaces.china import check_credentials

            token_field = check_credentials(channel, credentials)
        with self.lock:
            shop = self.shops.get((channel, name))
            if shop is None:
                shop = Shop(channel=channel, name=name, credentials={})
                # A seeded sandbox gives each shop its own repeatable stream of orders.
                shop.rng = random.Random(  # noqa: S311
                    None if self.seed is None else f"{self.seed}/{channel}/{name}"
                )
                self._webhook_ids += 1
                shop.webhook_id = self._webhook_ids
                self.shops[(channel, name)] = shop
            shop.credentials = dict(credentials)
            shop.webhook_url = webhook_url
            shop.currency = currency.upper()
            shop.utc_offset_minutes = utc_offset_minutes
            shop.widget_script = widget_script
            if channel == "shopify":
                shop.leak_per_second = float(rate.get("leak_per_second", rate.get("rate", 2.0)))
                shop.capacity = int(rate.get("burst", 40))
            elif channel in _TOKEN_BUCKET:
                shop.rate = float(rate.get("rate", 5.0 if channel == "amazon" else 10.0))
                shop.burst = int(rate.get("burst", 20))
                shop.tokens = float(shop.burst)
                shop.tokens_at = time.monotonic()
            if token_field:
                # Chinese marketplaces sell in yuan; a re-registration is a re-authorisation, so
                # the tokens issued before it are forgotten.
                shop.currency = "CNY"
                expiry = time.monotonic() + self.china_token_lifetime
                shop.access_tokens = {str(credentials[token_field]): expiry}
                shop.refresh_tokens = {str(credentials["refresh_token"])}
            root = (base_url or self.base_url).rstrip("/")
            shop.store_url = f"{root}/woocommerce/{name}/"
            if channel == "woocommerce" and webhook_url:
                self.dispatcher.ping(shop)
            return shop

    def shop(self, channel: str, name: str) -> Shop | None:
        return self.shops.get((channel, name))

    def require_shop(self, channel: str, name: str) -> Shop:
        shop = self.shops.get((channel, name))
        if shop is None:
            raise LookupError(f"no {channel} shop {name!r}")
        return shop

    # -- orders -----------------------------------------------------------------------------

    def create_orders(
        self,
        channel: str,
        name: str,
        count: int,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        seed: int | None = None,
        notify: bool = False,
        history: bool = True,
    ) -> list[Order]:
        """Create ``count`` orders updated at times spread uniformly over ``[start, end]``."""
        from daiyun.sandboxes.marketplaces.generator import OrderFactory

        end = end or utc_now()
        start = start or end - timedelta(hours=1)
        if start > end:
            raise ValueError("start is after end")
        # Whole seconds inside the window, like every other time the sandbox keeps.
        start = datetime.fromtimestamp(lower_bound(start), UTC)
        end = max(start, datetime.fromtimestamp(upper_bound(end), UTC))
        with self.lock:
            shop = self.require_shop(channel, name)
            rng = random.Random(seed) if seed is not None else shop.rng  # noqa: S311
            factory = OrderFactory(rng, shop)
            orders = factory.batch(count, start, end, history=history)
            # Beyond the stock the shop was given, a marketplace takes no order (stock.py).
            from daiyun.sandboxes.marketplaces.stock import admit

            orders = admit(self, shop, orders)
            if len(orders) > 64:
                # Bulk loads re-sort once instead of inserting one by one.
                for order in orders:
                    shop.by_id[order.id] = order
                    shop.orders[order.external_id] = order
                shop.keys.extend(order.key for order in orders)
                shop.keys.sort()
            else:
                for order in orders:
                    shop.insert(order)
            if notify:
                self._notify(shop, [(order, "create") for order in orders])
            return orders

    def apply_event(
        self,
        channel: str,
        name: str,
        external_id: str,
        action: str,
        *,
        amount: int | None = None,
        at: datetime | None = None,
        items: int | None = None,
        notify: bool = True,
    ) -> Order:
        """Move an order on (see :func:`generator.advance`), re-index it, send its webhook.

        Raises LookupError for an unknown shop or order, OrderConflict for an event the order's
        state does not allow.
        """
        from daiyun.sandboxes.marketplaces.generator import advance

        at = (at or utc_now()).astimezone(UTC).replace(microsecond=0)
        with self.lock:
            shop = self.require_shop(channel, name)
            order = shop.orders.get(external_id)
            if order is None:
                raise LookupError(f"no order {external_id!r} in {shop.label}")
            advance(shop, order, action, at=at, amount=amount, items=items)
            shop.touch(order, at)
            if notify:
                self._notify(shop, [(order, action)])
            return order

    # -- fault injection and rate limits ----------------------------------------------------

    def open_call(
        self, shop: Shop | None, label: str = "unknown", *, inject: bool = True
    ) -> CallVerdict:
        """Count a channel call, spot a Retry-After violation, and draw its injected fault.

        ``inject=False`` only counts the call: the Amazon token exchange, which has no rate
        limit and whose own failure mode is a refused grant.
        """
        now = time.monotonic()
        with self.lock:
            key = shop.label if shop else label
            self.requests[key] = self.requests.get(key, 0) + 1
            if not inject:
                return CallVerdict()
            if shop is not None and now + _VIOLATION_TOLERANCE < shop.retry_deadline:
                self._bump("violations")
            faults = self.faults
            verdict = CallVerdict(delay=faults.slow_ms / 1000)
            if faults.throttle_next > 0:
                faults.throttle_next -= 1
                verdict.fault = "throttle"
                verdict.retry_after = faults.retry_after
            elif faults.fail_next > 0:
                faults.fail_next -= 1
                verdict.fault = "fail"
            elif faults.error_rate > 0 and self.rng.random() < faults.error_rate:
                verdict.fault = "fail"
            if verdict.fault == "fail":
                self._bump("errors")
            return verdict

    def throttled(self, shop: Shop | None, retry_after: float) -> None:
        """Record a 429 and the moment before which the shop's client must not call again."""
        with self.lock:
            self._bump("throttled")
            if shop is not None:
                deadline = time.monotonic() + retry_after
                shop.retry_deadline = max(shop.retry_deadline, deadline)

    def take_slot(self, shop: Shop) -> RateVerdict:
        """Spend one request from the shop's bucket, or say how long until one is free."""
        now = time.monotonic()
        with self.lock:
            if shop.channel == "shopify":
                self._leak(shop, now)
                if shop.bucket_level + 1 > shop.capacity:
                    wait = (shop.bucket_level + 1 - shop.capacity) / shop.leak_per_second
                    return RateVerdict(False, max(0.1, math.ceil(wait * 10) / 10))
                shop.bucket_level += 1
            elif shop.channel in _TOKEN_BUCKET:
                shop.tokens = min(
                    float(shop.burst), shop.tokens + (now - shop.tokens_at) * shop.rate
                )
                shop.tokens_at = now
                if shop.tokens < 1:
                    return RateVerdict(False, max(1.0, math.ceil((1 - shop.tokens) / shop.rate)))
                shop.tokens -= 1
            return RateVerdict(True)

    def call_limit(self, shop: Shop) -> str:
        """Shopify's ``X-Shopify-Shop-Api-Call-Limit`` value: requests in the bucket / capacity."""
        with self.lock:
            self._leak(shop, time.monotonic())
            return f"{min(shop.capacity, math.ceil(shop.bucket_level))}/{shop.capacity}"

    @staticmethod
    def _leak(shop: Shop, now: float) -> None:
        shop.bucket_level = max(
            0.0, shop.bucket_level - (now - shop.bucket_at) * shop.leak_per_second
        )
        shop.bucket_at = now

    def set_faults(self, faults: Faults) -> Faults:
        with self.lock:
            self.faults = faults
            if faults.expire_tokens:
                # One-shot: tokens issued so far die now; the ones a client obtains next work.
                now = time.monotonic()
                for token in self.tokens.values():
                    token.expires_at = min(token.expires_at, now)
                for shop in self.shops.values():
                    for value, expiry in shop.access_tokens.items():
                        shop.access_tokens[value] = min(expiry, now)
            return faults

    def flush_webhooks(self) -> int:
        with self.lock:
            return self.dispatcher.flush(reverse=self.faults.reverse_webhooks)

    def webhooks_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook has been delivered (held ones do not count)."""
        if self._dispatcher is None:
            return True
        return self._dispatcher.wait_idle(timeout)

    # -- stats ------------------------------------------------------------------------------

    def _bump(self, counter: str, by: int = 1) -> None:
        self._counts[counter] = self._counts.get(counter, 0) + by

    def count(self, counter: str, by: int = 1) -> None:
        with self.lock:
            self._bump(counter, by)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "throttled": self._counts.get("throttled", 0),
                "violations": self._counts.get("violations", 0),
                "webhooks_sent": self._counts.get("webhooks_sent", 0),
                "webhooks_failed": self._counts.get("webhooks_failed", 0),
                "webhooks_held": self._dispatcher.held_count() if self._dispatcher else 0,
                "errors": self._counts.get("errors", 0),
                **self.messages.stats(),
            }

    def reset(self) -> None:
        """Forget every shop, order, token, fault and counter."""
        with self.lock:
            self.shops.clear()
            self.tokens.clear()
            self.requests.clear()
            self._counts.clear()
            self.faults = Faults()
            if self._dispatcher is not None:
                self._dispatcher.drop_held()
            self.messages.clear()

    def close(self) -> None:
        """Stop the webhook worker (it starts again on the next delivery)."""
        if self._dispatcher is not None:
            self._dispatcher.stop()
