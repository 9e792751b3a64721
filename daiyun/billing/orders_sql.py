"""The commission base in SQL: which orders a statement selects, and their sums.

A period's orders are never loaded one by one to bill them: the database sums them per channel
(and per category), and only the few orders whose split is not in whole minor units (a refund
in the period, a category share scaled down to the base) are read as facts. The order book
hands over its rows as a subquery (``order_service.billable_orders``), which the statements here
join with what billing recorded as billed, so the database still does it all in one statement.
Every statement carries the tenant explicitly, so Core inserts and subqueries are scoped like
ORM reads.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    Table,
    Uuid,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from daiyun.billing.models import BilledFact, LateOrder
from daiyun.billing.terms import ContractTerms
from daiyun.core.tenancy import TenantContextMissing, current_tenant
from daiyun.platform.orders import service as order_service


@dataclass(frozen=True)
class Selection:
    """The orders of a period under a contract: in its states, dated in ``[start, end)`` by its
    base date, in its currency; ``billed`` picks those already billed (closed periods) instead
    of those not billed yet. Made by :func:`selection`."""

    terms: ContractTerms
    start: datetime
    end: datetime
    billed: bool
    # The newest order (by id, so by creation) a statement billed, None when none was. An order
    # is billed after it was created: a newer order was not billed, and is not looked up.
    newest_billed: uuid.UUID | None
    # Only the recorded late-order candidates (a closed period's late orders), not a scan.
    late: bool = False
    # Orders in another currency than the contract's (converted sales, daiyun.billing.conversion)
    # and, within the period (refunds are still the period's), only those dated in [from, to).
    currency: str | None = None
    within: tuple[datetime, datetime] | None = None

    @property
    def rated_categories(self) -> list[str]:
        commission = self.terms.commission
        return sorted(set(commission.categories.values()) & set(commission.category_rates))

    @property
    def orders(self) -> order_service.BillableOrders:
        """The order book's side: which orders, with the line sums the split needs (whether
        they were billed is billing's own side, :func:`_billed_filter`)."""
        terms = self.terms
        rated = self.rated_categories
        return order_service.BillableOrders(
            start=self.start,
            end=self.end,
            by=terms.base.date,
            statuses=tuple(sorted(terms.base.statuses)),
            currency=self.currency or terms.currency,
            excluded_skus=tuple(sorted(terms.base.excluded_skus)),
            categories=tuple(terms.commission.categories.items()) if rated else (),
            summed_categories=tuple(rated),
        )


@dataclass(frozen=True)
class ChannelSums:
    """One channel's orders summed (the grouped ones, not the individual ones)."""

    channel: str
    orders: int
    base: int
    positive: int  # orders with a base above zero (asked for only with channel rates)
    # category -> (sum of its line totals, orders with some) and the rest of the base
    categories: dict[str, tuple[int, int]]
    rest: int
    rest_orders: int  # orders with a positive rest, or nothing to bill (only with categories)


def bound_tenant(session: Session) -> uuid.UUID:
    tenant = current_tenant(session)
    if tenant is None:
        raise TenantContextMissing("no tenant bound to this session")
    return tenant


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def order_key(session: Session, column: Any) -> ColumnElement[str]:
    """``'order:' || <the id as text>`` (SQLite keeps a UUID as 32 hex digits, without dashes)."""
    if _dialect(session) == "postgresql":
        return literal("order:") + cast(column, String)
    text_id = cast(column, String)
    parts = [func.substr(text_id, start, length) for start, length in UUID_PARTS]
    key: ColumnElement[str] = literal("order:") + parts[0]
    for part in parts[1:]:
        key = key + "-" + part
    return key


UUID_PARTS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


def selection(
    session: Session,
    terms: ContractTerms,
    start: datetime,
    end: datetime,
    *,
    billed: bool = False,
    late: bool = False,
) -> Selection:
    newest = (
        select(BilledFact.order_id)
        .where(BilledFact.tenant_id == bound_tenant(session), BilledFact.order_id.is_not(None))
        .order_by(BilledFact.order_id.desc())
        .limit(1)
    )  # PostgreSQL has no max() of a uuid; the index gives the newest
    return Selection(terms, start, end, billed, session.scalar(newest), late)


def _billed_filter(
    session: Session, selection: Selection, order_id: Any
) -> list[ColumnElement[bool]]:
    """The selection's orders among those billed already, or among those not billed yet."""
    billed = (
        select(BilledFact.id)
        .where(BilledFact.tenant_id == bound_tenant(session), BilledFact.order_id == order_id)
        .exists()
    )
    if selection.billed:
        return [billed]
    if selection.newest_billed is not None:
        # Only orders created before the newest billed one are looked up.
        return [or_(order_id > selection.newest_billed, ~billed)]
    return []


