"""Keeping the rollups current: order events from the outbox recompute their buckets.

Each handler runs once per event (the outbox marks it handled) inside the delivery's unit of
work. It recomputes the bucket the event names (where the order was when the event was written)
and the bucket the order is in now, from the current orders: a duplicate, late or out-of-order
event therefore recomputes the same rows again and changes nothing.

A delivery also counts every other order event still waiting (``service.count_order_events``):
a backfill's thousands of events cost one recompute per (shop, day) bucket, in the first
delivery that runs, and the later deliveries find their mark and skip.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.platform.reports import service

ORDER_TOPICS = service.ORDER_TOPICS


def refresh_for_order_event(session: Session, event: OutboxEvent) -> None:
    """Recompute the daily rollups this order event, and every one still waiting, touch."""
    service.count_order_events(session, event)


# The catch-up marks events with the name the outbox knows this handler by: they must agree.
if f"{__name__}.{refresh_for_order_event.__qualname__}" != service.ROLLUP_HANDLER:
    raise RuntimeError("service.ROLLUP_HANDLER does not name refresh_for_order_event")

for _topic in ORDER_TOPICS:
    subscribe(_topic)(refresh_for_order_event)
