"""Every query on the fulfilment tables."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Generator
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Row, Select, func, insert, select, update
from sqlalchemy.orm import Session

from daiyun.platform.fulfillment.models import (
    ExceptionKind,
    FoState,
    FulfillmentEvent,
    FulfillmentException,
    FulfillmentOrder,
    FulfillmentSettings,
    Wave,
)


def settings(session: Session) -> FulfillmentSettings | None:
    return session.scalar(select(FulfillmentSettings))


def for_order(session: Session, order_id: uuid.UUID) -> list[FulfillmentOrder]:
    """The order's own parcels, and any parcel it was merged into."""
    own = list(
        session.scalars(
            select(FulfillmentOrder)
            .where(FulfillmentOrder.order_id == order_id)
            .order_by(FulfillmentOrder.id)
            .with_for_update()
        )
    )
    hosts = {f.merged_into_id for f in own if f.merged_into_id is not None}
    if hosts:
        own += list(
            session.scalars(
                select(FulfillmentOrder)
                .where(FulfillmentOrder.id.in_(hosts))
                .order_by(FulfillmentOrder.id)
                .with_for_update()
            )
        )
    return own


def get(session: Session, fo_id: uuid.UUID, *, lock: bool = False) -> FulfillmentOrder | None:
    stmt = select(FulfillmentOrder).where(FulfillmentOrder.id == fo_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def many(session: Session, ids: Collection[uuid.UUID], *, lock: bool = False) -> list[Any]:
    stmt = select(FulfillmentOrder).where(FulfillmentOrder.id.in_(list(ids)))
    stmt = stmt.order_by(FulfillmentOrder.id)
    if lock:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def fulfillment_orders(
    state: FoState | None,
    warehouse_id: uuid.UUID | None,
    wave_id: uuid.UUID | None,
    order_id: uuid.UUID | None,
) -> Select[Any]:
    stmt = select(FulfillmentOrder)
    if state is not None:
        stmt = stmt.where(FulfillmentOrder.state == state)
    if warehouse_id is not None:
        stmt = stmt.where(FulfillmentOrder.warehouse_id == warehouse_id)
    if wave_id is not None:
        stmt = stmt.where(FulfillmentOrder.wave_id == wave_id)
    if order_id is not None:
        stmt = stmt.where(FulfillmentOrder.order_id == order_id)
    return stmt


def ready_in(session: Session, warehouse_id: uuid.UUID) -> list[FulfillmentOrder]:
    """Ready parcels of the warehouse not in a wave, locked for planning."""
    return list(
        session.scalars(
            select(FulfillmentOrder)
            .where(
                FulfillmentOrder.state == FoState.ready,
                FulfillmentOrder.warehouse_id == warehouse_id,
                FulfillmentOrder.wave_id.is_(None),
            )
            .order_by(FulfillmentOrder.id)
            .with_for_update()
        )
    )


def awaiting_stock(session: Session, limit: int) -> list[FulfillmentOrder]:
    """Parcels waiting for stock, the oldest first."""
    return list(
        session.scalars(
            select(FulfillmentOrder)
            .where(FulfillmentOrder.state == FoState.awaiting_stock)
            # Parcel ids are random: the order they came in is their creation time.
            .order_by(FulfillmentOrder.created_at, FulfillmentOrder.id)
            .limit(limit)
        )
    )


def ready_for_planning(
    session: Session, warehouse_id: uuid.UUID, batch: int
) -> Generator[Row[Any], None, None]:
    """(id, number, lines, ship_by) of the warehouse's ready parcels not in a wave, locked, the
    nearest deadline first (none last, then by id): streamed, so planning reads only as far as
    it takes, as light rows (no ORM objects)."""
    stmt = (
        select(
            FulfillmentOrder.id,
            FulfillmentOrder.number,
            FulfillmentOrder.lines,
            FulfillmentOrder.ship_by,
        )
        .where(
            FulfillmentOrder.state == FoState.ready,
            FulfillmentOrder.warehouse_id == warehouse_id,
            FulfillmentOrder.wave_id.is_(None),
        )
        .order_by(FulfillmentOrder.ship_by.is_(None), FulfillmentOrder.ship_by, FulfillmentOrder.id)
        .with_for_update()
        .execution_options(yield_per=batch)
    )
    result = session.execute(stmt)
    try:
        for partition in result.partitions():
            yield from partition
    finally:
        result.close()


def put_in_wave(
    session: Session, ids: Collection[uuid.UUID], wave_id: uuid.UUID, now: datetime
) -> int:
    """Ready parcels among ``ids`` into the wave in one statement; returns how many moved."""
    stmt = (
        update(FulfillmentOrder)
        .where(
            FulfillmentOrder.id.in_(list(ids)),
            FulfillmentOrder.state == FoState.ready,
            FulfillmentOrder.wave_id.is_(None),
        )
        .values(state=FoState.in_wave, wave_id=wave_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[Any] = session.execute(stmt)  # type: ignore[assignment]
    # The statement bypasses the ORM: parcels this session already holds would keep their old
    # state (a pick confirmed in the same unit of work would skip them), so they are read again.
    moved = set(ids)
    for held in list(session.identity_map.values()):
        if isinstance(held, FulfillmentOrder) and held.id in moved:
            session.expire(held)
    return int(result.rowcount or 0)


def log_moves(session: Session, rows: list[dict[str, Any]]) -> None:
    """Transition rows (``tenant_id``, ``id``, ``fo_id``, states, note, actor, at) in one
    executemany, outside the ORM (each carries its tenant for row-level security)."""
    if rows:
        session.execute(insert(FulfillmentEvent), rows)


def wave_rows(session: Session, wave_id: uuid.UUID) -> list[Row[Any]]:
    """(id, number, state, lines) of the bound merchant's parcels in the wave, by id."""
    stmt = (
        select(
            FulfillmentOrder.id,
            FulfillmentOrder.number,
            FulfillmentOrder.state,
            FulfillmentOrder.lines,
        )
        .where(FulfillmentOrder.wave_id == wave_id)
        .order_by(FulfillmentOrder.id)
    )
    return list(session.execute(stmt))


def merge_candidates(session: Session, key: str | None = None) -> list[FulfillmentOrder]:
    """Ready parcels not in a wave whose merge key another such parcel shares."""
    shared = (
        select(FulfillmentOrder.merge_key, FulfillmentOrder.warehouse_id)
        .where(FulfillmentOrder.state == FoState.ready, FulfillmentOrder.wave_id.is_(None))
        .group_by(FulfillmentOrder.merge_key, FulfillmentOrder.warehouse_id)
        .having(func.count() > 1)
    )
    if key is not None:
        shared = shared.where(FulfillmentOrder.merge_key == key)
    pairs = {(r.merge_key, r.warehouse_id) for r in session.execute(shared)}
    if not pairs:
        return []
    rows = session.scalars(
        select(FulfillmentOrder)
        .where(
            FulfillmentOrder.state == FoState.ready,
            FulfillmentOrder.wave_id.is_(None),
            FulfillmentOrder.merge_key.in_({k for k, _ in pairs}),
        )
        .order_by(FulfillmentOrder.id)
    )
    return [r for r in rows if (r.merge_key, r.warehouse_id) in pairs]


def in_wave(session: Session, wave_id: uuid.UUID, *, lock: bool = False) -> list[Any]:
    stmt = (
        select(FulfillmentOrder)
        .where(FulfillmentOrder.wave_id == wave_id)
        .order_by(FulfillmentOrder.id)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def events(session: Session, fo_id: uuid.UUID) -> list[FulfillmentEvent]:
    return list(
        session.scalars(
            select(FulfillmentEvent)
            .where(FulfillmentEvent.fo_id == fo_id)
            .order_by(FulfillmentEvent.at, FulfillmentEvent.id)
        )
    )


def open_exceptions(
    session: Session, fo_id: uuid.UUID, kind: ExceptionKind | None = None
) -> list[FulfillmentException]:
    stmt = select(FulfillmentException).where(
        FulfillmentException.fo_id == fo_id, FulfillmentException.resolved_at.is_(None)
    )
    if kind is not None:
        stmt = stmt.where(FulfillmentException.kind == kind)
    return list(session.scalars(stmt.order_by(FulfillmentException.id)))


def exceptions(open_only: bool, kind: ExceptionKind | None) -> Select[Any]:
    stmt = select(FulfillmentException)
    if open_only:
        stmt = stmt.where(FulfillmentException.resolved_at.is_(None))
    if kind is not None:
        stmt = stmt.where(FulfillmentException.kind == kind)
    return stmt


def get_exception(session: Session, exception_id: uuid.UUID) -> FulfillmentException | None:
    return session.scalar(
        select(FulfillmentException)
        .where(FulfillmentException.id == exception_id)
        .with_for_update()
    )


def due_before(session: Session, moment: Any) -> list[FulfillmentOrder]:
    """Parcels not shipped whose deadline falls before ``moment``."""
    return list(
        session.scalars(
            select(FulfillmentOrder)
            .where(
                FulfillmentOrder.state.in_(
                    [
                        FoState.awaiting_stock,
                        FoState.ready,
                        FoState.in_wave,
                        FoState.picked,
                        FoState.packed,
                        FoState.exception,
                    ]
                ),
                FulfillmentOrder.ship_by.is_not(None),
                FulfillmentOrder.ship_by < moment,
            )
            .order_by(FulfillmentOrder.id)
        )
    )


def count_parcels(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FulfillmentOrder)) or 0


# --------------------------------------------------------------------------------------------
# Waves (platform rows)
# --------------------------------------------------------------------------------------------


def get_wave(session: Session, wave_id: uuid.UUID) -> Wave | None:
    return session.get(Wave, wave_id)


def waves(warehouse_id: uuid.UUID | None) -> Select[Any]:
    stmt = select(Wave)
    if warehouse_id is not None:
        stmt = stmt.where(Wave.warehouse_id == warehouse_id)
    return stmt


def own_waves() -> Select[Any]:
    """The waves that hold one of the bound tenant's parcels."""
    ids = select(FulfillmentOrder.wave_id).where(FulfillmentOrder.wave_id.is_not(None))
    return select(Wave).where(Wave.id.in_(ids))


def count_waves(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Wave)) or 0