def _per_order(session: Session, selection: Selection) -> Any:
    """One row per order of the selection: id, channel, base, and what the split needs."""
    orders = order_service.billable_orders(session, selection.orders)
    rule = selection.terms.base
    raw: Any = orders.c.total_minor
    if not rule.include_shipping:
        raw = raw - orders.c.shipping_minor
    if not rule.include_tax:
        raw = raw - orders.c.tax_minor
    if rule.excluded_skus:
        raw = raw - orders.c.excluded_minor
    columns: list[Any] = [
        orders.c.id,
        orders.c.channel,
        case((raw > 0, raw), else_=0).label("base"),
        orders.c.refunded,
    ]
    rated = selection.rated_categories
    if rated:
        columns.append(orders.c.kept_minor.label("kept"))
        columns += [orders.c[f"category_{n}_minor"].label(f"c{n}") for n in range(len(rated))]
    billed = _billed_filter(session, selection, orders.c.id)
    if selection.late:
        candidates = select(LateOrder.order_id).where(LateOrder.tenant_id == bound_tenant(session))
        billed.append(orders.c.id.in_(candidates))
    if selection.within is not None:
        billed += [orders.c.at >= selection.within[0], orders.c.at < selection.within[1]]
    return select(*columns).where(*billed).subquery("per_order")


def _by_channel(terms: ContractTerms) -> bool:
    """Whether the base is split by channel: only when the contract names channels."""
    return bool(terms.commission.channel_rates or terms.base.excluded_channels)


def _individual(selection: Selection, rows: Any) -> ColumnElement[bool]:
    """Orders the engine takes one by one: refunded in the period, or a scaled category split."""
    condition: ColumnElement[bool] = rows.c.refunded
    channel_rates = sorted(selection.terms.commission.channel_rates)
    if selection.rated_categories:
        scaled = rows.c.kept > rows.c.base
        if channel_rates:
            scaled = scaled & rows.c.channel.not_in(channel_rates)
        condition = or_(condition, scaled)
    return condition


def channel_sums(session: Session, selection: Selection) -> list[ChannelSums]:
    """The grouped orders of a selection, summed per channel in one aggregate (one row, channel
    ``""``, when the contract names no channel).

    Only the sums the contract needs are asked for: a count of positive bases for channel rates,
    the rest of the base beside the rated categories for those.
    """
    rows = _per_order(session, selection)
    by_channel = _by_channel(selection.terms)
    rated = selection.rated_categories
    cats = [rows.c[f"c{n}"] for n in range(len(rated))]
    columns: list[Any] = [
        (rows.c.channel if by_channel else literal("")).label("channel"),
        func.count().label("orders"),
        func.coalesce(func.sum(rows.c.base), 0).label("base"),
    ]
    if selection.terms.commission.channel_rates:
        columns.append(func.count(case((rows.c.base > 0, 1))).label("positive"))
    if rated:
        rest: Any = rows.c.base
        for column in cats:
            rest = rest - column
        columns += [
            func.coalesce(func.sum(rest), 0).label("rest"),
            func.count(case((or_(rest > 0, rows.c.base == 0), 1))).label("rest_orders"),
        ]
        for n, column in enumerate(cats):
            columns += [
                func.coalesce(func.sum(column), 0).label(f"sum{n}"),
                func.count(case((column > 0, 1))).label(f"count{n}"),
            ]
    stmt = select(*columns).where(~_individual(selection, rows))
    if by_channel:
        stmt = stmt.group_by(rows.c.channel)
    found = []
    for row in session.execute(stmt).mappings():
        if not row["orders"]:
            continue  # no GROUP BY: one row even when nothing matched
        base = int(row["base"])
        found.append(
            ChannelSums(
                channel=row["channel"],
                orders=int(row["orders"]),
                base=base,
                positive=int(row.get("positive", 0)),
                categories={
                    name: (int(row[f"sum{n}"]), int(row[f"count{n}"]))
                    for n, name in enumerate(rated)
                },
                rest=int(row.get("rest", base)),
                rest_orders=int(row.get("rest_orders", 0)),
            )
        )
    return found


