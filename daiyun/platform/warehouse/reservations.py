"""Reservations (预占): an order holds its lines once paid and out of review.

Driven by the order book's events, but never by what an event says: each event only names the
order, which is read as it is now and compared with what is recorded for it. The desired
reservation is the order's lines (less refunded units) when it is paid and out of review, none
when it is cancelled, refunded or not yet accepted, consumed when shipped. When desired and
recorded agree nothing happens, so a duplicate or an out-of-order event is harmless.

Allocation takes the write lock first (SQLite) or locks every stock row of the SKUs concerned
in id order (PostgreSQL), then reads, decides (``rules.allocate``) and posts: two orders never
take the same unit, and an order is reserved whole or not at all.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core.db import take_write_lock
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.orders import service as order_service
from daiyun.platform.storefront import service as catalog
from daiyun.platform.warehouse import nearest, repository, rules
from daiyun.platform.warehouse import sync_marks as _sync_marks  # noqa: F401 (its listener)
from daiyun.platform.warehouse.models import (
    MoveKind,
    Reservation,
    ReservationStatus,
    Stock,
    StockException,
)
from daiyun.platform.warehouse.schemas import (
    MissingSku,
    ReservationLineRead,
    ReservationRead,
    StockExceptionRead,
)

ACTOR = "system:orders"


@dataclass(frozen=True)
class Matched:
    sku_id: uuid.UUID
    # A bundle's parts with their quantity per bundle; a plain SKU is its own only part.
    parts: tuple[tuple[uuid.UUID, int], ...]


def match_sku(session: Session, code: str) -> Matched | None:
    """The owner's SKU an order line names: the merchant's SKU code equal to the line's
    ``sku``. The one place order lines meet the catalog, so a richer matching (marketplace
    SKU ids, listings) replaces this function alone."""
    found, _ = catalog.find_skus(session, code=code, limit=1)
    if not found:
        return None
    sku = found[0]
    if sku.is_bundle:
        return Matched(sku.id, tuple((p.sku_id, p.quantity) for p in sku.parts))
    return Matched(sku.id, ((sku.id, 1),))


def sync_order(
    session: Session, order_id: uuid.UUID, actor: str = ACTOR
) -> ReservationStatus | None:
    """Bring an order's reservation in line with the order as it is now; returns its status
    (None for an order that never held anything and holds nothing now)."""
    order = order_service.get_order(session, order_id)
    if order is None:
        return None
    wants = rules.demand(order.status.value, order.status.value == "on_hold")
    # Matched before the lock is taken: the catalog is not what concurrent orders race for.
    wanted, unknown = _wanted(session, order) if wants is rules.Demand.hold else ({}, [])
    take_write_lock(session)
    current = repository.reservation(session, order_id, lock=True)
    if current is not None and current.status == ReservationStatus.shipped:
        return current.status  # what left the warehouse is fulfilment's and returns' now
    if wants is rules.Demand.ship:
        if current is not None and current.status == ReservationStatus.reserved:
            _consume(session, current, order_id, actor)
        return current.status if current else None
    if wants is rules.Demand.none:
        if current is None:
            return None
        if current.status == ReservationStatus.reserved:
            _release(session, current, order_id, actor, "order no longer to be held")
        current.status = ReservationStatus.released
        _resolve(session, order_id)
        session.flush()
        return current.status
    return _hold(session, order_id, current, wanted, unknown, actor, order.shipping_address)


def _wanted(session: Session, order: Any) -> tuple[dict[uuid.UUID, int], list[MissingSku]]:
    """Units wanted per stocked SKU (a bundle's parts), and the lines no SKU matches."""
    refunded = [
        (r.get("sku", ""), int(r.get("quantity", 0))) for f in order.refunds for r in f.lines
    ]
    wanted_codes = rules.wanted_quantities(
        ((line.sku, line.quantity) for line in order.lines), refunded
    )
    wanted: dict[uuid.UUID, int] = defaultdict(int)
    unknown = []
    for code, quantity in sorted(wanted_codes.items()):
        matched = match_sku(session, code)
        if matched is None or not matched.parts:
            unknown.append(
                MissingSku(
                    sku=code,
                    sku_id=matched.sku_id if matched else None,
                    wanted=quantity,
                    available=0,
                )
            )
            continue
        for part, per in matched.parts:
            wanted[part] += quantity * per
    return wanted, unknown


def _hold(
    session: Session,
    order_id: uuid.UUID,
    current: Reservation | None,
    wanted: dict[uuid.UUID, int],
    unknown: list[MissingSku],
    actor: str,
    destination: dict[str, Any] | None,
) -> ReservationStatus:
    held: dict[uuid.UUID, int] = defaultdict(int)
    if current is not None and current.status == ReservationStatus.reserved:
        for line in current.lines:
            held[uuid.UUID(line["sku_id"])] += line["quantity"]
    if (
        not unknown
        and current is not None
        and current.status == ReservationStatus.reserved
        and held == wanted
    ):
        return current.status
    recorded = (
        {uuid.UUID(line["stock_id"]) for line in current.lines}
        if current and current.status == ReservationStatus.reserved
        else set()
    )
    rows = repository.lock_stock(session, sku_ids=set(wanted), stock_ids=recorded)
    if current is None:
        current = _new_reservation(session, order_id)
    if current.status == ReservationStatus.reserved:
        _release(session, current, order_id, actor, "order changed: allocated again")
    locations = {r.location_id for r in rows}
    pickable = _pickable(session, locations)
    batches = repository.batches_by_id(session, {r.batch_id for r in rows if r.batch_id})
    candidates = [
        rules.Candidate(
            stock_id=r.id,
            sku_id=r.sku_id,
            warehouse_id=r.warehouse_id,
            available=r.on_hand - r.reserved,
            expires_on=batches[r.batch_id].expires_on if r.batch_id else None,
            lot=batches[r.batch_id].lot if r.batch_id else None,
        )
        for r in rows
        if r.location_id in pickable
    ]
    takes, shortages = (
        rules.allocate(wanted, candidates, _warehouse_order(session, destination), _split(session))
        if not unknown
        else ([], [])
    )
    if unknown or shortages:
        # The SKUs no single warehouse has enough of; when each is somewhere but never all in
        # one warehouse, every SKU of the order is named.
        short = [s for s in shortages if s.available < s.wanted] or shortages
        missing = unknown + [
            MissingSku(
                sku=_code(session, s.sku_id),
                sku_id=s.sku_id,
                wanted=s.wanted,
                available=s.available,
            )
            for s in short
        ]
        current.status = ReservationStatus.short
        current.lines = []
        _open_exception(session, order_id, missing)
        session.flush()
        return current.status
    by_id = {r.id: r for r in rows}
    for take in takes:
        repository.post(
            session,
            by_id[take.stock_id],
            MoveKind.reservation,
            reserved=take.quantity,
            reason="order paid and accepted",
            source=f"order:{order_id}",
            actor=actor,
        )
    current.lines = [
        {
            "sku_id": t.sku_id.hex,
            "stock_id": t.stock_id.hex,
            "warehouse_id": t.warehouse_id.hex,
            "quantity": t.quantity,
        }
        for t in takes
    ]
    current.status = ReservationStatus.reserved
    _resolve(session, order_id)
    session.flush()
    return current.status


def _new_reservation(session: Session, order_id: uuid.UUID) -> Reservation:
    created = Reservation(order_id=order_id, status=ReservationStatus.released, lines=[])
    try:
        with session.begin_nested():
            session.add(created)
            session.flush()
    except IntegrityError:  # pragma: no cover - the write lock makes this a last resort
        found = repository.reservation(session, order_id, lock=True)
        assert found is not None
        return found
    return created


def _pickable(session: Session, location_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    return {
        i
        for i in location_ids
        if (loc := repository.get_location(session, i)) is not None and loc.pickable
    }


def _warehouse_order(session: Session, destination: dict[str, Any] | None) -> list[uuid.UUID]:
    """The merchant's default warehouse first, then the active ones nearest the buyer (ties,
    and orders without an address, by priority and code)."""
    order = nearest.rank(repository.allocation_sites(session), destination)
    settings = repository.settings(session)
    default = settings.default_warehouse_id if settings else None
    if default in order:
        order.remove(default)
        order.insert(0, default)
    return order


def _split(session: Session) -> bool:
    settings = repository.settings(session)
    return bool(settings and settings.split_by_warehouse)


def _code(session: Session, sku_id: uuid.UUID) -> str:
    return catalog.get_sku(session, sku_id).code


def _held(session: Session, reservation: Reservation) -> list[tuple[Stock, int]]:
    """The stock rows a reservation holds units on, locked, each with the units held there."""
    ids = [uuid.UUID(line["stock_id"]) for line in reservation.lines]
    rows = {r.id: r for r in repository.lock_stock(session, stock_ids=set(ids))}
    return [(rows[i], line["quantity"]) for i, line in zip(ids, reservation.lines, strict=True)]


def _release(
    session: Session, reservation: Reservation, order_id: uuid.UUID, actor: str, reason: str
) -> None:
    for row, quantity in _held(session, reservation):
        repository.post(
            session,
            row,
            MoveKind.release,
            reserved=-quantity,
            reason=reason,
            source=f"order:{order_id}",
            actor=actor,
        )
    reservation.lines = []
    reservation.status = ReservationStatus.released


def _consume(session: Session, reservation: Reservation, order_id: uuid.UUID, actor: str) -> None:
    """The order shipped: its held units leave the shelf (on hand and reserved both drop)."""
    for row, quantity in _held(session, reservation):
        repository.post(
            session,
            row,
            MoveKind.shipment,
            on_hand=-quantity,
            reserved=-quantity,
            reason="order shipped",
            source=f"order:{order_id}",
            actor=actor,
        )
    reservation.status = ReservationStatus.shipped
    session.flush()


def _open_exception(session: Session, order_id: uuid.UUID, missing: list[MissingSku]) -> None:
    found = repository.stock_exception(session, order_id)
    payload = [m.model_dump(mode="json") for m in missing]
    if found is None:
        session.add(StockException(order_id=order_id, missing=payload, resolved_at=None))
    else:
        found.missing, found.resolved_at = payload, None


def _resolve(session: Session, order_id: uuid.UUID) -> None:
    found = repository.stock_exception(session, order_id)
    if found is not None and found.resolved_at is None:
        found.resolved_at = utcnow()


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def reservation_read(reservation: Reservation) -> ReservationRead:
    return ReservationRead(
        order_id=reservation.order_id,
        status=reservation.status,
        lines=[
            ReservationLineRead(
                sku_id=uuid.UUID(line["sku_id"]),
                stock_id=uuid.UUID(line["stock_id"]),
                warehouse_id=uuid.UUID(line["warehouse_id"]),
                quantity=line["quantity"],
            )
            for line in reservation.lines
        ],
        updated_at=reservation.updated_at,
    )


def find_reservations(
    session: Session, order_id: uuid.UUID | None, cursor: str | None, limit: int
) -> tuple[list[ReservationRead], str | None]:
    rows, next_cursor = paginate(
        session, repository.reservations(order_id), Reservation.id, cursor, limit
    )
    return [reservation_read(r) for r in rows], next_cursor


def get_reservation(session: Session, order_id: uuid.UUID) -> ReservationRead:
    found = repository.reservation(session, order_id)
    if found is not None:
        return reservation_read(found)
    if order_service.get_order(session, order_id) is None:
        raise Problem(404, "not-found", "No such order")
    # An order that never held stock (not paid yet, held for review): nothing is held.
    return ReservationRead(order_id=order_id, status=None, lines=[], updated_at=None)


def exception_read(row: StockException) -> StockExceptionRead:
    return StockExceptionRead(
        id=row.id,
        order_id=row.order_id,
        missing=[MissingSku.model_validate(m) for m in row.missing],
        open=row.resolved_at is None,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )


def find_exceptions(
    session: Session, open_only: bool, cursor: str | None, limit: int
) -> tuple[list[StockExceptionRead], str | None]:
    stmt = repository.stock_exceptions(open_only)
    rows, next_cursor = paginate(session, stmt, StockException.id, cursor, limit)
    return [exception_read(r) for r in rows], next_cursor


def ship_lines(
    session: Session, lines: list[tuple[uuid.UUID, uuid.UUID, int]], actor: str = ACTOR
) -> None:
    """A parcel left the warehouse: each (order, stock row, units) it carries leaves the shelf
    now (on hand and reserved both drop) and leaves the order's reservation; a reservation
    with nothing left is shipped. Units no longer held (released meanwhile) are skipped: the
    ledger never goes below what it holds."""
    by_order: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = defaultdict(list)
    for order_id, stock_id, quantity in lines:
        by_order[order_id].append((stock_id, quantity))
    take_write_lock(session)
    for order_id, taken in by_order.items():
        reservation = repository.reservation(session, order_id, lock=True)
        if reservation is None or reservation.status != ReservationStatus.reserved:
            continue
        held = {r.id: r for r in repository.lock_stock(session, stock_ids={s for s, _ in taken})}
        remaining = [dict(line) for line in reservation.lines]
        for stock_id, quantity in taken:
            for line in remaining:
                if uuid.UUID(line["stock_id"]) != stock_id or line["quantity"] <= 0:
                    continue
                units = min(quantity, int(line["quantity"]))
                repository.post(
                    session,
                    held[stock_id],
                    MoveKind.shipment,
                    on_hand=-units,
                    reserved=-units,
                    reason="parcel shipped",
                    source=f"order:{order_id}",
                    actor=actor,
                )
                line["quantity"] = int(line["quantity"]) - units
                quantity -= units
                if quantity == 0:
                    break
        reservation.lines = [line for line in remaining if line["quantity"] > 0]
        if not reservation.lines:
            reservation.status = ReservationStatus.shipped
    session.flush()
