"""Marking listings for a stock push (库存同步), and what each listing should show.

Every change of sellable stock goes through ``repository.post`` (or the safety stock settings),
which notes the SKU on the session; just before the transaction commits, the listings of those
SKUs (and of the bundles made of them) have their sync version bumped and their shops a push
scheduled, in the same transaction as the change: a crash loses nothing, a rollback marks
nothing.

Coalescing: a shop has at most one push queued. The first change after a quiet spell queues
one at once; changes while it is queued only bump versions, and a push started less than
``INTERVAL`` ago makes the next wait for the rest of it. A burst of changes to one SKU thus
makes one push per shop per interval, carrying the latest quantity.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daiyun.core.ids import new_id, utcnow
from daiyun.core.tasks import celery_app, enqueue_after_commit
from daiyun.core.tenancy import current_tenant
from daiyun.platform.storefront import stock_targets
from daiyun.platform.storefront.stock_targets import StockTarget
from daiyun.platform.warehouse import repository, rules
from daiyun.platform.warehouse.models import (
    StockSyncListing,
    StockSyncRule,
    StockSyncShop,
    StockSyncStatus,
)

PUSH_TASK = "daiyun.warehouse.push_stock"
# One push per shop per interval, at most.
INTERVAL = timedelta(seconds=5)
# A queued push not started by then was lost (a broker restart): the next change queues again.
QUEUE_GRACE = timedelta(minutes=2)
CHUNK = 1000


@event.listens_for(Session, "before_commit")
def _mark_before_commit(session: Session) -> None:
    skus = session.info.pop(repository.STOCK_CHANGED, None)
    if skus and current_tenant(session) is not None:
        mark(session, skus)


def mark(session: Session, sku_ids: Collection[uuid.UUID], now: datetime | None = None) -> int:
    """Bump the sync of every listing these SKUs' stock reaches and schedule their shops."""
    affected = set(sku_ids) | stock_targets.bundles_containing(session, sku_ids)
    return mark_targets(session, stock_targets.targets(session, sku_ids=affected), now)


def mark_new(session: Session, now: datetime | None = None) -> int:
    """Mark the listings that reached their marketplace since the last stock change (a first
    publish): they have no sync row yet, and no stock change would bring them one."""
    found = stock_targets.targets(session)
    known = set(session.scalars(select(StockSyncListing.listing_id)))
    return mark_targets(session, [t for t in found if t.listing_id not in known], now)


