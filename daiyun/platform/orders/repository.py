"""Every query of the order book."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from daiyun.platform.orders.models import Order, OrderEvent, OrderRefund, ReviewPolicy
from daiyun.platform.orders.normalized import OrderStatus

# How many recent orders of a shop define its "normal" total and item count.
NORMS_SAMPLE = 200


def by_external_ids(
    session: Session, shop_id: uuid.UUID, external_ids: Iterable[str], *, lock: bool
) -> dict[str, Order]:
    """The stored orders of a shop among these external ids (locked for update when asked)."""
    stmt = select(Order).where(Order.shop_id == shop_id, Order.external_id.in_(list(external_ids)))
    if lock:
        stmt = stmt.with_for_update()
    return {order.external_id: order for order in session.scalars(stmt)}


def get(session: Session, order_id: uuid.UUID, *, lock: bool = False) -> Order | None:
    stmt = select(Order).where(Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


@dataclass(frozen=True)
class OrderFilter:
    status: OrderStatus | None = None
    channel: str | None = None
    shop_id: uuid.UUID | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    text: str | None = None


def filtered(f: OrderFilter) -> Select[Any]:
    """Orders matching a filter; text matches the external id, buyer name or buyer email."""
    stmt = select(Order)
    if f.status is not None:
        stmt = stmt.where(Order.status == f.status)
    if f.channel is not None:
        stmt = stmt.where(Order.channel == f.channel)
    if f.shop_id is not None:
        stmt = stmt.where(Order.shop_id == f.shop_id)
    if f.placed_from is not None:
        stmt = stmt.where(Order.placed_at >= f.placed_from)
    if f.placed_to is not None:
        stmt = stmt.where(Order.placed_at < f.placed_to)
    if f.text:
        needle = f.text.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(Order.external_id).contains(needle, autoescape=True),
                func.lower(Order.buyer_name).contains(needle, autoescape=True),
                func.lower(Order.buyer_email).contains(needle, autoescape=True),
            )
        )
    return stmt


def history(session: Session, order_id: uuid.UUID) -> list[OrderEvent]:
    stmt = (
        select(OrderEvent)
        .where(OrderEvent.order_id == order_id)
        .order_by(OrderEvent.at, OrderEvent.id)
    )
    return list(session.scalars(stmt))


def policy(session: Session) -> ReviewPolicy | None:
    return session.scalar(select(ReviewPolicy))


def shop_norms(session: Session, shop_id: uuid.UUID) -> tuple[int, int, int]:
    """(sample size, median total, median item count) of the shop's recent orders."""
    stmt = (
        select(Order.total_minor, Order.item_count)
        .where(Order.shop_id == shop_id)
        .order_by(Order.placed_at.desc())
        .limit(NORMS_SAMPLE)
    )
    rows = session.execute(stmt).all()
    if not rows:
        return 0, 0, 0
    totals = sorted(r[0] for r in rows)
    counts = sorted(r[1] for r in rows)
    return len(rows), int(statistics.median_low(totals)), int(statistics.median_low(counts))


def count_fingerprint(
    session: Session, fingerprint: str, around: datetime, window: timedelta, exclude: str
) -> int:
    """Other live orders with the same buyer and items placed within ``window`` of ``around``."""
    stmt = select(func.count()).where(
        Order.fingerprint == fingerprint,
        Order.placed_at >= around - window,
        Order.placed_at <= around + window,
        Order.external_id != exclude,
        Order.source_status != OrderStatus.cancelled,
    )
    return int(session.scalar(stmt) or 0)


def placed_in(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    by: str,
    statuses: Iterable[OrderStatus],
) -> Iterator[Order]:
    """Orders whose placed (or paid) time falls in ``[start, end)``, with their lines, streamed."""
    column = Order.paid_at if by == "paid" else Order.placed_at
    stmt = (
        select(Order)
        .where(column >= start, column < end, Order.status.in_(list(statuses)))
        .order_by(column, Order.id)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(stmt)


def refunds_in(
    session: Session, start: datetime, end: datetime
) -> Iterator[tuple[OrderRefund, str]]:
    """Refunds made in ``[start, end)`` with their order's channel."""
    stmt = (
        select(OrderRefund, Order.channel)
        .join(
            Order, (Order.id == OrderRefund.order_id) & (Order.tenant_id == OrderRefund.tenant_id)
        )
        .where(OrderRefund.refunded_at >= start, OrderRefund.refunded_at < end)
        .order_by(OrderRefund.refunded_at, OrderRefund.id)
    )
    for row in session.execute(stmt):
        yield row[0], row[1]
