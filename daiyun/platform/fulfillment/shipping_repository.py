"""Every query on the ship step's tables (shipments, carrier rules)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, distinct, func, or_, select
from sqlalchemy.orm import Session

from daiyun.platform.fulfillment.models import (
    CarrierRule,
    FulfillmentException,
    FulfillmentOrder,
    PushStatus,
    Shipment,
    ShipmentStatus,
)


def carrier_rules(session: Session) -> list[CarrierRule]:
    return list(session.scalars(select(CarrierRule).order_by(CarrierRule.priority)))


def shipment(session: Session, shipment_id: uuid.UUID, *, lock: bool = False) -> Shipment | None:
    stmt = select(Shipment).where(Shipment.id == shipment_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def shipment_for(session: Session, fo_id: uuid.UUID) -> Shipment | None:
    return session.scalar(select(Shipment).where(Shipment.fo_id == fo_id))


def shipments(
    status: ShipmentStatus | None, push_status: PushStatus | None, fo_id: uuid.UUID | None
) -> Select[Any]:
    stmt = select(Shipment)
    if status is not None:
        stmt = stmt.where(Shipment.status == status)
    if push_status is not None:
        stmt = stmt.where(Shipment.push_status == push_status)
    if fo_id is not None:
        stmt = stmt.where(Shipment.fo_id == fo_id)
    return stmt


def pushes_due(session: Session, now: datetime, limit: int = 500) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Shipment.id)
            .where(
                Shipment.push_status == PushStatus.pending,
                or_(Shipment.next_push_at.is_(None), Shipment.next_push_at <= now),
            )
            .order_by(Shipment.id)
            .limit(limit)
        )
    )


def in_transit(session: Session, limit: int) -> list[Shipment]:
    return list(
        session.scalars(
            select(Shipment)
            .where(Shipment.status == ShipmentStatus.shipped)
            .order_by(Shipment.tracked_at.is_not(None), Shipment.tracked_at, Shipment.id)
            .limit(limit)
            .with_for_update()
        )
    )


def shipped_since(
    session: Session, since: datetime, limit: int
) -> list[tuple[uuid.UUID, datetime, datetime | None, uuid.UUID]]:
    """(shop, shipped at, parcel's deadline, parcel's first order) of the shipments since
    ``since``, the newest ``limit``."""
    stmt = (
        select(
            Shipment.shop_id,
            Shipment.shipped_at,
            FulfillmentOrder.ship_by,
            FulfillmentOrder.order_id,
        )
        .join(FulfillmentOrder, FulfillmentOrder.id == Shipment.fo_id)
        .where(Shipment.shipped_at >= since)
        .order_by(Shipment.shipped_at.desc())
        .limit(limit)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(stmt)]


def packed_since(
    session: Session, since: datetime, limit: int
) -> list[tuple[str | None, datetime, int, list[dict[str, Any]]]]:
    """(packer, packed at, scans refused, lines) of the parcels packed since ``since``, the
    newest ``limit``."""
    stmt = (
        select(
            FulfillmentOrder.packed_by,
            FulfillmentOrder.packed_at,
            FulfillmentOrder.scan_errors,
            FulfillmentOrder.lines,
        )
        .where(FulfillmentOrder.packed_at >= since)
        .order_by(FulfillmentOrder.packed_at.desc())
        .limit(limit)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(stmt)]


def parcels_since(session: Session, since: datetime) -> tuple[int, int]:
    """Parcels made since ``since`` (merged ones counted in the parcel they went into), and how
    many of them met an exception."""
    made = select(FulfillmentOrder.id).where(
        FulfillmentOrder.created_at >= since, FulfillmentOrder.merged_into_id.is_(None)
    )
    parcels = session.scalar(select(func.count()).select_from(made.subquery())) or 0
    hit = session.scalar(
        select(func.count(distinct(FulfillmentException.fo_id))).where(
            FulfillmentException.fo_id.in_(made)
        )
    )
    return int(parcels), int(hit or 0)


def recent(session: Session, push_status: PushStatus | None, limit: int) -> list[Shipment]:
    """The newest shipments (ids grow with time), by push status."""
    stmt = shipments(None, push_status, None).order_by(Shipment.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def delivered_between(
    session: Session, start: datetime, end: datetime, limit: int
) -> list[tuple[list[str], datetime]]:
    """(orders' hex ids, delivered at) of the parcels delivered in [start, end), oldest first."""
    stmt = (
        select(Shipment.order_ids, Shipment.delivered_at)
        .where(
            Shipment.status == ShipmentStatus.delivered,
            Shipment.delivered_at >= start,
            Shipment.delivered_at < end,
        )
        .order_by(Shipment.delivered_at, Shipment.id)
        .limit(limit)
    )
    return [(list(r[0] or []), r[1]) for r in session.execute(stmt) if r[1] is not None]
