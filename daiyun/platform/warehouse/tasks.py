"""The warehouse's event subscriptions and tasks: order events bring reservations in line; stock
pushes to the shops (queued by ``sync_marks``), their sweep and the nightly full resync."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import structlog
from celery.schedules import crontab
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.core.ids import utcnow
from daiyun.core.tasks import celery_app, parse_tenant, platform_task
from daiyun.platform.storefront import stock_targets
from daiyun.platform.warehouse import (
    billing_facts,
    reservations,
    stock_push,
    stock_sync,
    sync_marks,
)
from daiyun.tenants.models import Tenant

SCHEDULE = {
    "warehouse-stock-sweep": {"task": "daiyun.warehouse.stock_sweep", "schedule": 60.0},
    # Marketplaces drift (a quantity changed by hand in a seller centre): set every one again.
    "warehouse-stock-resync": {
        "task": "daiyun.warehouse.stock_resync",
        "schedule": crontab(hour=3, minute=30),
    },
    # Hourly, so each warehouse's day is counted soon after it starts wherever the warehouse is.
    "warehouse-storage-count": {"task": "daiyun.warehouse.storage_count", "schedule": 3600.0},
}


@subscribe("order.created")
@subscribe("order.updated")
@subscribe("order.cancelled")
@subscribe("order.refunded")
def reserve_for_order(session: Session, event: OutboxEvent) -> None:
    """Reserve, release or consume an order's stock as the order stands now (the event only
    names it: duplicates and events out of order change nothing)."""
    reservations.sync_order(session, uuid.UUID(event.payload["order_id"]))


@celery_app.task(name=sync_marks.PUSH_TASK, queue="sync")
def push_stock(tenant_id: str, shop_id: str) -> dict[str, Any]:
    """Send a shop's due quantities to its marketplace (see :mod:`.stock_push`)."""
    tenant = parse_tenant(tenant_id)
    structlog.contextvars.bind_contextvars(task=sync_marks.PUSH_TASK, tenant_id=str(tenant))
    report = stock_push.push_shop(tenant, uuid.UUID(shop_id))
    if report.more and report.halted is None:
        push_stock.delay(str(tenant), shop_id)  # more than one push carries: go on
    return asdict(report)


def _active_tenants(session: Session) -> list[uuid.UUID]:
    return list(session.scalars(select(Tenant.id)))


@platform_task("daiyun.warehouse.stock_sweep")
def stock_sweep(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every active tenant: queue the push of each shop with stock due (listings newly on their
    marketplace, failed pushes whose backoff is over, pending ones whose push was lost).
    Suspended tenants are skipped."""
    now = now or utcnow()
    queued = 0
    for tenant_id in _active_tenants(session):
        with unit_of_work(tenant_id) as tenant_session:
            if shop_service.dormant_tenant(tenant_session, tenant_id) is not None:
                continue
            # A listing published since the last stock change gets its quantity too.
            sync_marks.mark_new(tenant_session, now)
            for shop_id in stock_push.shops_with_due(tenant_session, now):
                queued += sync_marks.schedule(tenant_session, shop_id, now)
    return {"queued": queued}


@platform_task("daiyun.warehouse.stock_resync")
def stock_resync(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every active tenant: a full resync of every shop with listings on its marketplace."""
    now = now or utcnow()
    marked = 0
    for tenant_id in _active_tenants(session):
        with unit_of_work(tenant_id) as tenant_session:
            if shop_service.dormant_tenant(tenant_session, tenant_id) is not None:
                continue
            shops = {t.shop_id for t in stock_targets.targets(tenant_session)}
            for shop_id in sorted(shops):
                marked += stock_sync.resync(tenant_session, shop_id, now).listings
    return {"listings": marked}


@platform_task("daiyun.warehouse.storage_count")
def storage_count(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every tenant: today's occupied bins per warehouse as storage facts (once a day each).
    A suspended tenant's goods still lie in the warehouse, so it is counted too."""
    now = now or utcnow()
    recorded = 0
    for tenant_id in _active_tenants(session):
        with unit_of_work(tenant_id) as tenant_session:
            recorded += billing_facts.record_storage(tenant_session, now)
    return {"recorded": recorded}
