"""Webhook ingress (ARCHITECTURE.md rule 4): verify on the raw bytes, store, answer, process later.

``receive`` runs in the request: it finds the shop by its unguessable key, checks the channel's
signature in constant time, and stores the raw delivery under a unique ``(source, external_id)``
so a repeat is a no-op (through :mod:`daiyun.connectors.intake`, which commits the deliveries
arriving together as one group and answers each after that commit). It never talks to the
broker: a relay in the ``webhooks`` workers (:mod:`daiyun.connectors.tasks`) hands stored
deliveries to the queue within a fraction of a second. ``process`` runs in a ``webhooks``-queue
task and hands the order to the order book, which never lets an older update overwrite a newer
one.

What a webhook address resolves to (tenant, shop, channel and the credential fields its
signature check reads) is kept in memory for :data:`CACHE_SECONDS`, so a busy shop's
pushes cost no lookup and no decryption. A change made in this process (disconnect, new
credentials, pause) drops the entry at once; one made by another process is seen within that
time. A signature that fails against a cached secret is checked again against the database (at
most once a second per shop), so a secret replaced elsewhere works without waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import structlog
from sqlalchemy.orm import Session

from daiyun.connectors import intake, repository
from daiyun.connectors import service as shop_service
from daiyun.connectors.addresses import Endpoint, endpoints
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.base import Connector
from daiyun.connectors.channels.woocommerce import WooCommerceConnector
from daiyun.connectors.errors import MalformedPayload, for_display
from daiyun.connectors.http import ShopHttp
from daiyun.connectors.models import DeliveryStatus, Shop, ShopStatus, WebhookDelivery
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import new_id, utcnow
from daiyun.platform.orders import service as order_service
from daiyun.tenants.models import TenantStatus

log = structlog.get_logger()
KEPT_HEADERS = ("content-type", "x-shopify-", "x-wc-webhook-")

# After a signature fails against a cached secret, read the shop again at most this often.
RELOAD_SECONDS = 1.0
# Credential fields a signature check reads besides the channel's signing secret: Douyin's
# pushes name the app, which is compared with the app key. Access tokens are never kept.
SIGNING_IDENTITY_FIELDS = ("app_key",)


@dataclass(frozen=True)
class Receipt:
    tenant_id: uuid.UUID | None
    delivery_id: uuid.UUID | None
    status: str  # accepted, duplicate, ping


def _signing_material(connector: type[Connector], shop: Shop) -> Mapping[str, Any]:
    wanted = {connector.webhook_secret_field, *SIGNING_IDENTITY_FIELDS}
    credentials = shop_service.credentials(shop)
    return MappingProxyType({k: v for k, v in credentials.items() if k in wanted})


def _load(key: str) -> Endpoint | None:
    """Read a webhook address from the database (None: nobody listens there)."""
    loaded_at = endpoints.clock()
    with unit_of_work() as session:
        route = repository.route(session, key)
        if route is None:
            return None
        tenant_id, shop_id, channel = route.tenant_id, route.shop_id, route.channel
    with unit_of_work(tenant_id) as session:
        shop = repository.shop(session, shop_id)
        if shop is None or shop.status == ShopStatus.disconnected:
            return None
        if shop_service.dormant_tenant(session, tenant_id) == TenantStatus.offboarded:
            # Its data is kept, but nothing more is taken in: answered as nobody listening
            # (which tells the caller nothing), so marketplaces stop retrying in time.
            return None
        signing = _signing_material(connector_for(channel), shop)
        endpoint = Endpoint(tenant_id, shop_id, channel, signing, loaded_at)
    endpoints.put(key, endpoint)
    return endpoint


def _not_found() -> Problem:
    return Problem(404, "unknown-webhook", "No shop listens at this address")


def receive(channel: str, key: str, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Authenticate and store one push in one short transaction; raises Problem on refusal."""
    endpoint = endpoints.get(key)
    cached = endpoint is not None
    if endpoint is None:
        endpoint = _load(key)
    if endpoint is None or endpoint.channel != channel:
        raise _not_found()
    connector = connector_for(channel)
    if channel == WooCommerceConnector.channel and WooCommerceConnector.is_ping(headers, body):
        # Saving a webhook in WooCommerce sends this unsigned ping; it carries no order.
        return Receipt(endpoint.tenant_id, None, "ping")
    verified = connector.verify_webhook(headers, body, endpoint.signing)
    if not verified and cached and endpoints.clock() - endpoint.loaded_at >= RELOAD_SECONDS:
        # The secret may have been replaced since it was cached: check against the database.
        endpoint = _load(key)
        if endpoint is None or endpoint.channel != channel:
            raise _not_found()
        verified = connector.verify_webhook(headers, body, endpoint.signing)
    if not verified:
        raise Problem(401, "invalid-signature", "The webhook signature does not match")
    try:
        message = connector.parse_webhook(headers, body)
    except MalformedPayload as exc:
        raise Problem(400, "malformed-payload", str(exc)) from exc
    source = f"{channel}:{endpoint.shop_id}"
    external_id = message.dedupe_key[:200]
    row = {
        "id": new_id(),
        "tenant_id": endpoint.tenant_id,
        "shop_id": endpoint.shop_id,
        "source": source,
        "external_id": external_id,
        "topic": message.topic[:80],
        "headers": {k.lower(): v for k, v in headers.items() if k.lower().startswith(KEPT_HEADERS)},
        "body": body.decode("utf-8", errors="replace"),
        "status": DeliveryStatus.received,
        "received_at": utcnow(),
        "attempts": 0,
    }
    stored = intake.writer.store(row)  # answered after the commit (a group commit)
    status = "duplicate" if stored.duplicate else "accepted"
    return Receipt(endpoint.tenant_id, stored.delivery_id, status)


def process(session: Session, delivery_id: uuid.UUID) -> DeliveryStatus | None:
    """Apply a stored delivery to the order book once; a processed one is left alone.

    A delivery for a paused shop, or for a suspended or offboarded tenant, is held (kept, not
    applied, no marketplace called) until the shop resumes or the tenant is active again.
    """
    delivery = repository.delivery(session, delivery_id, lock=True)
    if delivery is None or delivery.status not in repository.PENDING_DELIVERY:
        return None
    shop = shop_service.get(session, delivery.shop_id)
    if shop.status == ShopStatus.paused or shop_service.dormant_tenant(session, shop.tenant_id):
        delivery.status = DeliveryStatus.held
        return DeliveryStatus.held
    delivery.attempts += 1
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


def refetch(session: Session, shop: Shop, external_ids: list[str]) -> list[order_service.Ingested]:
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
    # The error quotes what the marketplace sent: stored only as a short, clean excerpt.
    delivery.error = for_display(error) if error else None
    delivery.processed_at = utcnow()
    if error:
        log.warning("webhook delivery failed", delivery_id=str(delivery.id), error=delivery.error)
    return status
