"""Webhooks from the sandbox marketplaces to a shop's ``webhook_url``, signed as each one signs.

Shopify signs with the app's API secret and names every event with ``X-Shopify-Event-Id``;
WooCommerce signs with the webhook's secret and has no event id worth the name (its delivery id
is a hash of the webhook and the current second). Douyin Shop posts a JSON array of events, each
with its ``msg_id``, signed in ``event-sign`` with an MD5 over the app key, the raw body and the
app secret. (Taobao and Pinduoduo push over WebSocket instead: see :mod:`push`.) Bodies are
rendered when the event happens, so a late or reordered delivery carries the order as it was
then, as a real marketplace's does.

One daemon thread delivers the queue in order, so the order a test arranges is the order the
receiver sees. Faults shape the queue before delivery: each event sent several times with the
same event id, held back until a flush, reversed, or delayed. A delivery that fails is counted
and dropped: marketplaces give up too, and reconciliation by polling is what catches it up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from daiyun.sandboxes.marketplaces import douyin, shopify, woocommerce
from daiyun.sandboxes.marketplaces.state import Order, Shop

if TYPE_CHECKING:
    from daiyun.sandboxes.marketplaces.state import SandboxState

SHOPIFY_TOPICS = {
    "create": "orders/create",
    "pay": "orders/paid",
    "deliver": "orders/updated",
    "cancel": "orders/cancelled",
    "refund": "refunds/create",
}
# Shopify waits 1 s to connect and 5 s in all for an answer.
_TIMEOUT = httpx.Timeout(5.0, connect=1.0)


@dataclass(frozen=True)
class Delivery:
    shop: str
    url: str
    topic: str
    headers: dict[str, str]
    body: bytes


def sign(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, raw body)): the signature both Shopify and WooCommerce use."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _body(document: dict[str, Any] | list[Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def shopify_topic(order: Order, action: str) -> str:
    if action in ("fulfill", "ship"):
        return (
            "orders/fulfilled"
            if order.items_shipped >= order.items
            else "orders/partially_fulfilled"
        )
    return SHOPIFY_TOPICS.get(action, "orders/updated")


def _shopify(shop: Shop, order: Order, action: str, copies: int) -> list[Delivery]:
    topic = shopify_topic(order, action)
    if topic == "refunds/create" and order.refunds:
        document = shopify.render_refund(shop, order, order.refunds[-1])
    else:
        document = shopify.render_order(shop, order)
    body = _body(document)
    common = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(str(shop.credentials.get("api_secret", "")), body),
        "X-Shopify-Shop-Domain": shop.name,
        "X-Shopify-API-Version": shopify.API_VERSION,
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    return [
        Delivery(
            shop.label,
            str(shop.webhook_url),
            topic,
            {**common, "X-Shopify-Webhook-Id": str(uuid.uuid4())},
            body,
        )
        for _ in range(copies)
    ]


def _woocommerce(shop: Shop, order: Order, action: str, copies: int) -> list[Delivery]:
    event = "created" if action == "create" else "updated"
    body = _body(woocommerce.render_order(shop, order))
    second = int(time.time())
    # Like WooCommerce's own: the webhook and the current second, so not unique per event.
    delivery_id = hashlib.md5(f"{shop.webhook_id}{second}".encode(), usedforsecurity=False)
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": shop.store_url,
        "X-WC-Webhook-Topic": f"order.{event}",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(str(shop.credentials.get("webhook_secret", "")), body),
        "X-WC-Webhook-ID": str(shop.webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id.hexdigest(),
    }
    return [Delivery(shop.label, str(shop.webhook_url), f"order.{event}", headers, body)] * copies


def _douyin(shop: Shop, order: Order, action: str, copies: int) -> list[Delivery]:
    event = douyin.push_event(shop, order, action)
    body = _body([event])
    key = str(shop.credentials.get("app_key", ""))
    secret = str(shop.credentials.get("app_secret", ""))
    signature = hashlib.md5(key.encode() + body + secret.encode(), usedforsecurity=False)
    headers = {
        "Content-Type": "application/json",
        "app-id": key,
        "event-sign": signature.hexdigest(),
    }
    topic = f"douyin/{event['tag']}"
    # Copies repeat the msg_id, as Douyin's own redeliveries do.
    return [Delivery(shop.label, str(shop.webhook_url), topic, headers, body)] * copies


_RENDER = {"shopify": _shopify, "woocommerce": _woocommerce, "douyin": _douyin}


class WebhookDispatcher:
    """The outgoing queue, the held-back buffer, and the thread that delivers them."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._cond = threading.Condition()
        self._queue: deque[Delivery] = deque()
        self._held: list[Delivery] = []
        self._busy = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    # Called with the state's lock held, so bodies show the order exactly as the event left it.

    def publish(self, shop: Shop, changes: list[tuple[Order, str]]) -> None:
        render = _RENDER.get(shop.channel)
        if not shop.webhook_url or render is None:
            return
        faults = self._state.faults
        copies = max(0, faults.duplicate_webhooks)
        batch = [
            delivery
            for order, action in changes
            for delivery in render(shop, order, action, copies)
        ]
        with self._cond:
            if faults.hold_webhooks:
                self._held.extend(batch)
                return
            if faults.reverse_webhooks:
                batch.reverse()
            self._enqueue(batch)

    def ping(self, shop: Shop) -> None:
        """WooCommerce's unsigned ping when a webhook is saved; faults do not touch it."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        body = f"webhook_id={shop.webhook_id}".encode()
        with self._cond:
            self._enqueue([Delivery(shop.label, str(shop.webhook_url), "ping", headers, body)])

    def flush(self, *, reverse: bool) -> int:
        with self._cond:
            batch, self._held = self._held, []
            if reverse:
                batch.reverse()
            self._enqueue(batch)
            return len(batch)

    def held_count(self) -> int:
        with self._cond:
            return len(self._held)

    def drop_held(self) -> None:
        with self._cond:
            self._held.clear()

    def _enqueue(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        self._queue.extend(batch)
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    # -- the delivering thread --------------------------------------------------------------

    def wait_idle(self, timeout: float) -> bool:
        """Whether the queue emptied and the last delivery finished within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._cond:
            self._thread = None
            self._stopping = False
            self._cond.notify_all()

    def _run(self) -> None:
        with httpx.Client(timeout=_TIMEOUT, trust_env=False) as client:
            while True:
                with self._cond:
                    while not self._queue and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        return
                    delivery = self._queue.popleft()
                    self._busy += 1
                try:
                    self._deliver(client, delivery)
                finally:
                    with self._cond:
                        self._busy -= 1
                        self._cond.notify_all()

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> None:
        delay = self._state.faults.webhook_delay_ms
        if delay > 0:
            time.sleep(delay / 1000)
        try:
            response = client.post(delivery.url, content=delivery.body, headers=delivery.headers)
            delivered = 200 <= response.status_code < 300
        except Exception:
            # Whatever the receiver does (refuses, hangs, answers garbage) the sandbox carries on.
            delivered = False
        self._state.count("webhooks_sent" if delivered else "webhooks_failed")
