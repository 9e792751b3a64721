"""The commission base of a period, gathered set-based, and the drill-down of a line's orders.

The database sums a period's orders per channel and category (``orders_sql.channel_sums``); the
engine prices those sums (:class:`GroupedOrders`) together with the few orders it must see one
by one (a refund in the period, a category share scaled down to the base). Nothing here holds a
period's orders in memory: a statement line names its grouped orders by a selector
(``orders:<kind>``) and :func:`line_sources` pages through them on request. A period's refunds
and service facts, few, are read one by one (:func:`other_facts`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy.orm import Session

from daiyun.billing import orders_sql, repository
from daiyun.billing.engine.commission import share_orders
from daiyun.billing.facts import (
    ORDERS_SELECTOR,
    BilledOrder,
    GroupedOrders,
    OrderFact,
    Period,
    RefundFact,
    ServiceFact,
    ServiceKind,
)
from daiyun.billing.models import Statement, StatementStatus
from daiyun.billing.terms import ContractTerms
from daiyun.core.errors import Problem
from daiyun.platform.orders import service as order_service

PAGE = 1000


@dataclass(frozen=True)
class PeriodBase:
    """A period's orders as the engine takes them: summed, plus the individual ones."""

    selection: orders_sql.Selection
    grouped: GroupedOrders
    orders: list[OrderFact]
    grouped_orders: int  # orders summed (excluded channels too): what finalize records


def gather(
    session: Session, terms: ContractTerms, period: Period, *, billed: bool = False
) -> PeriodBase:
    """The orders of a period not billed yet (or, with ``billed``, billed already)."""
    start, end = period.bounds(terms.time_zone)
    selection = orders_sql.selection(session, terms, start, end, billed=billed)
    grouped, count, _ = group(selection, orders_sql.channel_sums(session, selection))
    return PeriodBase(selection, grouped, individual(session, selection), count)


def group(
    selection: orders_sql.Selection, sums: list[orders_sql.ChannelSums]
) -> tuple[GroupedOrders, int, int]:
    """The grouped orders' sums by rate bucket, how many orders were summed (what finalize
    records) and how many of them are not in an excluded channel."""
    terms = selection.terms
    buckets: dict[str, tuple[int, int]] = {}

    def add(kind: str, base: int, orders: int) -> None:
        was = buckets.get(kind, (0, 0))
        buckets[kind] = (was[0] + base, was[1] + orders)

    net = 0
    count = 0
    kept = 0
    rated = selection.rated_categories
    for row in sums:
        count += row.orders
        if row.channel in terms.base.excluded_channels:
            continue
        net += row.base
        kept += row.orders
        if row.channel in terms.commission.channel_rates:
            add(f"commission:channel:{row.channel}", row.base, row.positive)
            add("commission", 0, row.orders - row.positive)
        elif rated:
            for name, (part, members) in row.categories.items():
                add(f"commission:category:{name}", part, members)
            add("commission", row.rest, row.rest_orders)
        else:
            add("commission", row.base, row.orders)
    return GroupedOrders({k: v for k, v in buckets.items() if v != (0, 0)}, net), count, kept


def individual(session: Session, selection: orders_sql.Selection) -> list[OrderFact]:
    """The selection's orders the engine takes one by one, page by page."""
    orders: list[OrderFact] = []
    after: uuid.UUID | None = None
    while True:
        page = orders_sql.individual_orders(session, selection, after=after, limit=PAGE)
        orders += [fact(order) for order in page]
        if len(page) < PAGE:
            return orders
        after = page[-1].id


def late_orders(
    session: Session, terms: ContractTerms, period: Period, currency: str | None = None
) -> list[OrderFact]:
    """The late orders of a closed period one by one: its orders not billed yet among the
    recorded late-order candidates (:mod:`daiyun.billing.late`; few, and no scan), in the
    contract's currency or in ``currency``."""
    start, end = period.bounds(terms.time_zone)
    selection = replace(
        orders_sql.selection(session, terms, start, end, late=True), currency=currency
    )
    orders: list[OrderFact] = []
    after: uuid.UUID | None = None
    while True:
        ids = orders_sql.grouped_order_ids(session, selection, after=after, limit=PAGE)
        found = order_service.orders_with_lines(session, ids, terms.base.date)
        orders += [fact(order) for order in found]
        if len(ids) < PAGE:
            return orders
        after = ids[-1]


