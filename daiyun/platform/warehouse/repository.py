"""Every query of the warehouse. Stock rows are locked in id order, and only :func:`post`
changes their quantities, always with the ledger row that records the change."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, distinct, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from daiyun.platform.warehouse.models import (
    Adjustment,
    Batch,
    CountStatus,
    Location,
    MoveKind,
    Receipt,
    ReceiptStatus,
    ReplenishmentRule,
    Reservation,
    SkuStockRule,
    Stock,
    StockCount,
    StockCountLine,
    StockException,
    StockMove,
    StockSettings,
    Transfer,
    TransferStatus,
    Warehouse,
)

# Session key of the SKUs whose sellable stock changed in the transaction: the stock sync marks
# their listings before it commits (``sync_marks``).
STOCK_CHANGED = "warehouse_stock_changed"


# --------------------------------------------------------------------------------------------
# Warehouses and locations (platform rows)
# --------------------------------------------------------------------------------------------


def warehouses() -> Select[Any]:
    return select(Warehouse)


def get_warehouse(session: Session, warehouse_id: uuid.UUID) -> Warehouse | None:
    return session.get(Warehouse, warehouse_id)


def warehouse_with_code(session: Session, code: str) -> Warehouse | None:
    return session.scalar(select(Warehouse).where(Warehouse.code == code))


def allocation_order(session: Session) -> list[uuid.UUID]:
    """Active warehouses by priority, then code: the order allocation tries them in."""
    stmt = (
        select(Warehouse.id)
        .where(Warehouse.active.is_(True))
        .order_by(Warehouse.priority, Warehouse.code)
    )
    return list(session.scalars(stmt))


def allocation_sites(session: Session) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """The active warehouses with their addresses, in allocation order."""
    stmt = (
        select(Warehouse.id, Warehouse.address)
        .where(Warehouse.active.is_(True))
        .order_by(Warehouse.priority, Warehouse.code)
    )
    return [(row[0], row[1] or {}) for row in session.execute(stmt)]


def locations(warehouse_id: uuid.UUID) -> Select[Any]:
    return select(Location).where(Location.warehouse_id == warehouse_id)


def get_location(session: Session, location_id: uuid.UUID) -> Location | None:
    return session.get(Location, location_id)


def location_with_code(session: Session, warehouse_id: uuid.UUID, code: str) -> Location | None:
    stmt = select(Location).where(Location.warehouse_id == warehouse_id, Location.code == code)
    return session.scalar(stmt)


# --------------------------------------------------------------------------------------------
# Batches and stock rows
# --------------------------------------------------------------------------------------------


def location_codes(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(select(Location.id, Location.code).where(Location.id.in_(ids)))
    return {row.id: row.code for row in rows}


def stock_bins(session: Session, stock_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Location]:
    """The bin each stock row sits in, by stock row id."""
    if not stock_ids:
        return {}
    rows = session.execute(
        select(Stock.id, Location)
        .join(Location, Location.id == Stock.location_id)
        .where(Stock.id.in_(list(stock_ids)))
    )
    return {row[0]: row[1] for row in rows}


def batch(session: Session, sku_id: uuid.UUID, lot: str) -> Batch | None:
    return session.scalar(select(Batch).where(Batch.sku_id == sku_id, Batch.lot == lot))


def batches_by_id(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Batch]:
    if not ids:
        return {}
    return {b.id: b for b in session.scalars(select(Batch).where(Batch.id.in_(list(ids))))}


def occupied_bins(session: Session) -> dict[uuid.UUID, int]:
    """Bins holding some of the bound tenant's stock, per warehouse."""
    rows = session.execute(
        select(Stock.warehouse_id, func.count(distinct(Stock.location_id)))
        .where(Stock.on_hand > 0)
        .group_by(Stock.warehouse_id)
    )
    return {warehouse_id: int(count) for warehouse_id, count in rows}


def slot_of(location_id: uuid.UUID, batch_id: uuid.UUID | None) -> str:
    return f"{location_id.hex}/{batch_id.hex if batch_id else '-'}"


def stock_row(
    session: Session, sku_id: uuid.UUID, location: Location, batch_id: uuid.UUID | None
) -> Stock:
    """The stock row of a SKU in a location (and batch), created empty when there is none."""
    slot = slot_of(location.id, batch_id)
    found = session.scalar(select(Stock).where(Stock.sku_id == sku_id, Stock.slot == slot))
    if found is not None:
        return found
    row = Stock(
        sku_id=sku_id,
        warehouse_id=location.warehouse_id,
        location_id=location.id,
        batch_id=batch_id,
        slot=slot,
        on_hand=0,
        reserved=0,
    )
    try:
        with session.begin_nested():  # another receipt may create the same row meanwhile
            session.add(row)
            session.flush()
    except IntegrityError:
        found = session.scalar(select(Stock).where(Stock.sku_id == sku_id, Stock.slot == slot))
        assert found is not None
        return found
    return row


