"""Marketing's background work: incoming orders attributed to promotions and coupons, and the
flash sales whose window ended giving their carved-out stock back to the warehouse."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.core.tasks import platform_task
from daiyun.platform.marketing import pricing, service
from daiyun.tenants.models import Tenant

SCHEDULE = {
    "marketing-release-flash-sales": {
        "task": "daiyun.marketing.release_flash_sales",
        "schedule": 60.0,
    },
}


@subscribe("order.created")
@subscribe("order.updated")
def attribute_order(session: Session, event: OutboxEvent) -> None:
    """Record the codes and flash sales an order used (once: the event only names the order,
    so duplicates and events out of order change nothing)."""
    pricing.attribute_order(session, uuid.UUID(event.payload["order_id"]))


@platform_task("daiyun.marketing.release_flash_sales")
def release_flash_sales(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every tenant: flash sales past their window (or stopped) give back what they hold."""
    released = 0
    for tenant_id in list(session.scalars(select(Tenant.id))):
        with unit_of_work(tenant_id) as tenant_session:
            released += service.release_ended(tenant_session, now)
    return {"released": released}
