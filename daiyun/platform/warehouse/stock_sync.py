"""Stock sync to shops (库存同步): share rules per shop and SKU, each listing's sync, resyncs.

A rule gives one shop a share of a SKU's sellable stock (``sku_id`` None: of every SKU without
its own rule there): a ratio or a fixed quantity, with a safety floor. Ratios of one SKU over
all its shops may add up to 100 % at most: more would offer the same units twice (a change that
would pass it is refused, naming the SKU and the total). Every rule change marks the listings
it touches, so their shops show the new share with their next push.

Functions take the owner's session, flush and audit; none commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront import stock_targets
from daiyun.platform.warehouse import repository, rules, sync_marks
from daiyun.platform.warehouse.models import StockSyncListing, StockSyncRule, StockSyncStatus
from daiyun.platform.warehouse.sync_schemas import (
    ResyncRead,
    SyncListingRead,
    SyncRuleCreate,
    SyncRuleRead,
    SyncRuleUpdate,
)


def _unprocessable(kind: str, detail: str, **extra: Any) -> Problem:
    return Problem(422, kind, detail, **extra)


def _code(session: Session, sku_id: uuid.UUID | None) -> str | None:
    return catalog.get_sku(session, sku_id).code if sku_id is not None else None


def rule_read(session: Session, rule: StockSyncRule) -> SyncRuleRead:
    return SyncRuleRead(
        id=rule.id,
        shop_id=rule.shop_id,
        sku_id=rule.sku_id,
        sku=_code(session, rule.sku_id),
        kind=rule.kind,
        ratio_percent=rule.ratio_percent,
        fixed_quantity=rule.fixed_quantity,
        safety_floor=rule.safety_floor,
        warehouse_ids=[uuid.UUID(w) for w in rule.warehouse_ids],
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _known_shop(session: Session, shop_id: uuid.UUID) -> None:
    try:
        shop_service.get(session, shop_id)
    except Problem:
        raise _unprocessable("unknown-shop", "No such shop") from None


def _known_sku(session: Session, sku_id: uuid.UUID | None) -> None:
    if sku_id is None:
        return
    try:
        catalog.get_sku(session, sku_id)
    except Problem:
        raise _unprocessable("unknown-sku", "No such SKU") from None


def _known_warehouses(session: Session, ids: list[uuid.UUID]) -> None:
    for warehouse_id in ids:
        if repository.get_warehouse(session, warehouse_id) is None:
            raise _unprocessable("unknown-warehouse", "No such warehouse")


def _check_ratios(session: Session) -> None:
    """Refuse a state where one SKU's shop ratios add up past 100 %."""
    stored = list(session.scalars(select(StockSyncRule)))
    totals = rules.ratio_totals((r.shop_id, r.sku_id, r.ratio_percent) for r in stored)
    for sku_id, total in sorted(totals.items(), key=lambda item: -item[1]):
        if total > 100:
            code = _code(session, sku_id) or "*"
            what = f"SKU {code}" if sku_id is not None else "every SKU without its own rule"
            raise _unprocessable(
                "ratio-over-100",
                f"The shop ratios of {what} add up to {total} % (at most 100 %): the same "
                "units would be offered twice",
                sku=code,
                total_percent=total,
            )


def _apply(rule: StockSyncRule, body: SyncRuleCreate | SyncRuleUpdate) -> None:
    rule.kind = body.kind
    rule.ratio_percent = body.ratio_percent
    rule.fixed_quantity = body.fixed_quantity
    rule.safety_floor = body.safety_floor
    rule.warehouse_ids = [w.hex for w in body.warehouse_ids]


def _mark_rule(session: Session, shop_id: uuid.UUID, sku_id: uuid.UUID | None) -> None:
    found = stock_targets.targets(session, shop_id=shop_id)
    if sku_id is not None:
        affected = {sku_id} | stock_targets.bundles_containing(session, {sku_id})
        found = [t for t in found if t.sku_id in affected]
    sync_marks.mark_targets(session, found)