def fact(order: order_service.OrderWithLines) -> OrderFact:
    return OrderFact(
        order_id=str(order.id),
        channel=order.channel,
        at=order.at,
        total_minor=order.total_minor,
        shipping_minor=order.shipping_minor,
        tax_minor=order.tax_minor,
        lines=order.lines,
    )


def bill(
    session: Session, base: PeriodBase, statement_id: uuid.UUID, period: str, shares: dict[str, int]
) -> None:
    """Record the grouped orders as billed by a statement (one INSERT ... SELECT).

    If the orders changed since they were summed (an order written in between), nothing is
    recorded and the caller is told to finalize again.
    """
    recorded = orders_sql.bill_grouped_orders(
        session,
        base.selection,
        statement_id,
        period,
        {kind: (shares.get(kind, 0), base) for kind, (base, _) in base.grouped.buckets.items()},
    )
    if recorded != base.grouped_orders:
        raise Problem(
            409, "facts-changed", "Orders of the period changed while finalizing: try again"
        )


# --- drill-down ------------------------------------------------------------------------------


def line_sources(
    session: Session,
    statement: Statement,
    terms: ContractTerms,
    position: int,
    after: str | None,
    limit: int,
) -> tuple[list[str], str | None]:
    """A page of the fact keys behind one line, in key order, and the cursor of the next page.

    Keys a line lists are paged as they are; a selector (``orders:<kind>``) stands for the
    statement's orders whose base falls on that line: for a finalized statement the orders it
    recorded as billed for its own period, for a draft the period's orders not billed yet. Each
    candidate's split is recomputed by the engine's rules, page by page. A draft's converted
    sales in other currencies (named by the rates on its ``fx-converted`` lines) are listed
    with the contract currency's orders, as a finalized statement lists them among the orders
    it billed (a draft missing a day's rate lists that day's orders too).
    """
    line = next((line for line in statement.lines if line.position == position), None)
    if line is None:
        raise Problem(404, "not-found", "No such line")
    kinds = [s.removeprefix(ORDERS_SELECTOR) for s in line.sources if _is_selector(s)]
    keys = sorted(s for s in line.sources if not _is_selector(s))
    found: list[str] = []
    if kinds:
        found = _orders_on(session, statement, terms, set(kinds), after, limit + 1)
    if len(found) <= limit:
        found += [key for key in keys if after is None or key > after][: limit + 1 - len(found)]
    page = found[:limit]
    return page, (page[-1] if len(found) > limit else None)


def _is_selector(source: str) -> bool:
    return source.startswith(ORDERS_SELECTOR)


def _orders_on(
    session: Session,
    statement: Statement,
    terms: ContractTerms,
    kinds: set[str],
    after: str | None,
    limit: int,
) -> list[str]:
    period = Period.parse(statement.period)
    start, end = period.bounds(terms.time_zone)
    selection = orders_sql.selection(session, terms, start, end)
    selections = [selection] + [
        replace(selection, currency=currency) for currency in _converted_currencies(statement)
    ]
    cursor: uuid.UUID | None = None
    if after is not None and after.startswith("order:"):
        try:
            cursor = uuid.UUID(after.removeprefix("order:"))
        except ValueError as exc:
            raise Problem(400, "invalid-cursor", "The cursor is not one this API issued") from exc
    elif after is not None and after > "order:":
        return []  # past every order key
    refunds: dict[str, list[RefundFact]] = {}
    for refund, channel in order_service.refunds_for_billing(session, start, end):
        made = RefundFact(
            str(refund.id), str(refund.order_id), channel, refund.refunded_at, refund.amount_minor
        )
        refunds.setdefault(made.order_id, []).append(made)
    found: list[str] = []
    while len(found) < limit:
        if statement.status == StatementStatus.draft:
            ids = _merged_ids(session, selections, cursor)
        else:
            ids = orders_sql.billed_order_ids(
                session, statement.id, statement.period, after=cursor, limit=PAGE
            )
        if not ids:
            break
        orders = [fact(o) for o in order_service.orders_with_lines(session, ids, terms.base.date)]
        kept = [o for o in orders if o.channel not in terms.base.excluded_channels]
        found += [
            share.order.key
            for share in share_orders(terms, kept, refunds)
            if kinds & set(share.buckets)
        ]
        cursor = ids[-1]
    return found[:limit]


