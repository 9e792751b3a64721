"""Order-to-ship time (发货时效) against the marketplace's shipping deadline, per shop.

For each parcel shipped in the window: the hours from its order's payment (placement, if it
was never paid) to the shipment, and whether it shipped by the parcel's deadline (``ship_by``:
payment plus the merchant's ``ship_within_hours``, the earliest of its orders when merged).
A parcel without a deadline counts in the median but not in the on-time share.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy.orm import Session

from daiyun.core.ids import utcnow
from daiyun.platform.fulfillment import shipping_repository as queries
from daiyun.platform.orders import service as order_service

WINDOW_DAYS = 30
# The shipments a figure is computed from at most (the newest ones).
MOST = 5000


@dataclass(frozen=True)
class ShipTimes:
    shop_id: uuid.UUID | None  # None: every shop together
    shipped: int
    with_deadline: int
    on_time: int
    median_hours: float | None

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.with_deadline if self.with_deadline else None


def figures(
    rows: Sequence[tuple[uuid.UUID | None, datetime, datetime | None, datetime | None]],
    shop_id: uuid.UUID | None = None,
) -> ShipTimes:
    """The figures of (shop, shipped at, deadline, order paid at) rows."""
    hours = [(shipped - start).total_seconds() / 3600 for _, shipped, _, start in rows if start]
    deadlines = [(shipped, due) for _, shipped, due, _ in rows if due is not None]
    return ShipTimes(
        shop_id=shop_id,
        shipped=len(rows),
        with_deadline=len(deadlines),
        on_time=sum(1 for shipped, due in deadlines if shipped <= due),
        median_hours=round(median(hours), 1) if hours else None,
    )


def ship_times(session: Session, days: int = WINDOW_DAYS) -> list[ShipTimes]:
    """All shops together first, then each shop, over the last ``days`` days."""
    shipped = queries.shipped_since(session, utcnow() - timedelta(days=days), MOST)
    started = order_service.started_at(session, {order_id for *_, order_id in shipped})
    rows = [(shop, at, due, started.get(order_id)) for shop, at, due, order_id in shipped]
    shops = sorted({row[0] for row in rows}, key=str)
    return [figures(rows)] + [figures([r for r in rows if r[0] == s], s) for s in shops]