def create_rule(session: Session, body: SyncRuleCreate) -> SyncRuleRead:
    _known_shop(session, body.shop_id)
    _known_sku(session, body.sku_id)
    _known_warehouses(session, body.warehouse_ids)
    scope = body.sku_id.hex if body.sku_id else "*"
    rule = StockSyncRule(shop_id=body.shop_id, sku_id=body.sku_id, scope=scope)
    _apply(rule, body)
    session.add(rule)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Problem(
            409, "duplicate-rule", "The shop has a rule for this SKU already: change that one"
        ) from None
    _check_ratios(session)
    _mark_rule(session, rule.shop_id, rule.sku_id)
    audit.record(session, "stock.sync_rule.created", f"stock-sync-rule:{rule.id}", {"scope": scope})
    return rule_read(session, rule)


def _get(session: Session, rule_id: uuid.UUID) -> StockSyncRule:
    rule = session.get(StockSyncRule, (session.info["tenant_id"], rule_id))
    if rule is None:
        raise Problem(404, "not-found", "No such stock sync rule")
    return rule


def get_rule(session: Session, rule_id: uuid.UUID) -> SyncRuleRead:
    return rule_read(session, _get(session, rule_id))


def update_rule(session: Session, rule_id: uuid.UUID, body: SyncRuleUpdate) -> SyncRuleRead:
    rule = _get(session, rule_id)
    _known_warehouses(session, body.warehouse_ids)
    _apply(rule, body)
    session.flush()
    _check_ratios(session)
    _mark_rule(session, rule.shop_id, rule.sku_id)
    audit.record(session, "stock.sync_rule.updated", f"stock-sync-rule:{rule.id}", {})
    session.refresh(rule)
    return rule_read(session, rule)


def delete_rule(session: Session, rule_id: uuid.UUID) -> None:
    rule = _get(session, rule_id)
    shop_id, sku_id = rule.shop_id, rule.sku_id
    session.delete(rule)
    session.flush()
    _mark_rule(session, shop_id, sku_id)
    audit.record(session, "stock.sync_rule.deleted", f"stock-sync-rule:{rule_id}", {})


def find_rules(
    session: Session,
    *,
    shop_id: uuid.UUID | None,
    sku_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[SyncRuleRead], str | None]:
    stmt: Select[tuple[StockSyncRule]] = select(StockSyncRule)
    if shop_id is not None:
        stmt = stmt.where(StockSyncRule.shop_id == shop_id)
    if sku_id is not None:
        stmt = stmt.where(StockSyncRule.sku_id == sku_id)
    rows, next_cursor = paginate(session, stmt, StockSyncRule.id, cursor, limit)
    return [rule_read(session, r) for r in rows], next_cursor


def find_listings(
    session: Session,
    *,
    shop_id: uuid.UUID | None = None,
    sku_id: uuid.UUID | None = None,
    status: StockSyncStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[SyncListingRead], str | None]:
    """Each listing's stock sync (filtered), oldest first."""
    stmt: Select[tuple[StockSyncListing]] = select(StockSyncListing)
    if shop_id is not None:
        stmt = stmt.where(StockSyncListing.shop_id == shop_id)
    if sku_id is not None:
        stmt = stmt.where(StockSyncListing.sku_id == sku_id)
    if status is not None:
        stmt = stmt.where(StockSyncListing.status == status)
    rows, next_cursor = paginate(session, stmt, StockSyncListing.id, cursor, limit)
    codes = {
        t.listing_id: t.sku_code
        for t in stock_targets.targets(session, listing_ids={r.listing_id for r in rows})
    }
    items = [
        SyncListingRead(
            listing_id=r.listing_id,
            shop_id=r.shop_id,
            sku_id=r.sku_id,
            sku=codes.get(r.listing_id) or catalog.get_sku(session, r.sku_id).code,
            status=r.status,
            desired=r.desired,
            pushed_quantity=r.pushed_quantity,
            pushed_at=r.pushed_at,
            error=r.error,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
        )
        for r in rows
    ]
    return items, next_cursor


def resync(session: Session, shop_id: uuid.UUID, now: datetime | None = None) -> ResyncRead:
    """Send every listing of the shop its quantity again, even those the marketplace holds."""
    _known_shop(session, shop_id)
    now = now or utcnow()
    found = stock_targets.targets(session, shop_id=shop_id)
    marked = sync_marks.mark_targets(session, found, now, forced=True)
    sync_marks.shop_row(session, shop_id).resynced_at = now
    session.flush()
    audit.record(session, "stock.sync.resynced", f"shop:{shop_id}", {"listings": marked})
    return ResyncRead(shop_id=shop_id, listings=marked)
