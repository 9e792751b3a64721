"""Listing work in the background: pushes driven by ``listing.changed`` outbox events, the sweep
that retries failed pushes when their backoff is over, and the price lists' beat.

A push opens its own transactions (one per batch), so it is a plain task that names its tenant,
as a pull run is. Every task here is safe to run twice: a push sends what is still due, and a
price list is applied and restored once (:func:`.prices.run_due`).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.core.ids import utcnow
from daiyun.core.tasks import celery_app, enqueue_after_commit, parse_tenant, platform_task
from daiyun.platform.storefront import listings, prices, sync
from daiyun.platform.storefront.changes import CHANGED
from daiyun.tenants.models import Tenant

log = structlog.get_logger()

SCHEDULE = {
    "storefront-listing-sweep": {"task": "daiyun.storefront.listing_sweep", "schedule": 60.0},
    "storefront-price-lists": {"task": "daiyun.storefront.price_lists", "schedule": 60.0},
}


@celery_app.task(name="daiyun.storefront.push_listings", queue="sync")
def push_listings(tenant_id: str, shop_id: str) -> dict[str, Any]:
    """Send a shop's due listings to its marketplace (see :mod:`.sync`)."""
    tenant = parse_tenant(tenant_id)
    structlog.contextvars.bind_contextvars(
        task="daiyun.storefront.push_listings", tenant_id=str(tenant)
    )
    report = sync.push_shop(tenant, uuid.UUID(shop_id))
    if report.more and report.halted is None:
        push_listings.delay(str(tenant), shop_id)  # more than one push carries: go on
    return asdict(report)


@subscribe(CHANGED)
def push_changed_listings(session: Session, event: OutboxEvent) -> None:
    """Listings changed on a shop: push them once the change is committed."""
    enqueue_after_commit(session, push_listings, str(event.tenant_id), event.payload["shop_id"])


@platform_task("daiyun.storefront.listing_sweep")
def listing_sweep(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every active tenant: a push for each shop with listings due (failed ones whose backoff
    is over, pending ones whose push was lost). Suspended tenants are skipped whole."""
    now = now or utcnow()
    queued = 0
    for tenant_id in list(session.scalars(select(Tenant.id))):
        with unit_of_work(tenant_id) as tenant_session:
            if shop_service.dormant_tenant(tenant_session, tenant_id) is not None:
                continue
            for shop_id in listings.shops_with_due(tenant_session, now):
                enqueue_after_commit(tenant_session, push_listings, str(tenant_id), str(shop_id))
                queued += 1
    return {"queued": queued}


@platform_task("daiyun.storefront.price_lists")
def price_lists(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every tenant: apply the price lists whose start has come, restore those whose end has
    (each once, however often or concurrently this runs)."""
    counts = {"applied": 0, "ended": 0}
    for tenant_id in list(session.scalars(select(Tenant.id))):
        with unit_of_work(tenant_id) as tenant_session:
            for key, value in prices.run_due(tenant_session, now).items():
                counts[key] += value
    return counts
