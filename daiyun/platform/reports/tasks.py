"""Keeping the rollups current: order events from the outbox recompute their buckets.

Each handler runs once per event (the outbox marks it handled) inside the delivery's unit of
work. It recomputes the bucket the event names (where the order was when the event was written)
and the bucket the order is in now, from the current orders: a duplicate, late or out-of-order
event therefore recomputes the same rows again and changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.platform.reports import service

ORDER_TOPICS = ("order.created", "order.updated", "order.cancelled", "order.refunded")


def refresh_for_order_event(session: Session, event: OutboxEvent) -> None:
    """Recompute the daily rollups an order event touches."""
    payload = event.payload
    order_ids = [uuid.UUID(payload["order_id"])] if payload.get("order_id") else []
    buckets = []
    if payload.get("shop_id") and payload.get("placed_at"):
        placed_at = datetime.fromisoformat(payload["placed_at"])
        buckets.append(service.bucket_of(session, uuid.UUID(payload["shop_id"]), placed_at))
    service.refresh(session, order_ids=order_ids, buckets=buckets)


for _topic in ORDER_TOPICS:
    subscribe(_topic)(refresh_for_order_event)
