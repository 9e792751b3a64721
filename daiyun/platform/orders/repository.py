"""Every query of the order book."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    Table,
    and_,
    case,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session

from daiyun.platform.orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    ReviewPolicy,
)
from daiyun.platform.orders.normalized import NOT_PAID, OrderStatus

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


class OrderSort(StrEnum):
    """The order of an order list: by import (the id, oldest first), by placed time or by total,
    each either way (``-`` first is largest or newest first)."""

    imported = "id"
    placed_newest = "-placed_at"
    placed_oldest = "placed_at"
    total_largest = "-total"
    total_smallest = "total"

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")

    @property
    def key(self) -> Any:
        """The column ordered on before the id (None: the id alone)."""
        return {"placed_at": Order.placed_at, "total": Order.total_minor}.get(
            self.value.lstrip("-")
        )


def sorted_page(
    session: Session,
    stmt: Select[Any],
    sort: OrderSort,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[Order]:
    """Up to ``limit`` rows of ``stmt`` in ``sort`` order that come after the row whose (key,
    id) is ``after``: a keyset page, so rows inserted meanwhile neither repeat nor shift a page.

    The id breaks ties (many orders share a total or a placed second) in the same direction as
    the key, so (key, id) is a total order and the comparison below picks up exactly where the
    previous page stopped.
    """
    column = sort.key
    if column is None:
        raise ValueError("the id order pages with core.pagination")
    if after is not None:
        value, last_id = after
        if sort.descending:
            stmt = stmt.where(or_(column < value, and_(column == value, Order.id < last_id)))
        else:
            stmt = stmt.where(or_(column > value, and_(column == value, Order.id > last_id)))
    order = (column.desc(), Order.id.desc()) if sort.descending else (column, Order.id)
    return list(session.scalars(stmt.order_by(*order).limit(limit)))


def count(session: Session, stmt: Select[Any]) -> int:
    """How many orders ``stmt`` (a :func:`filtered` select) finds. The count keeps the select's
    FROM and WHERE, so the tenant guard and row security apply to it as to the list."""
    counted = stmt.with_only_columns(func.count(Order.id), maintain_column_froms=True)
    return int(session.scalar(counted.order_by(None)) or 0)


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


# --------------------------------------------------------------------------------------------
# What reports read (the daily rollups are built from these aggregates)
# --------------------------------------------------------------------------------------------


def _paid() -> ColumnElement[bool]:
    return Order.status.notin_(NOT_PAID)


def external_ids(session: Session, order_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The marketplace's order number of each of the bound tenant's orders among ``order_ids``."""
    if not order_ids:
        return {}
    stmt = select(Order.id, Order.external_id).where(Order.id.in_(list(order_ids)))
    return {row[0]: row[1] for row in session.execute(stmt)}


def placements(
    session: Session, order_ids: Collection[uuid.UUID]
) -> list[tuple[uuid.UUID, datetime]]:
    """(shop id, placed at) of the bound tenant's orders among ``order_ids``."""
    if not order_ids:
        return []
    stmt = select(Order.shop_id, Order.placed_at).where(Order.id.in_(list(order_ids)))
    return [(row[0], row[1]) for row in session.execute(stmt)]


