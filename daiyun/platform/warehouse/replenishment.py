"""Replenishment (补货) and stock alerts.

Min/max rules per SKU and warehouse with a lead time; suggestions weigh them against what is
available (on hand − reserved), what is coming (open receipts' expected lines, transfers in
transit) and the sales velocity read from the reports' daily product rollups (through their
service). Sales are not per warehouse: a SKU's velocity is shared evenly by the warehouses that
have a rule for it. A bundle's sales count as sales of its parts.

Alerts list, per owner: stock at or below its safety stock or minimum, batches expiring within
N days (or expired), and slow movers (stock on hand, no sale in N days).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy.orm import Session

from daiyun.core import periods
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.platform.reports import products as product_sales
from daiyun.platform.warehouse import repository, rules
from daiyun.platform.warehouse.models import ReplenishmentRule
from daiyun.platform.warehouse.reservations import match_sku
from daiyun.platform.warehouse.schemas import (
    AlertKind,
    AlertRead,
    ReplenishmentRuleIn,
    ReplenishmentRules,
    ReplenishmentRulesRead,
    SuggestionRead,
)
from daiyun.platform.warehouse.service import _active_warehouse, safety_stock, sku, stocked_sku
from daiyun.tenants import service as tenant_service

VELOCITY_DAYS = 28
EXPIRY_DAYS = 30
SLOW_DAYS = 60


def get_rules(session: Session) -> ReplenishmentRulesRead:
    return ReplenishmentRulesRead(
        rules=[
            ReplenishmentRuleIn(
                sku_id=r.sku_id,
                warehouse_id=r.warehouse_id,
                min_quantity=r.min_quantity,
                max_quantity=r.max_quantity,
                lead_time_days=r.lead_time_days,
            )
            for r in repository.replenishment_rules(session)
        ]
    )


def set_rules(session: Session, body: ReplenishmentRules) -> ReplenishmentRulesRead:
    """Replace the owner's min/max rules. A minimum above the maximum, a SKU and warehouse twice,
    a bundle or an inactive warehouse are refused (422)."""
    pairs = [(r.sku_id, r.warehouse_id) for r in body.rules]
    if len(set(pairs)) != len(pairs):
        raise Problem(422, "duplicate-rule", "A SKU and warehouse appear twice")
    for rule in body.rules:
        if rule.min_quantity > rule.max_quantity:
            raise Problem(
                422, "min-above-max", f"The minimum {rule.min_quantity} is above the maximum"
            )
        stocked_sku(session, rule.sku_id)
        _active_warehouse(session, rule.warehouse_id)
    repository.delete_replenishment_rules(session)
    session.flush()
    for rule in body.rules:
        session.add(ReplenishmentRule(**rule.model_dump()))
    session.flush()
    audit.record(
        session, "stock.replenishment.updated", "replenishment-rules", {"rules": len(pairs)}
    )
    return get_rules(session)


def _today(session: Session) -> date:
    """The merchant's today: the daily sales rollups are its days."""
    return periods.today(tenant_service.time_zone(session))


def units_sold(session: Session, first: date, last: date) -> dict[uuid.UUID, int]:
    """Units sold per stocked SKU over days ``first`` to ``last`` (a bundle's sales are its
    parts'); order-line SKUs the catalog does not know are left out."""
    sold: dict[str, int] = defaultdict(int)
    for day in product_sales.bound_product_sales(session, first, last).days:
        sold[day.sku] += day.quantity
    units: dict[uuid.UUID, int] = defaultdict(int)
    for code, quantity in sold.items():
        matched = match_sku(session, code)
        for part, per in matched.parts if matched else ():
            units[part] += quantity * per
    return dict(units)


def _incoming(session: Session) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """Units on their way per (SKU, warehouse): open receipts' expected less received, and
    transfers in transit to the warehouse."""
    coming: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for receipt in repository.open_receipts(session):
        got: dict[str, int] = defaultdict(int)
        for move in repository.received_by_source(session, f"receipt:{receipt.id}"):
            got[move.sku_id.hex] += move.on_hand_delta
        for line in receipt.expected:
            left = line["quantity"] - got.get(line["sku_id"], 0)
            if left > 0:
                coming[(uuid.UUID(line["sku_id"]), receipt.warehouse_id)] += left
    for transfer in repository.transfers_in_transit(session):
        for line in transfer.lines:
            coming[(uuid.UUID(line["sku_id"]), transfer.to_warehouse_id)] += line["quantity"]
    return coming


def _available(session: Session, sku_ids: set[uuid.UUID]) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    found: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for row in repository.stock_for(session, sku_ids):
        found[(row.sku_id, row.warehouse_id)] += row.on_hand - row.reserved
    return found