def individual_orders(
    session: Session, selection: Selection, *, after: uuid.UUID | None = None, limit: int = 1000
) -> list[order_service.OrderWithLines]:
    """A page (by id) of the selection's orders the engine takes one by one, with their lines."""
    rows = _per_order(session, selection)
    individual = _individual(selection, rows)
    if not selection.rated_categories:
        # Only refunded orders: look them up by id instead of scanning the period.
        refunded = order_service.refunded_order_ids(session, selection.start, selection.end)
        individual = rows.c.id.in_(refunded)
    stmt = select(rows.c.id).where(individual).order_by(rows.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(rows.c.id > after)
    ids = list(session.scalars(stmt))
    return order_service.orders_with_lines(session, ids, selection.terms.base.date)


def grouped_order_ids(
    session: Session,
    selection: Selection,
    *,
    after: uuid.UUID | None,
    limit: int,
    channels: list[str] | None = None,
) -> list[uuid.UUID]:
    """A page (by id) of the selection's orders, optionally of some channels only."""
    rows = _per_order(session, selection)
    stmt = select(rows.c.id).order_by(rows.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(rows.c.id > after)
    if channels is not None:
        stmt = stmt.where(rows.c.channel.in_(channels))
    return list(session.scalars(stmt))


def billed_order_ids(
    session: Session, statement_id: uuid.UUID, period: str, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """A page (by id) of the orders a statement recorded as billed for a period."""
    stmt = select(BilledFact.order_id).where(
        BilledFact.tenant_id == bound_tenant(session),
        BilledFact.statement_id == statement_id,
        BilledFact.period == period,
        BilledFact.order_id.is_not(None),
    )
    if after is not None:
        stmt = stmt.where(BilledFact.order_id > after)
    ids = session.scalars(stmt.order_by(BilledFact.order_id).limit(limit))
    return [order_id for order_id in ids if order_id is not None]  # none: typing only


def bill_grouped_orders(
    session: Session,
    selection: Selection,
    statement_id: uuid.UUID,
    period: str,
    shares: dict[str, tuple[int, int]],
    detail: str = "{}",
) -> int:
    """Record the selection's grouped orders as billed by a statement, in one INSERT ... SELECT.

    ``shares``: line kind -> (commission of the grouped orders on that line, their base on it).
    Each line's share is split over its orders in proportion to their part, by largest remainder
    (ties to the smaller order id), as the engine splits it; an order's commission is the sum of
    its parts' (a category order may have several). Orders of excluded channels are recorded with
    nothing billed. ``detail``: the JSON text each row keeps. Returns the number recorded.
    """
    tenant = bound_tenant(session)
    terms = selection.terms
    rows = _per_order(session, selection)
    grouped = select(rows).where(~_individual(selection, rows)).subquery("grouped")
    excluded = sorted(terms.base.excluded_channels)
    channel_rates = sorted(set(terms.commission.channel_rates) - set(excluded))
    rated = selection.rated_categories
    plain = grouped.c.channel.not_in(excluded + channel_rates)
    parts: list[Any] = []
    for channel in channel_rates:
        kind = f"commission:channel:{channel}"
        parts.append(
            select(grouped.c.id, literal(kind).label("kind"), grouped.c.base.label("part")).where(
                grouped.c.channel == channel, grouped.c.base > 0
            )
        )
    rest: Any = grouped.c.base
    for n, name in enumerate(rated):
        column = grouped.c[f"c{n}"]
        rest = rest - column
        parts.append(
            select(
                grouped.c.id,
                literal(f"commission:category:{name}").label("kind"),
                column.label("part"),
            ).where(plain, column > 0)
        )
    parts.append(
        select(grouped.c.id, literal("commission").label("kind"), rest.label("part")).where(
            plain, rest > 0
        )
    )
    every = union_all(*parts).subquery("parts")
    amount: Any = literal(0)
    whole: Any = literal(1)
    if shares:
        amount = case(*[(every.c.kind == k, share) for k, (share, _) in shares.items()], else_=0)
        whole = case(*[(every.c.kind == k, base or 1) for k, (_, base) in shares.items()], else_=1)
    product = every.c.part * amount
    floors = select(
        every.c.id,
        every.c.kind,
        (product // whole).label("floor"),
        (product % whole).label("remainder"),
        amount.label("amount"),
    ).subquery("floors")
    ranked = select(
        floors.c.id,
        (
            floors.c.floor
            + case(
                (
                    func.row_number().over(
                        partition_by=floors.c.kind,
                        order_by=(floors.c.remainder.desc(), floors.c.id),
                    )
                    <= floors.c.amount - func.sum(floors.c.floor).over(partition_by=floors.c.kind),
                    1,
                ),
                else_=0,
            )
        ).label("commission"),
    ).subquery("ranked")
    per_order = (
        select(ranked.c.id, func.sum(ranked.c.commission).label("commission"))
        .group_by(ranked.c.id)
        .subquery("per_order_commission")
    )
    postgres = _dialect(session) == "postgresql"
    new_key = func.gen_random_uuid() if postgres else func.lower(func.hex(func.randomblob(16)))
    detail_text: Any = literal(detail, String())
    detail_column = cast(detail_text, JSON) if postgres else detail_text
    source = select(
        literal(tenant, Uuid()),
        new_key,
        literal(statement_id, Uuid()),
        order_key(session, grouped.c.id),
        grouped.c.id,
        literal(period),
        case((grouped.c.channel.in_(excluded), 0), else_=grouped.c.base),
        func.coalesce(per_order.c.commission, 0),
        literal(0),
        detail_column,
    ).select_from(grouped.outerjoin(per_order, per_order.c.id == grouped.c.id))
    table = BilledFact.__table__
    assert isinstance(table, Table)
    stmt = insert(table).from_select(
        [
            "tenant_id",
            "id",
            "statement_id",
            "fact_key",
            "order_id",
            "period",
            "base_minor",
            "commission_minor",
            "clawed_back_minor",
            "detail",
        ],
        source,
    )
    recorded = int(session.connection().execute(stmt).rowcount)
    if recorded >= 0:
        return recorded
    # A driver that does not report the count: count what the statement recorded with this
    # detail (the contract currency's orders are recorded before another currency's).
    return int(
        session.scalar(
            select(func.count())
            .select_from(BilledFact)
            .where(
                BilledFact.tenant_id == tenant,
                BilledFact.statement_id == statement_id,
                BilledFact.fact_key.like("order:%"),
                cast(BilledFact.detail, String) == detail,
            )
        )
        or 0
    )
