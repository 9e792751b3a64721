"""The warehouse's figures over a window: order-to-ship time per shop, and the floor's quality
and pace.

* **Order-to-ship time** (发货时效): for each parcel shipped in the window, the hours from its
  order's payment (placement, if it was never paid) to the shipment, and whether it shipped by
  the parcel's deadline (``ship_by``: payment plus the merchant's ``ship_within_hours``, the
  earliest of its orders when merged). A parcel without a deadline counts in the median but not
  in the on-time share.
* **Exception rate**: of the parcels made in the window, the share that met an exception.
* **Pick accuracy**: of the lines packed in the window, scans refused at the pack station (a
  wrong item or one too many) per line.
* **Pace**: parcels each packer packed per hour they were packing (an hour in which they packed
  at least one parcel): breaks and other work do not dilute it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Packer:
    who: str  # the pack station's actor: "user:{id}" or the demo operator's name
    parcels: int
    hours: int  # hours in which they packed at least one parcel

    @property
    def per_hour(self) -> float:
        return self.parcels / self.hours


@dataclass(frozen=True)
class Floor:
    parcels: int
    with_exception: int
    packed: int
    lines: int
    scan_errors: int
    packers: list[Packer] = field(default_factory=list)

    @property
    def exception_rate(self) -> float | None:
        return self.with_exception / self.parcels if self.parcels else None

    @property
    def errors_per_line(self) -> float | None:
        return self.scan_errors / self.lines if self.lines else None


def floor(session: Session, days: int = WINDOW_DAYS) -> Floor:
    """The bound merchant's floor figures over the last ``days`` days (the newest ``MOST``
    packed parcels for accuracy and pace)."""
    since = utcnow() - timedelta(days=days)
    parcels, hit = queries.parcels_since(session, since)
    packed = queries.packed_since(session, since, MOST)
    hours: dict[str, set[datetime]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for who, at, _, _ in packed:
        name = who or "-"
        counts[name] += 1
        hours[name].add(at.replace(minute=0, second=0, microsecond=0))
    packers = [Packer(who, counts[who], len(hours[who])) for who in counts]
    packers.sort(key=lambda p: (-p.per_hour, p.who))
    return Floor(
        parcels=parcels,
        with_exception=hit,
        packed=len(packed),
        lines=sum(len(lines) for *_, lines in packed),
        scan_errors=sum(errors for _, _, errors, _ in packed),
        packers=packers,
    )
