"""The ship step's background work: the tracking push to the marketplace (发货回传), its sweep,
and the tracking poll.

:func:`push` owns its transactions: it claims the shipment (a lease, so two workers never send
at once), sends each marketplace order it has not sent yet, then records what happened: pushed,
a retryable failure (``pending`` again after a backoff, the error kept for people to see) or a
refusal (``refused``, waiting for a person). The marketplace answers a repeat as a duplicate,
so a worker that died after sending and before recording sends nothing twice either.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.connectors import carriers
from daiyun.connectors import shipments as marketplace
from daiyun.connectors.http import ShopHttp
from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.core.ids import utcnow
from daiyun.core.tasks import celery_app, enqueue_after_commit, parse_tenant, platform_task
from daiyun.platform.fulfillment import repository, shipping
from daiyun.platform.fulfillment import shipping_repository as queries
from daiyun.platform.fulfillment.models import PushStatus
from daiyun.platform.orders import service as order_service
from daiyun.tenants.models import Tenant, TenantStatus

log = structlog.get_logger()

SCHEDULE = {
    "fulfillment-push-sweep": {"task": "daiyun.fulfillment.push_sweep", "schedule": 60.0},
    "fulfillment-tracking": {"task": "daiyun.fulfillment.tracking_sweep", "schedule": 300.0},
}
# Shipments whose tracking is read per sweep and tenant, and how old a reading may get.
TRACKING_BATCH = 200


def push(
    tenant_id: uuid.UUID,
    shipment_id: uuid.UUID,
    *,
    now: datetime | None = None,
    http_factory: marketplace.HttpFactory | None = None,
) -> PushStatus:
    """Tell the marketplace(s) the shipment's tracking number (see the module's docstring)."""
    now = now or utcnow()
    with unit_of_work(tenant_id) as session:
        shipment = queries.shipment(session, shipment_id, lock=True)
        if shipment is None or shipment.push_status != PushStatus.pending:
            return shipment.push_status if shipment else PushStatus.unsupported
        if shipment.next_push_at is not None and shipment.next_push_at > now:
            return shipment.push_status  # leased to another worker, or backing off
        shipment.next_push_at = now + shipping.CLAIM_LEASE
        shipment.push_attempts += 1
        fo = repository.get(session, shipment.fo_id)
        todo: list[marketplace.ShipmentPush] = []
        keys: list[str] = []
        carrier = carriers.CARRIERS[shipment.carrier]
        for order_hex in shipment.order_ids:
            if order_hex in shipment.pushes:
                continue
            order = order_service.get_order(session, uuid.UUID(order_hex))
            if order is None or fo is None:
                continue
            keys.append(order_hex)
            todo.append(
                marketplace.ShipmentPush(
                    order_id=order.external_id,
                    carrier=shipment.carrier,
                    tracking_number=shipment.waybill_no,
                    shipped_at=shipment.shipped_at,
                    lines=shipping.lines_for(order, fo),
                    tracking_url=carrier.tracking_url.format(number=shipment.waybill_no),
                    carrier_name=carrier.name_en,
                )
            )
        shop_id = shipment.shop_id
    done: dict[str, str] = {}
    error: str | None = None
    final = False
    for key, one in zip(keys, todo, strict=True):
        with unit_of_work(tenant_id) as session:
            try:
                result = marketplace.push_shipment(
                    session, tenant_id, shop_id, one, http_factory=http_factory
                )
            except marketplace.ShipmentPushRetryable as exc:
                error = str(exc)
                break
            except marketplace.ShipmentPushRefused as exc:
                error, final = str(exc), True
                break
        done[key] = "duplicate" if result.duplicate else "pushed"
    with unit_of_work(tenant_id) as session:
        shipment = queries.shipment(session, shipment_id, lock=True)
        assert shipment is not None
        shipment.pushes = {**shipment.pushes, **done}
        shipment.push_error = error[:300] if error else None
        if error is None:
            shipment.push_status, shipment.pushed_at = PushStatus.pushed, utcnow()
            shipment.next_push_at = None
        elif final:
            shipment.push_status, shipment.next_push_at = PushStatus.refused, None
        else:
            shipment.next_push_at = now + shipping.push_backoff(shipment.push_attempts)
        status = shipment.push_status
    log.info("tracking push", shipment_id=str(shipment_id), status=status.value, error=error)
    return status


@celery_app.task(name="daiyun.fulfillment.push_shipment", queue="sync")
def push_shipment(tenant_id: str, shipment_id: str) -> str:
    tenant = parse_tenant(tenant_id)
    structlog.contextvars.bind_contextvars(task="daiyun.fulfillment.push_shipment")
    return push(tenant, uuid.UUID(shipment_id)).value


@subscribe(shipping.SHIPPED)
def push_when_shipped(session: Session, event: OutboxEvent) -> None:
    """A parcel shipped (or a push was asked for again): push once committed."""
    enqueue_after_commit(session, push_shipment, str(event.tenant_id), event.payload["shipment_id"])


# A suspended tenant's shops make no calls (its pushes wait); an offboarded one has none.
_LIVE = (TenantStatus.onboarding, TenantStatus.active)


def _active_tenants(session: Session) -> list[uuid.UUID]:
    return list(session.scalars(select(Tenant.id).where(Tenant.status.in_(_LIVE))))


@platform_task("daiyun.fulfillment.push_sweep")
def push_sweep(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Pushes whose backoff (or lease) is over, in every live tenant: queued again."""
    now = now or utcnow()
    queued = 0
    for tenant_id in _active_tenants(session):
        with unit_of_work(tenant_id) as tenant_session:
            for shipment_id in queries.pushes_due(tenant_session, now):
                push_shipment.delay(str(tenant_id), str(shipment_id))
                queued += 1
    return {"queued": queued}


@platform_task("daiyun.fulfillment.tracking_sweep")
def tracking_sweep(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Read the carrier's tracking of every shipment on its way, in every live tenant."""
    read = failed = 0
    for tenant_id in _active_tenants(session):
        with unit_of_work(tenant_id) as tenant_session:
            for shipment in queries.in_transit(tenant_session, TRACKING_BATCH):
                try:
                    events = carriers.tracking_events(shipment.carrier, shipment.waybill_no)
                except carriers.CarrierError as exc:
                    failed += 1
                    log.warning("tracking read failed", error=str(exc))
                    continue
                shipping.record_tracking(tenant_session, shipment, events)
                read += 1
    return {"read": read, "failed": failed}


__all__ = ["SCHEDULE", "ShopHttp", "push", "push_shipment", "push_sweep", "tracking_sweep"]
