"""Fulfilment's event subscriptions and its periodic deadline check."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.core.tasks import platform_task
from daiyun.platform.fulfillment import service
from daiyun.platform.warehouse import reservations
from daiyun.platform.warehouse import service as warehouse
from daiyun.tenants.models import Tenant, TenantStatus

SCHEDULE = {
    "fulfillment-deadlines": {"task": "daiyun.fulfillment.flag_deadlines", "schedule": 600.0},
}


@subscribe("order.created")
@subscribe("order.updated")
@subscribe("order.cancelled")
@subscribe("order.refunded")
def follow_order(session: Session, event: OutboxEvent) -> None:
    """Bring the order's parcels in line with it. The reservation is brought in line first
    (the warehouse's own subscriber may not have run yet; doing it twice changes nothing), and
    its row lock keeps two events of one order from building parcels side by side."""
    order_id = uuid.UUID(event.payload["order_id"])
    reservations.sync_order(session, order_id)
    service.sync_order(session, order_id)


@subscribe(warehouse.STOCK_RECEIVED)
def wake_on_receipt(session: Session, event: OutboxEvent) -> None:
    """Stock came in: the parcels waiting for stock are tried again."""
    service.wake_waiting(session)


@platform_task("daiyun.fulfillment.flag_deadlines")
def flag_deadlines(session: Session) -> int:
    """Raise ``deadline_near`` on every merchant's parcels close to their shipping deadline,
    each merchant in a unit of work of its own."""
    raised = 0
    live = select(Tenant.id).where(Tenant.status != TenantStatus.offboarded)
    for tenant_id in list(session.scalars(live)):
        with unit_of_work(tenant_id) as tenant_session:
            raised += service.flag_deadlines(tenant_session)
    return raised


# --------------------------------------------------------------------------------------------
# The ship step's tasks (shipping_tasks.py): imported here so the worker registers them and beat
# runs their schedule.
# --------------------------------------------------------------------------------------------

from daiyun.platform.fulfillment import billing_facts, shipping_tasks  # noqa: E402

SUBSCRIBERS = (billing_facts.bill_when_shipped,)

SCHEDULE.update(shipping_tasks.SCHEDULE)