def suggestions(
    session: Session,
    *,
    warehouse_id: uuid.UUID | None = None,
    days: int = VELOCITY_DAYS,
    today: date | None = None,
    all_rules: bool = False,
) -> list[SuggestionRead]:
    """What to order per SKU and warehouse with a rule, most urgent first (then the fewest days
    of cover); only what needs ordering unless ``all_rules``."""
    today = today or _today(session)
    ruled = repository.replenishment_rules(session)
    if not ruled:
        return []
    sold = units_sold(session, today - timedelta(days=days), today - timedelta(days=1))
    sharing: dict[uuid.UUID, int] = defaultdict(int)
    for rule in ruled:
        sharing[rule.sku_id] += 1
    sku_ids = {r.sku_id for r in ruled}
    available, incoming = _available(session, sku_ids), _incoming(session)
    safety = safety_stock(session, sku_ids)
    items = []
    for rule in ruled:
        if warehouse_id is not None and rule.warehouse_id != warehouse_id:
            continue
        key = (rule.sku_id, rule.warehouse_id)
        rate = rules.daily_rate(sold.get(rule.sku_id, 0), days) / sharing[rule.sku_id]
        decided = rules.suggest(
            available=available.get(key, 0),
            incoming=incoming.get(key, 0),
            daily_sales=rate,
            min_quantity=rule.min_quantity,
            max_quantity=rule.max_quantity,
            lead_time_days=rule.lead_time_days,
            safety_stock=safety.get(key, 0),
        )
        if decided.quantity == 0 and not all_rules:
            continue
        items.append(
            SuggestionRead(
                sku_id=rule.sku_id,
                sku=sku(session, rule.sku_id).code,
                warehouse_id=rule.warehouse_id,
                available=available.get(key, 0),
                incoming=incoming.get(key, 0),
                daily_sales=round(rate, 2),
                days_of_cover=None
                if decided.days_of_cover is None
                else round(decided.days_of_cover, 1),
                reorder_point=decided.reorder_point,
                min_quantity=rule.min_quantity,
                max_quantity=rule.max_quantity,
                lead_time_days=rule.lead_time_days,
                quantity=decided.quantity,
                urgent=decided.urgent,
            )
        )
    cover = float("inf")
    items.sort(
        key=lambda s: (
            not s.urgent,
            s.days_of_cover if s.days_of_cover is not None else cover,
            s.sku,
        )
    )
    return items


def alerts(
    session: Session,
    *,
    expiring_within: int = EXPIRY_DAYS,
    slow_after: int = SLOW_DAYS,
    today: date | None = None,
) -> list[AlertRead]:
    """The owner's stock alerts: low stock, expiring or expired batches, slow movers."""
    today = today or _today(session)
    rows = repository.stock_with_batches(session)
    sku_ids = {stock.sku_id for stock, _ in rows}
    safety = safety_stock(session, sku_ids)
    minimum = {
        (r.sku_id, r.warehouse_id): r.min_quantity for r in repository.replenishment_rules(session)
    }
    codes = {s: sku(session, s).code for s in sku_ids | {k[0] for k in minimum}}
    on_hand: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    available: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    found = []
    for stock, batch in rows:
        key = (stock.sku_id, stock.warehouse_id)
        on_hand[key] += stock.on_hand
        available[key] += stock.on_hand - stock.reserved
        days = rules.expiry_state(batch.expires_on if batch else None, today, expiring_within)
        if batch is not None and days is not None and stock.on_hand > 0:
            found.append(
                AlertRead(
                    kind=AlertKind.expired if days < 0 else AlertKind.expiring,
                    sku_id=stock.sku_id,
                    sku=codes[stock.sku_id],
                    warehouse_id=stock.warehouse_id,
                    available=stock.on_hand - stock.reserved,
                    threshold=None,
                    lot=batch.lot,
                    expires_on=batch.expires_on,
                    days=days,
                )
            )
    for key in sorted(set(safety) | set(minimum), key=lambda k: (codes.get(k[0], ""), k[1])):
        threshold = max(safety.get(key, 0), minimum.get(key, 0))
        if threshold > 0 and available.get(key, 0) <= threshold:
            found.append(
                AlertRead(
                    kind=AlertKind.low_stock,
                    sku_id=key[0],
                    sku=codes[key[0]],
                    warehouse_id=key[1],
                    available=available.get(key, 0),
                    threshold=threshold,
                    lot=None,
                    expires_on=None,
                    days=None,
                )
            )
    sold = units_sold(session, today - timedelta(days=slow_after), today - timedelta(days=1))
    for key in sorted(on_hand, key=lambda k: (codes[k[0]], k[1])):
        if on_hand[key] > 0 and sold.get(key[0], 0) == 0:
            found.append(
                AlertRead(
                    kind=AlertKind.slow_mover,
                    sku_id=key[0],
                    sku=codes[key[0]],
                    warehouse_id=key[1],
                    available=available[key],
                    threshold=None,
                    lot=None,
                    expires_on=None,
                    days=slow_after,
                )
            )
    order = {AlertKind.expired: 0, AlertKind.low_stock: 1, AlertKind.expiring: 2}
    found.sort(key=lambda a: (order.get(a.kind, 3), a.sku, str(a.warehouse_id), a.lot or ""))
    return found
