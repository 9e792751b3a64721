"""Marketing's background work: incoming orders attributed to promotions and coupons (and given
back when the order is called off), and the flash sales whose window ended giving their
carved-out stock back to the warehouse."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.core.ids import utcnow
from daiyun.core.tasks import platform_task
from daiyun.platform.marketing import ad_billing, pricing, reversals, service
from daiyun.tenants.models import Tenant

SCHEDULE = {
    "marketing-release-flash-sales": {
        "task": "daiyun.marketing.release_flash_sales",
        "schedule": 60.0,
    },
    "marketing-bill-ad-spend": {"task": "daiyun.marketing.bill_ad_spend", "schedule": 3600.0},
}


@subscribe("order.created")
@subscribe("order.updated")
def attribute_order(session: Session, event: OutboxEvent) -> None:
    """Record the codes and flash sales an order used (once: the event only names the order,
    so duplicates and events out of order change nothing)."""
    pricing.attribute_order(session, uuid.UUID(event.payload["order_id"]))


@subscribe("order.cancelled")
@subscribe("order.refunded")
@subscribe("order.updated")
def give_back_called_off(session: Session, event: OutboxEvent) -> None:
    """An order cancelled or fully refunded gives back the coupons, allowances, budget and flash
    units it used (once: what was given back is marked, so a redelivered event finds nothing)."""
    reversals.reverse_order(session, uuid.UUID(event.payload["order_id"]))


@platform_task("daiyun.marketing.release_flash_sales")
def release_flash_sales(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every tenant: flash sales past their window (or stopped) give back what they hold."""
    released = 0
    for tenant_id in list(session.scalars(select(Tenant.id))):
        with unit_of_work(tenant_id) as tenant_session:
            released += service.release_ended(tenant_session, now)
    return {"released": released}


@platform_task("daiyun.marketing.bill_ad_spend")
def bill_ad_spend(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every tenant: settled days of ad spend billed at cost (once each); days whose spend moved
    after billing are logged for finance (the Ad spend page lists them too)."""
    today = (now or utcnow()).date()
    recorded = moved = 0
    for tenant_id in list(session.scalars(select(Tenant.id))):
        with unit_of_work(tenant_id) as tenant_session:
            billed = ad_billing.bill_settled(tenant_session, today)
        recorded += billed.recorded
        moved += len(billed.differences)
        for d in billed.differences:
            structlog.get_logger().warning(
                "ad_spend_moved_after_billing",
                tenant_id=str(tenant_id),
                channel=d.channel,
                day=d.day.isoformat(),
                billed_minor=d.billed_minor,
                now_minor=d.now_minor,
            )
    return {"recorded": recorded, "moved": moved}