def _converted_currencies(statement: Statement) -> list[str]:
    """The currencies a statement converted: those of the rate keys (``rate:CNY/USD:<day>:<r>``)
    its ``fx-converted`` lines name."""
    found = {
        source.split(":")[1].split("/")[0]
        for line in statement.lines
        if line.kind == "fx-converted"
        for source in line.sources
        if source.startswith("rate:")
    }
    return sorted(found)


def _merged_ids(
    session: Session, selections: list[orders_sql.Selection], after: uuid.UUID | None
) -> list[uuid.UUID]:
    """The next ids (in order) among several selections: a page of each, up to the first id
    where one page ends (past it, that selection may have ids not read yet)."""
    pages = [
        orders_sql.grouped_order_ids(session, selection, after=after, limit=PAGE)
        for selection in selections
    ]
    ids = sorted({order_id for page in pages for order_id in page})
    full = [page[-1] for page in pages if len(page) == PAGE]
    return [order_id for order_id in ids if order_id <= min(full)] if full else ids


# --- the period's other facts: refunds and service facts ---------------------------------


@dataclass
class OtherFacts:
    """A period's refunds and service facts (few: read one by one, unlike its orders)."""

    refunds: list[RefundFact] = field(default_factory=list)
    services: list[ServiceFact] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.refunds] + [f.key for f in self.services]


def other_facts(session: Session, terms: ContractTerms, period: Period) -> OtherFacts:
    """Every refund and service fact placed in a period (billed or not)."""
    start, end = period.bounds(terms.time_zone)
    facts = OtherFacts()
    for refund, channel in order_service.refunds_for_billing(session, start, end):
        facts.refunds.append(
            RefundFact(
                refund_id=str(refund.id),
                order_id=str(refund.order_id),
                channel=channel,
                at=refund.refunded_at,
                amount_minor=refund.amount_minor,
            )
        )
    for record in repository.service_facts_between(session, period.first_day, period.last_day):
        if record.currency != terms.currency:
            continue
        facts.services.append(
            ServiceFact(
                fact_id=str(record.id),
                kind=ServiceKind(record.kind),
                occurred_on=record.occurred_on,
                quantity=Decimal(record.quantity),
                amount_minor=record.amount_minor,
                description=record.description,
            )
        )
    return facts


def split_billed(session: Session, facts: OtherFacts) -> tuple[OtherFacts, OtherFacts]:
    """(not billed yet, billed already)."""
    billed = repository.billed_keys(session, facts.keys)
    return (
        OtherFacts(
            [f for f in facts.refunds if f.key not in billed],
            [f for f in facts.services if f.key not in billed],
        ),
        OtherFacts(
            [f for f in facts.refunds if f.key in billed],
            [f for f in facts.services if f.key in billed],
        ),
    )


def billed_map(session: Session, refunds: list[RefundFact]) -> dict[str, BilledOrder]:
    """What was billed on the refunded orders: the limit of their clawbacks. A converted order
    (marked with its currency) keeps its base in that currency: its refund, in the same currency,
    takes back that share of the commission billed on it, with no rate needed."""
    rows = repository.billed_orders(session, {f"order:{r.order_id}" for r in refunds})
    return {
        row.fact_key.removeprefix("order:"): BilledOrder(
            row.fact_key.removeprefix("order:"),
            row.base_minor,
            row.commission_minor,
            row.clawed_back_minor,
            (row.detail or {}).get("currency"),
        )
        for row in rows
    }
