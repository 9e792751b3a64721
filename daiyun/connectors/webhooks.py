"""Webhook ingress (ARCHITECTURE.md rule 4): verify on the raw bytes, store, answer, process later.

``receive`` runs in the request: it finds the shop by its unguessable key, checks the channel's
signature in constant time, and stores the raw delivery under a unique ``(source, external_id)``
so a repeat is a no-op. ``process`` runs in a ``webhooks``-queue task and hands the order to the
order book, which never lets an older update overwrite a newer one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.connectors import repository
from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.woocommerce import WooCommerceConnector
from daiyun.connectors.errors import MalformedPayload
from daiyun.connectors.http import ShopHttp
from daiyun.connectors.models import DeliveryStatus, Shop, ShopStatus, WebhookDelivery
from daiyun.platform.db import new_id, unit_of_work, utcnow
from daiyun.platform.errors import Problem
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.models import Order

log = structlog.get_logger()
KEPT_HEADERS = ("content-type", "x-shopify-", "x-wc-webhook-")


@dataclass(frozen=True)
class Receipt:
    tenant_id: uuid.UUID | None
    delivery_id: uuid.UUID | None
    status: str  # accepted, duplicate, ping


def receive(channel: str, key: str, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Authenticate and store one push in its own transaction; raises Problem on refusal."""
    with unit_of_work() as session:
        route = repository.route(session, key)
        if route is None or route.channel != channel:
            raise Problem(404, "unknown-webhook", "No shop listens at this address")
        tenant_id, shop_id = route.tenant_id, route.shop_id
    connector = connector_for(channel)
    if channel == WooCommerceConnector.channel and WooCommerceConnector.is_ping(headers, body):
        # Saving a webhook in WooCommerce sends this unsigned ping; it carries no order.
        return Receipt(tenant_id, None, "ping")
    with unit_of_work(tenant_id) as session:
        shop = shop_service.get(session, shop_id)
        if shop.status == ShopStatus.disconnected:
            raise Problem(404, "unknown-webhook", "No shop listens at this address")
        if not connector.verify_webhook(headers, body, shop_service.credentials(shop)):
            raise Problem(401, "invalid-signature", "The webhook signature does not match")
        try:
            message = connector.parse_webhook(headers, body)
        except MalformedPayload as exc:
            raise Problem(400, "malformed-payload", str(exc)) from exc
        source = f"{channel}:{shop.id}"
        delivery = WebhookDelivery(
            id=new_id(),
            shop_id=shop.id,
            source=source,
            external_id=message.dedupe_key[:200],
            topic=message.topic[:80],
            headers={
                k.lower(): v for k, v in headers.items() if k.lower().startswith(KEPT_HEADERS)
            },
            body=body.decode("utf-8", errors="replace"),
        )
        try:
            with session.begin_nested():
                session.add(delivery)
                session.flush()
        except IntegrityError:
            existing = repository.delivery_by_key(session, source, delivery.external_id)
            return Receipt(tenant_id, existing.id if existing else None, "duplicate")
    return Receipt(tenant_id, delivery.id, "accepted")


def process(session: Session, delivery_id: uuid.UUID) -> DeliveryStatus | None:
    """Apply a stored delivery to the order book once; a processed one is left alone."""
    delivery = repository.delivery(session, delivery_id, lock=True)
    if delivery is None or delivery.status != DeliveryStatus.received:
        return None
    delivery.attempts += 1
    shop = shop_service.get(session, delivery.shop_id)
    connector = connector_for(shop.channel)
    try:
        message = connector.parse_webhook(delivery.headers, delivery.body.encode())
    except MalformedPayload as exc:
        return _finish(delivery, DeliveryStatus.failed, str(exc))
    if message.kind == "hint":
        # The push only names orders: their current state is read from the marketplace.
        results = refetch(session, shop, message.order_ids)
        delivery.order_id = results[0][1].id if results else None
        return _finish(delivery, DeliveryStatus.processed)
    if message.kind != "order" or message.order is None:
        return _finish(delivery, DeliveryStatus.ignored)
    [(outcome, order)] = order_service.ingest(session, shop.id, shop.channel, [message.order])
    delivery.order_id = order.id
    stale = outcome == order_service.Outcome.stale
    return _finish(delivery, DeliveryStatus.stale if stale else DeliveryStatus.processed)


def refetch(
    session: Session, shop: Shop, external_ids: list[str]
) -> list[tuple[order_service.Outcome, Order]]:
    """Read these orders from the marketplace now and apply them (a push named them)."""
    if not external_ids:
        return []
    connector_cls = connector_for(shop.channel)
    with ShopHttp(str(shop.id)) as http:
        connector = connector_cls(shop_service.access(shop), http)
        orders = connector.fetch_orders(sorted(set(external_ids)))
        if connector.refreshed_credentials:
            shop_service.store_refreshed(session, shop, connector.refreshed_credentials)
    return order_service.ingest(session, shop.id, shop.channel, orders)


def _finish(
    delivery: WebhookDelivery, status: DeliveryStatus, error: str | None = None
) -> DeliveryStatus:
    delivery.status = status
    delivery.error = error
    delivery.processed_at = utcnow()
    if error:
        log.warning("webhook delivery failed", delivery_id=str(delivery.id), error=error)
    return status


def replay(session: Session, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Queue a stored delivery to be applied again (harmless: older never beats newer)."""
    delivery = repository.delivery(session, delivery_id, lock=True)
    if delivery is None:
        raise Problem(404, "not-found", "No such delivery")
    delivery.status = DeliveryStatus.received
    delivery.error = None
    session.flush()
    return delivery