def mark_targets(
    session: Session,
    found: Iterable[StockTarget],
    now: datetime | None = None,
    *,
    forced: bool = False,
) -> int:
    """Bump these listings' sync (``forced``: sent even if unchanged) and schedule their shops."""
    found = list(found)
    if not found:
        return 0
    now = now or utcnow()
    _ensure_rows(session, found)
    ids = sorted(t.listing_id for t in found)
    values: dict[str, Any] = {
        "version": StockSyncListing.version + 1,
        "status": StockSyncStatus.pending,
        "next_attempt_at": None,
    }
    if forced:
        values["forced"] = True
    for first in range(0, len(ids), CHUNK):
        session.execute(
            update(StockSyncListing)
            .where(StockSyncListing.listing_id.in_(ids[first : first + CHUNK]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    for shop_id in sorted({t.shop_id for t in found}):
        schedule(session, shop_id, now)
    return len(found)


def _insert_ignoring(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows, leaving those already there (another transaction may add them too)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - the two supported databases are above
        stmt = insert(table)
    for first in range(0, len(rows), CHUNK):
        session.execute(stmt, rows[first : first + CHUNK])


def _ensure_rows(session: Session, found: list[StockTarget]) -> None:
    tenant = current_tenant(session)
    ids = [t.listing_id for t in found]
    known: set[uuid.UUID] = set()
    for first in range(0, len(ids), CHUNK):
        stmt = select(StockSyncListing.listing_id).where(
            StockSyncListing.listing_id.in_(ids[first : first + CHUNK])
        )
        known.update(session.scalars(stmt))
    rows = [
        {
            "tenant_id": tenant,
            "id": new_id(),
            "listing_id": t.listing_id,
            "shop_id": t.shop_id,
            "sku_id": t.sku_id,
            "status": StockSyncStatus.pending.value,
            "attempts": 0,
            "version": 0,
            "pushed_version": 0,
            "forced": False,
        }
        for t in found
        if t.listing_id not in known
    ]
    _insert_ignoring(session, StockSyncListing.__table__, rows)


def shop_row(session: Session, shop_id: uuid.UUID) -> StockSyncShop:
    row = session.scalars(select(StockSyncShop).where(StockSyncShop.shop_id == shop_id)).first()
    if row is None:
        _insert_ignoring(
            session,
            StockSyncShop.__table__,
            [{"tenant_id": current_tenant(session), "id": new_id(), "shop_id": shop_id}],
        )
        row = session.scalars(select(StockSyncShop).where(StockSyncShop.shop_id == shop_id)).one()
    return row


def schedule(session: Session, shop_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Queue the shop's push unless one is queued already; True when this call queued it."""
    now = now or utcnow()
    row = shop_row(session, shop_id)
    due = now if row.last_push_at is None else max(now, row.last_push_at + INTERVAL)
    # Conditional: of two transactions scheduling the same shop, one queues the push.
    result: Any = session.execute(
        update(StockSyncShop)
        .where(
            StockSyncShop.shop_id == shop_id,
            or_(
                StockSyncShop.push_due_at.is_(None),
                StockSyncShop.push_due_at < now - QUEUE_GRACE,
            ),
        )
        .values(push_due_at=due)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.expire(row)
    countdown = (due - now).total_seconds()
    task = celery_app.signature(PUSH_TASK)
    enqueue_after_commit(
        session, task, str(current_tenant(session)), str(shop_id), countdown=countdown or None
    )
    return True


# --------------------------------------------------------------------------------------------
# What a listing should show
# --------------------------------------------------------------------------------------------


def sellable_by_warehouse(
    session: Session, sku_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[uuid.UUID, int]]:
    """Sellable units per SKU and warehouse, as the stock pages show them: on hand − reserved
    − safety stock per warehouse, a bundle's from its parts in the same warehouse."""
    parts = stock_targets.bundle_parts(session, sku_ids)
    own = {s for s in sku_ids if s not in parts} | {p for ps in parts.values() for p, _ in ps}
    on_hand: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    reserved: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    own_list = sorted(own)
    for first in range(0, len(own_list), CHUNK):
        for row in repository.stock_for(session, own_list[first : first + CHUNK]):
            on_hand[(row.sku_id, row.warehouse_id)] += row.on_hand
            reserved[(row.sku_id, row.warehouse_id)] += row.reserved
    safety = {
        (r.sku_id, r.warehouse_id): r.safety_stock
        for first in range(0, len(own_list), CHUNK)
        for r in repository.sku_rules(session, own_list[first : first + CHUNK])
        if r.warehouse_id is not None
    }
    plain: dict[uuid.UUID, dict[uuid.UUID, int]] = defaultdict(dict)
    for key, total in on_hand.items():
        plain[key[0]][key[1]] = rules.sellable(total, reserved[key], safety.get(key, 0))
    found: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
    for sku in sku_ids:
        if sku not in parts:
            found[sku] = dict(plain.get(sku, {}))
            continue
        warehouses = {w for part, _ in parts[sku] for w in plain.get(part, {})}
        found[sku] = {
            w: rules.bundle_sellable(
                parts[sku], {part: plain.get(part, {}).get(w, 0) for part, _ in parts[sku]}
            )
            for w in warehouses
        }
    return found


def rules_of(session: Session, shop_ids: Collection[uuid.UUID]) -> dict[tuple[Any, Any], Any]:
    """The share rules of these shops by (shop, SKU or None)."""
    stmt = select(StockSyncRule).where(StockSyncRule.shop_id.in_(list(shop_ids)))
    return {(r.shop_id, r.sku_id): r for r in session.scalars(stmt)}


def desired_quantities(
    session: Session, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """What each (shop, SKU) listing should show now: the shop's share of the SKU's sellable
    stock in the warehouses serving the shop."""
    if not pairs:
        return {}
    active = set(repository.allocation_order(session))
    pools = sellable_by_warehouse(session, {sku for _, sku in pairs})
    by_rule = rules_of(session, {shop for shop, _ in pairs})
    found = {}
    for shop, sku in pairs:
        rule = by_rule.get((shop, sku)) or by_rule.get((shop, None))
        serving = (
            {uuid.UUID(w) for w in rule.warehouse_ids} if rule and rule.warehouse_ids else None
        )
        pool = sum(
            units
            for w, units in pools.get(sku, {}).items()
            if w in active and (serving is None or w in serving)
        )
        found[(shop, sku)] = (
            rules.shop_share(
                pool,
                ratio_percent=rule.ratio_percent,
                fixed_quantity=rule.fixed_quantity,
                safety_floor=rule.safety_floor,
            )
            if rule is not None
            else pool
        )
    return found