def lock_stock(
    session: Session,
    *,
    sku_ids: Collection[uuid.UUID] = (),
    stock_ids: Collection[uuid.UUID] = (),
) -> list[Stock]:
    """The stock rows of these SKUs (and these rows), locked in id order (PostgreSQL: ``FOR
    UPDATE``; one order for every writer, so two never wait on each other in a circle). Values
    are read afresh, never from the session's cache."""
    if not sku_ids and not stock_ids:
        return []
    condition = Stock.sku_id.in_(list(sku_ids)) | Stock.id.in_(list(stock_ids))
    stmt = (
        select(Stock)
        .where(condition)
        .order_by(Stock.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def stock_for(
    session: Session, sku_ids: Collection[uuid.UUID], warehouse_id: uuid.UUID | None = None
) -> list[Stock]:
    if not sku_ids:
        return []
    stmt = select(Stock).where(Stock.sku_id.in_(list(sku_ids)))
    if warehouse_id is not None:
        stmt = stmt.where(Stock.warehouse_id == warehouse_id)
    return list(session.scalars(stmt.order_by(Stock.warehouse_id, Stock.location_id, Stock.id)))


def post(
    session: Session,
    stock: Stock,
    kind: MoveKind,
    *,
    on_hand: int = 0,
    reserved: int = 0,
    reason: str,
    source: str,
    actor: str,
) -> StockMove:
    """Change a stock row's quantities and record the change in the ledger, together: the
    only way quantities change. The update is relative (``on_hand + delta``), so it never
    writes back a value read before another writer's change."""
    move = StockMove(
        stock_id=stock.id,
        sku_id=stock.sku_id,
        warehouse_id=stock.warehouse_id,
        kind=kind,
        on_hand_delta=on_hand,
        reserved_delta=reserved,
        reason=reason,
        source=source,
        actor=actor,
    )
    session.add(move)
    session.execute(
        update(Stock)
        .where(Stock.id == stock.id)
        .values(on_hand=Stock.on_hand + on_hand, reserved=Stock.reserved + reserved)
        .execution_options(synchronize_session=False)
    )
    # Keep the loaded object true to the row for checks later in the same transaction, without
    # marking it changed (a flush would write the absolute value back).
    set_committed_value(stock, "on_hand", stock.on_hand + on_hand)
    set_committed_value(stock, "reserved", stock.reserved + reserved)
    session.flush([move])
    note_changed(session, [stock.sku_id])
    return move


def note_changed(session: Session, sku_ids: Collection[uuid.UUID]) -> None:
    """Remember that these SKUs' sellable stock changed in this transaction."""
    session.info.setdefault(STOCK_CHANGED, set()).update(sku_ids)


def ledger(
    sku_id: uuid.UUID | None,
    kind: MoveKind | None,
    since: datetime | None,
    until: datetime | None,
    warehouse_id: uuid.UUID | None = None,
) -> Select[Any]:
    stmt = select(StockMove)
    if sku_id is not None:
        stmt = stmt.where(StockMove.sku_id == sku_id)
    if kind is not None:
        stmt = stmt.where(StockMove.kind == kind)
    if since is not None:
        stmt = stmt.where(StockMove.at >= since)
    if until is not None:
        stmt = stmt.where(StockMove.at < until)
    if warehouse_id is not None:
        stmt = stmt.where(StockMove.warehouse_id == warehouse_id)
    return stmt


def received_by_source(session: Session, source: str) -> list[StockMove]:
    return list(session.scalars(select(StockMove).where(StockMove.source == source)))


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def settings(session: Session) -> StockSettings | None:
    return session.scalar(select(StockSettings))


def sku_rules(session: Session, sku_ids: Collection[uuid.UUID] | None = None) -> list[SkuStockRule]:
    stmt = select(SkuStockRule).order_by(SkuStockRule.sku_id, SkuStockRule.scope)
    if sku_ids is not None:
        stmt = stmt.where(SkuStockRule.sku_id.in_(list(sku_ids)))
    return list(session.scalars(stmt))


def delete_sku_rules(session: Session) -> None:
    for rule in session.scalars(select(SkuStockRule)):
        session.delete(rule)


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------


def receipts() -> Select[Any]:
    return select(Receipt)


def get_receipt(session: Session, receipt_id: uuid.UUID, *, lock: bool = False) -> Receipt | None:
    stmt = select(Receipt).where(Receipt.id == receipt_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def adjustments() -> Select[Any]:
    return select(Adjustment)


def reservation(session: Session, order_id: uuid.UUID, *, lock: bool = False) -> Reservation | None:
    stmt = select(Reservation).where(Reservation.order_id == order_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def reservations(order_id: uuid.UUID | None) -> Select[Any]:
    stmt = select(Reservation)
    return stmt if order_id is None else stmt.where(Reservation.order_id == order_id)


def stock_exception(session: Session, order_id: uuid.UUID) -> StockException | None:
    return session.scalar(select(StockException).where(StockException.order_id == order_id))


def stock_exceptions(open_only: bool) -> Select[Any]:
    stmt = select(StockException)
    return stmt.where(StockException.resolved_at.is_(None)) if open_only else stmt


def transfers() -> Select[Any]:
    return select(Transfer)


def get_transfer(
    session: Session, transfer_id: uuid.UUID, *, lock: bool = False
) -> Transfer | None:
    stmt = select(Transfer).where(Transfer.id == transfer_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def sum_by_stock(session: Session) -> Sequence[Any]:
    """Each stock row beside the sums of its ledger (what the invariant compares)."""
    sums = (
        select(
            StockMove.stock_id,
            func.sum(StockMove.on_hand_delta).label("on_hand"),
            func.sum(StockMove.reserved_delta).label("reserved"),
        )
        .group_by(StockMove.stock_id)
        .subquery()
    )
    stmt = select(Stock.id, Stock.on_hand, Stock.reserved, sums.c.on_hand, sums.c.reserved).join(
        sums, sums.c.stock_id == Stock.id, isouter=True
    )
    return list(session.execute(stmt))


# --------------------------------------------------------------------------------------------
# Stocktakes and replenishment
# --------------------------------------------------------------------------------------------

OPEN_COUNT = (CountStatus.counting, CountStatus.submitted)


def lock_stock_in(session: Session, location_ids: Collection[uuid.UUID]) -> list[Stock]:
    """The owner's stock rows in these bins, locked in id order like :func:`lock_stock`."""
    if not location_ids:
        return []
    stmt = (
        select(Stock)
        .where(Stock.location_id.in_(list(location_ids)))
        .order_by(Stock.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def counts(status: CountStatus | None = None) -> Select[Any]:
    stmt = select(StockCount)
    return stmt if status is None else stmt.where(StockCount.status == status)


def open_counts(session: Session, warehouse_id: uuid.UUID) -> list[StockCount]:
    stmt = select(StockCount).where(
        StockCount.warehouse_id == warehouse_id, StockCount.status.in_(OPEN_COUNT)
    )
    return list(session.scalars(stmt))


def get_count(session: Session, count_id: uuid.UUID, *, lock: bool = False) -> StockCount | None:
    stmt = select(StockCount).where(StockCount.id == count_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def count_lines(session: Session, count_id: uuid.UUID) -> list[StockCountLine]:
    stmt = (
        select(StockCountLine)
        .where(StockCountLine.count_id == count_id)
        .order_by(StockCountLine.location_id, StockCountLine.sku_id, StockCountLine.slot)
    )
    return list(session.scalars(stmt))


def stock_by_slot(
    session: Session, keys: Collection[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], Stock]:
    """Stock rows by (SKU, slot), for the keys that have one."""
    if not keys:
        return {}
    skus = {sku for sku, _ in keys}
    slots = {slot for _, slot in keys}
    stmt = select(Stock).where(Stock.sku_id.in_(list(skus)), Stock.slot.in_(list(slots)))
    return {(r.sku_id, r.slot): r for r in session.scalars(stmt) if (r.sku_id, r.slot) in keys}


def on_hand_moves_since(
    session: Session, stock_ids: Collection[uuid.UUID], since: datetime
) -> list[tuple[uuid.UUID, datetime, int]]:
    """(stock row, when, on-hand delta) of the ledger rows on these rows after ``since``."""
    if not stock_ids:
        return []
    stmt = select(StockMove.stock_id, StockMove.at, StockMove.on_hand_delta).where(
        StockMove.stock_id.in_(list(stock_ids)),
        StockMove.at > since,
        StockMove.on_hand_delta != 0,
    )
    return [(row.stock_id, row.at, row.on_hand_delta) for row in session.execute(stmt)]


def replenishment_rules(
    session: Session, warehouse_id: uuid.UUID | None = None
) -> list[ReplenishmentRule]:
    stmt = select(ReplenishmentRule).order_by(
        ReplenishmentRule.sku_id, ReplenishmentRule.warehouse_id
    )
    if warehouse_id is not None:
        stmt = stmt.where(ReplenishmentRule.warehouse_id == warehouse_id)
    return list(session.scalars(stmt))


def delete_replenishment_rules(session: Session) -> None:
    for rule in session.scalars(select(ReplenishmentRule)):
        session.delete(rule)


def open_receipts(session: Session) -> list[Receipt]:
    return list(session.scalars(select(Receipt).where(Receipt.status != ReceiptStatus.closed)))


def transfers_in_transit(session: Session) -> list[Transfer]:
    stmt = select(Transfer).where(Transfer.status == TransferStatus.in_transit)
    return list(session.scalars(stmt))


def stock_with_batches(session: Session) -> list[tuple[Stock, Batch | None]]:
    """Every stock row of the owner with its batch (what alerts look over)."""
    stmt = (
        select(Stock, Batch)
        .join(
            Batch,
            (Batch.tenant_id == Stock.tenant_id) & (Batch.id == Stock.batch_id),
            isouter=True,
        )
        .order_by(Stock.sku_id, Stock.warehouse_id, Stock.id)
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]