def started_at(session: Session, order_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """When each of the bound tenant's orders among ``order_ids`` was paid (placed, if unpaid)."""
    if not order_ids:
        return {}
    stmt = select(Order.id, Order.paid_at, Order.placed_at).where(Order.id.in_(list(order_ids)))
    return {row[0]: row[1] or row[2] for row in session.execute(stmt)}


def placed_span(session: Session) -> tuple[datetime | None, datetime | None]:
    """The first and last placement time in the bound tenant's order book."""
    row = session.execute(select(func.min(Order.placed_at), func.max(Order.placed_at))).one()
    return row[0], row[1]


def currencies(session: Session) -> list[str]:
    """The currencies of the bound tenant's orders, ever: one index seek per currency (the
    next one after the last found) on ``ix_orders_tenant_currency``, never a scan of the book."""
    found: list[str] = []
    while True:
        stmt = select(func.min(Order.currency))
        if found:
            stmt = stmt.where(Order.currency > found[-1])
        currency = session.scalar(stmt)
        if currency is None:
            return found
        found.append(currency)


def _in_range(start: datetime, end: datetime, shop_ids: Collection[uuid.UUID] | None) -> list[Any]:
    where: list[Any] = [Order.placed_at >= start, Order.placed_at < end]
    if shop_ids is not None:
        where.append(Order.shop_id.in_(list(shop_ids)))
    return where


def sales_aggregate(
    session: Session, start: datetime, end: datetime, shop_ids: Collection[uuid.UUID] | None
) -> list[dict[str, Any]]:
    """Per (shop, channel, currency): the figures of orders placed in ``[start, end)``."""
    paid = _paid()
    one_if_paid = case((paid, 1), else_=0)
    stmt = (
        select(
            Order.shop_id,
            Order.channel,
            Order.currency,
            func.count().label("orders"),
            func.sum(one_if_paid).label("paid_orders"),
            func.sum(case((paid, Order.total_minor), else_=0)).label("gmv_minor"),
            func.sum(case((paid, Order.item_count), else_=0)).label("items_sold"),
            func.sum(case((paid, Order.refunded_minor), else_=0)).label("refunded_minor"),
            func.sum(case((and_(paid, Order.refunded_minor > 0), 1), else_=0)).label(
                "refunded_orders"
            ),
        )
        .where(*_in_range(start, end, shop_ids))
        .group_by(Order.shop_id, Order.channel, Order.currency)
    )
    return [dict(row._mapping) for row in session.execute(stmt)]


def product_aggregate(
    session: Session, start: datetime, end: datetime, shop_ids: Collection[uuid.UUID] | None
) -> list[dict[str, Any]]:
    """Per (shop, channel, currency, SKU): quantity, revenue and orders of paid orders placed
    in ``[start, end)``."""
    stmt = (
        select(
            Order.shop_id,
            Order.channel,
            Order.currency,
            OrderLine.sku,
            func.max(OrderLine.title).label("title"),
            func.sum(OrderLine.quantity).label("quantity"),
            func.sum(OrderLine.total_minor).label("revenue_minor"),
            func.count(func.distinct(Order.id)).label("orders"),
        )
        .join(
            OrderLine,
            and_(OrderLine.tenant_id == Order.tenant_id, OrderLine.order_id == Order.id),
        )
        .where(*_in_range(start, end, shop_ids), _paid())
        .group_by(Order.shop_id, Order.channel, Order.currency, OrderLine.sku)
    )
    return [dict(row._mapping) for row in session.execute(stmt)]


def refund_lines(
    session: Session, start: datetime, end: datetime, shop_ids: Collection[uuid.UUID] | None
) -> list[tuple[uuid.UUID, str, str, list[dict[str, Any]]]]:
    """(shop, channel, currency, the refund's lines) of each refund of the paid orders placed in
    ``[start, end)``."""
    stmt = (
        select(Order.shop_id, Order.channel, Order.currency, OrderRefund.lines)
        .join(
            OrderRefund,
            and_(OrderRefund.tenant_id == Order.tenant_id, OrderRefund.order_id == Order.id),
        )
        .where(*_in_range(start, end, shop_ids), _paid())
    )
    return [(row[0], row[1], row[2], row[3] or []) for row in session.execute(stmt)]


# --------------------------------------------------------------------------------------------
# What billing reads (set-based: billing joins these selectables with its own tables)
# --------------------------------------------------------------------------------------------
#
# Each statement names the tenant explicitly: billing embeds them in Core INSERT ... SELECT
# statements, which the ORM guard does not see (PostgreSQL's row-level security still does).


# The selectables below, named for the service's signatures.
OrderRows = Subquery
OrderIds = Select[Any]


@dataclass(frozen=True)
class BillableOrders:
    """Which orders :func:`billable_orders` gives a row for, and the line sums each row carries.

    Orders in ``statuses`` and ``currency`` whose paid (``by="paid"``) or placed time falls in
    ``[start, end)``. Lines of ``excluded_skus`` are summed apart and left out of every other
    sum. A line takes the category of the longest prefix of its SKU among ``categories``
    (prefix, category); each of ``summed_categories`` is summed per order.
    """

    start: datetime
    end: datetime
    by: str
    statuses: tuple[OrderStatus, ...]
    currency: str
    excluded_skus: tuple[str, ...] = ()
    categories: tuple[tuple[str, str], ...] = ()
    summed_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderWithLines:
    """An order's amounts and (SKU, line total) lines; ``at`` is its paid time when asked for
    and it has one, else its placed time."""

    id: uuid.UUID
    channel: str
    at: datetime
    total_minor: int
    shipping_minor: int
    tax_minor: int
    lines: tuple[tuple[str, int], ...]


def refunded_order_ids(tenant_id: uuid.UUID, start: datetime, end: datetime) -> Select[Any]:
    """The ids of the tenant's orders with a refund made in ``[start, end)`` (one per refund)."""
    return select(OrderRefund.order_id).where(
        OrderRefund.tenant_id == tenant_id,
        OrderRefund.refunded_at >= start,
        OrderRefund.refunded_at < end,
    )


def _order_line_sum(tenant_id: uuid.UUID, condition: ColumnElement[bool] | None) -> Any:
    """The sum of the enclosing order's line totals (of the lines meeting ``condition``)."""
    stmt = select(func.coalesce(func.sum(OrderLine.total_minor), 0)).where(
        OrderLine.tenant_id == tenant_id, OrderLine.order_id == Order.id
    )
    if condition is not None:
        stmt = stmt.where(condition)
    return stmt.scalar_subquery()


def _line_category(categories: Sequence[tuple[str, str]]) -> Any:
    """The category of a line's SKU: the longest matching prefix (compared exactly)."""
    prefixes = sorted(categories, key=lambda p: -len(p[0]))
    return case(
        *[(func.substr(OrderLine.sku, 1, len(p)) == p, name) for p, name in prefixes],
        else_=None,
    )


def billable_orders(tenant_id: uuid.UUID, spec: BillableOrders) -> Subquery:
    """One row per order of ``spec``: ``id``, ``channel``, ``at`` (the time that placed it in
    the range), ``total_minor``, ``shipping_minor``, ``tax_minor``, ``refunded`` (a refund was
    made on it in the range), ``excluded_minor`` (its lines of excluded SKUs, when some are
    excluded) and, when categories are summed, ``kept_minor`` (its lines not excluded) and
    ``category_<n>_minor`` for the n-th of ``summed_categories`` (excluded lines left out).

    A plain filtered select with correlated line sums, so a database flattens it into the query
    that joins it (a filter there still runs before the sums).
    """
    at = Order.paid_at if spec.by == "paid" else Order.placed_at
    excluded = list(spec.excluded_skus)
    kept_sku = OrderLine.sku.not_in(excluded) if excluded else None
    # Refunds are few: their orders are looked up once, not a refund probe per order.
    refunded = Order.id.in_(refunded_order_ids(tenant_id, spec.start, spec.end))
    columns: list[Any] = [
        Order.id.label("id"),
        Order.channel.label("channel"),
        at.label("at"),
        Order.total_minor.label("total_minor"),
        Order.shipping_minor.label("shipping_minor"),
        Order.tax_minor.label("tax_minor"),
        refunded.label("refunded"),
    ]
    if excluded:
        excluded_sum = _order_line_sum(tenant_id, OrderLine.sku.in_(excluded))
        columns.append(excluded_sum.label("excluded_minor"))
    if spec.summed_categories:
        columns.append(_order_line_sum(tenant_id, kept_sku).label("kept_minor"))
        category = _line_category(spec.categories)
        for n, name in enumerate(spec.summed_categories):
            condition = category == name
            if kept_sku is not None:
                condition = condition & kept_sku
            columns.append(_order_line_sum(tenant_id, condition).label(f"category_{n}_minor"))
    stmt = select(*columns).where(
        Order.tenant_id == tenant_id,
        at >= spec.start,
        at < spec.end,
        Order.status.in_(list(spec.statuses)),
        Order.currency == spec.currency,
    )
    return stmt.subquery("billable_orders")


def orders_with_lines(
    session: Session, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], by: str
) -> list[OrderWithLines]:
    """The tenant's orders among ``ids`` with their lines (by position), in the order of
    ``ids``; ``by="paid"`` dates each by its paid time (placed time when unpaid)."""
    if not ids:
        return []
    lines: dict[uuid.UUID, list[tuple[str, int]]] = {}
    stmt = (
        select(OrderLine.order_id, OrderLine.sku, OrderLine.total_minor)
        .where(OrderLine.tenant_id == tenant_id, OrderLine.order_id.in_(ids))
        .order_by(OrderLine.order_id, OrderLine.position)
    )
    for order_id, sku, total in session.execute(stmt):
        lines.setdefault(order_id, []).append((sku, int(total)))
    found = {}
    orders = select(
        Order.id,
        Order.channel,
        Order.paid_at,
        Order.placed_at,
        Order.total_minor,
        Order.shipping_minor,
        Order.tax_minor,
    ).where(Order.tenant_id == tenant_id, Order.id.in_(ids))
    for row in session.execute(orders):
        found[row.id] = OrderWithLines(
            row.id,
            row.channel,
            (row.paid_at if by == "paid" else None) or row.placed_at,
            int(row.total_minor),
            int(row.shipping_minor),
            int(row.tax_minor),
            tuple(lines.get(row.id, ())),
        )
    return [found[i] for i in ids if i in found]


