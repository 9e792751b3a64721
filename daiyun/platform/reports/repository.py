"""Every query of the sales reports.

The rollups are a read model of the order book: the aggregates below read the ``orders`` and
``order_lines`` tables directly (read only, in SQL), because loading orders through the order
service to sum them would cost what the rollups exist to save. Nothing here writes to them.

Days never reach SQL as time-zone arithmetic: the service turns each local day into a UTC range
``[start, end)`` in Python, so the same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session

from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.platform.reports.models import DailyProductSales, DailySales
from daiyun.tenants.models import Tenant

# --- the platform's tenant row ---------------------------------------------------------------


def tenant(session: Session, tenant_id: uuid.UUID) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.id == tenant_id))


def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def all_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.slug)))


# --- writing the rollups ---------------------------------------------------------------------


def delete_buckets(session: Session, day: date, shop_ids: Collection[uuid.UUID] | None) -> None:
    """Remove the rollup rows of one day (of the given shops, or of every shop)."""
    for model in (DailySales, DailyProductSales):
        stmt = delete(model).where(model.day == day)
        if shop_ids is not None:
            stmt = stmt.where(model.shop_id.in_(list(shop_ids)))
        session.execute(stmt.execution_options(synchronize_session=False))


def delete_all(session: Session) -> None:
    """Remove every rollup row of the bound tenant."""
    for model in (DailySales, DailyProductSales):
        session.execute(delete(model).execution_options(synchronize_session=False))


def insert_sales(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(DailySales), list(rows))


def insert_products(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(DailyProductSales), list(rows))


# --- the order events the rollups have not counted yet ---------------------------------------
#
# The rollups follow the order book through its outbox events. An event the rollups' handler has
# counted carries that handler's mark (``handled_events``), whether its own delivery ran it or a
# catch-up counted it with others; the rest are still to count.


def _uncounted(topics: Sequence[str], handler: str) -> Any:
    counted = exists().where(
        HandledEvent.tenant_id == OutboxEvent.tenant_id,
        HandledEvent.event_id == OutboxEvent.id,
        HandledEvent.handler == handler,
    )
    # Delivered events ran every handler: the index on (tenant, delivered_at) leaves the few
    # undelivered ones to look at.
    return (
        OutboxEvent.delivered_at.is_(None),
        OutboxEvent.topic.in_(list(topics)),
        ~counted,
    )


def claim_uncounted(
    session: Session, topics: Sequence[str], handler: str, limit: int
) -> list[OutboxEvent]:
    """Up to ``limit`` of the bound tenant's events of ``topics`` that ``handler`` has not
    counted, oldest first, locked for this transaction. Rows another transaction holds (a
    concurrent catch-up, the relay) are skipped rather than waited for (PostgreSQL; SQLite has
    one writer at a time anyway)."""
    stmt = (
        select(OutboxEvent)
        .where(*_uncounted(topics, handler))
        .order_by(OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def count_uncounted(session: Session, topics: Sequence[str], handler: str) -> int:
    stmt = select(func.count()).select_from(OutboxEvent).where(*_uncounted(topics, handler))
    return int(session.scalar(stmt) or 0)


def mark_counted(session: Session, event_ids: Iterable[uuid.UUID], handler: str) -> None:
    """Give these events ``handler``'s mark, as its own delivery would (the delivery then skips
    it). ORM rows, so the tenant guard stamps them."""
    session.add_all(HandledEvent(event_id=event_id, handler=handler) for event_id in event_ids)


def last_computed(session: Session) -> datetime | None:
    """When a rollup of the bound tenant was last recomputed."""
    return session.scalar(select(func.max(DailySales.computed_at)))


# --- reading the rollups ---------------------------------------------------------------------


@dataclass(frozen=True)
class SalesRow:
    """Rolled-up figures of one (day, shop, channel) in one currency."""

    day: date
    shop_id: uuid.UUID
    channel: str
    orders: int
    paid_orders: int
    gmv_minor: int
    items_sold: int
    refunded_minor: int
    refunded_orders: int


def sales_rows(
    session: Session, first: date, last: date, currency: str, channel: str | None
) -> list[SalesRow]:
    """The rollups of days ``first`` to ``last`` (inclusive), one currency, maybe one channel."""
    stmt = select(
        DailySales.day,
        DailySales.shop_id,
        DailySales.channel,
        DailySales.orders,
        DailySales.paid_orders,
        DailySales.gmv_minor,
        DailySales.items_sold,
        DailySales.refunded_minor,
        DailySales.refunded_orders,
    ).where(DailySales.day >= first, DailySales.day <= last, DailySales.currency == currency)
    if channel is not None:
        stmt = stmt.where(DailySales.channel == channel)
    return [SalesRow(*row) for row in session.execute(stmt)]


def currencies(session: Session, first: date, last: date, channel: str | None) -> list[str]:
    """Currencies with rollups in days ``first`` to ``last``."""
    stmt = (
        select(DailySales.currency)
        .where(DailySales.day >= first, DailySales.day <= last)
        .group_by(DailySales.currency)
        .order_by(DailySales.currency)
    )
    if channel is not None:
        stmt = stmt.where(DailySales.channel == channel)
    return list(session.scalars(stmt))


def top_products(
    session: Session, first: date, last: date, currency: str, channel: str | None, limit: int
) -> list[tuple[str, str, int, int, int]]:
    """(SKU, title, quantity, revenue, orders) of the best sellers by revenue in the days."""
    revenue = func.sum(DailyProductSales.revenue_minor)
    quantity = func.sum(DailyProductSales.quantity)
    stmt = (
        select(
            DailyProductSales.sku,
            func.max(DailyProductSales.title),
            quantity,
            revenue,
            func.sum(DailyProductSales.orders),
        )
        .where(
            DailyProductSales.day >= first,
            DailyProductSales.day <= last,
            DailyProductSales.currency == currency,
        )
        .group_by(DailyProductSales.sku)
        .order_by(revenue.desc(), quantity.desc(), DailyProductSales.sku)
        .limit(limit)
    )
    if channel is not None:
        stmt = stmt.where(DailyProductSales.channel == channel)
    return [
        (row[0], row[1], int(row[2]), int(row[3]), int(row[4])) for row in session.execute(stmt)
    ]


def rollup_rows(session: Session) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every rollup row of the bound tenant without ids and times (to compare two builds)."""
    sales = select(
        DailySales.shop_id,
        DailySales.channel,
        DailySales.currency,
        DailySales.day,
        DailySales.orders,
        DailySales.paid_orders,
        DailySales.gmv_minor,
        DailySales.items_sold,
        DailySales.refunded_minor,
        DailySales.refunded_orders,
    )
    products = select(
        DailyProductSales.shop_id,
        DailyProductSales.channel,
        DailyProductSales.currency,
        DailyProductSales.day,
        DailyProductSales.sku,
        DailyProductSales.title,
        DailyProductSales.quantity,
        DailyProductSales.revenue_minor,
        DailyProductSales.orders,
    )
    return (
        sorted(tuple(r) for r in session.execute(sales)),
        sorted(tuple(r) for r in session.execute(products)),
    )


