"""The warehouse's event subscriptions: order events bring reservations in line."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.platform.warehouse import reservations


@subscribe("order.created")
@subscribe("order.updated")
@subscribe("order.cancelled")
@subscribe("order.refunded")
def reserve_for_order(session: Session, event: OutboxEvent) -> None:
    """Reserve, release or consume an order's stock as the order stands now (the event only
    names it: duplicates and events out of order change nothing)."""
    reservations.sync_order(session, uuid.UUID(event.payload["order_id"]))