# --------------------------------------------------------------------------------------------
# What the catalog reads (set-based: it matches lines to its SKUs in one statement)
# --------------------------------------------------------------------------------------------


def order_line_keys(tenant_id: uuid.UUID) -> Subquery:
    """One row per order line of the tenant: ``line_id``, ``order_id``, the order's ``shop_id``
    and ``placed_at``, the line's ``marketplace_sku`` string and ``title``."""
    return (
        select(
            OrderLine.id.label("line_id"),
            OrderLine.order_id.label("order_id"),
            Order.shop_id.label("shop_id"),
            Order.placed_at.label("placed_at"),
            OrderLine.sku.label("marketplace_sku"),
            OrderLine.title.label("title"),
        )
        .join(Order, and_(Order.tenant_id == OrderLine.tenant_id, Order.id == OrderLine.order_id))
        .where(OrderLine.tenant_id == tenant_id)
        .subquery("order_line_keys")
    )


def delivered_between(
    session: Session, start: datetime, end: datetime, limit: int
) -> list[tuple[uuid.UUID, datetime]]:
    """(order, last change) of the orders the channel reports delivered whose last change fell
    in [start, end), oldest first."""
    stmt = (
        select(Order.id, Order.source_updated_at)
        .where(
            Order.status == OrderStatus.delivered,
            Order.source_updated_at >= start,
            Order.source_updated_at < end,
        )
        .order_by(Order.source_updated_at, Order.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]
