"""Every query of the order book."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, insert, or_, select
from sqlalchemy.orm import Session

from daiyun.platform.orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    ReviewPolicy,
)
from daiyun.platform.orders.normalized import OrderStatus

# How many recent orders of a shop define its "normal" total and item count.
NORMS_SAMPLE = 200
# Values bound in one IN (...) list: well inside every database's parameter limit.
IN_CHUNK = 500


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


def fingerprint_matches(
    session: Session, fingerprints: Iterable[str]
) -> list[tuple[str, uuid.UUID, str, datetime, OrderStatus]]:
    """Orders of any shop with one of these fingerprints, whenever placed.

    Rows of (fingerprint, id, external id, placed at, source status): the duplicate check of a
    whole batch in one query, each order's time window applied by the caller. The window is
    deliberately not in the query: given a time range, SQLite (which keeps no statistics here)
    scans the placed-at index over the whole range instead of looking the fingerprints up, and
    a fingerprint (one buyer, one basket) only ever has a handful of orders.
    """
    wanted = sorted(set(fingerprints))
    found: list[tuple[str, uuid.UUID, str, datetime, OrderStatus]] = []
    for i in range(0, len(wanted), IN_CHUNK):
        stmt = select(
            Order.fingerprint, Order.id, Order.external_id, Order.placed_at, Order.source_status
        ).where(Order.fingerprint.in_(wanted[i : i + IN_CHUNK]))
        found.extend((str(r[0]), r[1], r[2], r[3], r[4]) for r in session.execute(stmt))
    return found


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def insert_imported(
    session: Session,
    *,
    orders: Sequence[dict[str, Any]],
    lines: Sequence[dict[str, Any]],
    refunds: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
) -> None:
    """Insert new orders with their lines, refunds and history, table by table.

    One executemany per table in the caller's transaction. These are Core statements: the ORM
    guard does not see them, so every row must already carry the session's tenant (and
    PostgreSQL's row-level security checks it). A duplicate (shop, external id) raises
    ``IntegrityError`` before anything else of the batch is written.
    """
    for model, rows in (
        (Order, orders),
        (OrderLine, lines),
        (OrderRefund, refunds),
        (OrderEvent, events),
    ):
        if rows:
            session.execute(insert(_table(model)), list(rows))


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


def held(session: Session, limit: int) -> list[Order]:
    """The bound tenant's orders on hold for review (订单审核), oldest placed first."""
    stmt = (
        select(Order)
        .where(Order.status == OrderStatus.on_hold)
        .order_by(Order.placed_at, Order.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def count_with_status(session: Session, status: OrderStatus) -> int:
    """How many of the bound tenant's orders are in ``status``."""
    stmt = select(func.count()).select_from(Order).where(Order.status == status)
    return int(session.scalar(stmt) or 0)