def shop_ids_of(rows: Iterable[SalesRow]) -> set[uuid.UUID]:
    return {row.shop_id for row in rows}


def gmv_by_currency_and_day(
    session: Session, first: date, last: date, channel: str | None
) -> dict[str, dict[date, int]]:
    """GMV per currency and day of days ``first`` to ``last`` (inclusive), days with GMV only."""
    stmt = (
        select(DailySales.currency, DailySales.day, func.sum(DailySales.gmv_minor))
        .where(DailySales.day >= first, DailySales.day <= last)
        .group_by(DailySales.currency, DailySales.day)
    )
    if channel is not None:
        stmt = stmt.where(DailySales.channel == channel)
    found: dict[str, dict[date, int]] = {}
    for currency, day, gmv in session.execute(stmt):
        if gmv:
            found.setdefault(currency, {})[day] = int(gmv)
    return found


def product_sales(
    session: Session, first: date, last: date, currency: str, *, by_day: bool
) -> list[tuple[str, str, date, int, int, str, uuid.UUID, int]]:
    """(SKU, currency, day, quantity, revenue, a title, shop, units returned) of the SKUs sold
    in days ``first`` to ``last`` (inclusive) in ``currency``, or with ``by_day`` in every other
    currency: per shop (a SKU string means a SKU per shop, as the catalog maps them), the
    shop's channels summed; per day with ``by_day`` (a conversion needs each day's rate), else
    the days summed and named by ``first``."""
    grouped = [DailyProductSales.sku, DailyProductSales.currency, DailyProductSales.shop_id]
    if by_day:
        grouped.append(DailyProductSales.day)
    stmt = (
        select(
            *grouped,
            func.sum(DailyProductSales.quantity),
            func.sum(DailyProductSales.revenue_minor),
            func.max(DailyProductSales.title),
            func.sum(DailyProductSales.returned_units),
        )
        .where(
            DailyProductSales.day >= first,
            DailyProductSales.day <= last,
            (DailyProductSales.currency != currency)
            if by_day
            else (DailyProductSales.currency == currency),
        )
        .group_by(*grouped)
    )
    found: list[tuple[str, str, date, int, int, str, uuid.UUID, int]] = []
    for row in session.execute(stmt):
        values: tuple[Any, ...] = tuple(row)
        sku, code, shop_id = values[0], values[1], values[2]
        quantity, revenue, title, returned = values[-4], values[-3], values[-2], values[-1]
        day = values[3] if by_day else first
        found.append(
            (
                sku,
                code,
                day,
                int(quantity or 0),
                int(revenue or 0),
                title,
                shop_id,
                int(returned or 0),
            )
        )
    return found
