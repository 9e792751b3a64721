"""Every query about shops, sync runs and webhook deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daiyun.connectors.models import (
    DeliveryStatus,
    Shop,
    ShopStatus,
    SyncRun,
    WebhookDelivery,
    WebhookRoute,
)

ACTIVE_RUN = ("queued", "running")
# Stored but not applied yet: waiting for the relay, or queued and waiting for a worker.
PENDING_DELIVERY = (DeliveryStatus.received, DeliveryStatus.queued)


def shop(session: Session, shop_id: uuid.UUID, *, lock: bool = False) -> Shop | None:
    stmt = select(Shop).where(Shop.id == shop_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def shops() -> Select[Any]:
    return select(Shop)


def all_shops(session: Session) -> list[Shop]:
    return list(session.scalars(select(Shop).order_by(Shop.id)))


def due_shops(session: Session, before: datetime) -> list[Shop]:
    """Active shops not pulled since ``before``."""
    stmt = select(Shop).where(
        Shop.status == ShopStatus.active,
        (Shop.last_sync_at.is_(None)) | (Shop.last_sync_at < before),
    )
    return list(session.scalars(stmt))


def route(session: Session, key: str) -> WebhookRoute | None:
    """The route of a webhook key. On PostgreSQL row security shows a route only to a
    transaction that names its key, so the key is set first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.set_config("app.webhook_key", key, True)))
    return session.scalar(select(WebhookRoute).where(WebhookRoute.key == key))


def active_run(session: Session, shop_id: uuid.UUID) -> SyncRun | None:
    stmt = select(SyncRun).where(SyncRun.shop_id == shop_id, SyncRun.status.in_(ACTIVE_RUN))
    return session.scalar(stmt.order_by(SyncRun.id.desc()).limit(1))


def run(session: Session, run_id: uuid.UUID, *, lock: bool = False) -> SyncRun | None:
    stmt = select(SyncRun).where(SyncRun.id == run_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def stalled_runs(session: Session, heartbeat_before: datetime) -> list[SyncRun]:
    stmt = select(SyncRun).where(
        SyncRun.status.in_(ACTIVE_RUN), SyncRun.heartbeat_at < heartbeat_before
    )
    return list(session.scalars(stmt))


def runs(shop_id: uuid.UUID) -> Select[Any]:
    return select(SyncRun).where(SyncRun.shop_id == shop_id)


def delivery(
    session: Session, delivery_id: uuid.UUID, *, lock: bool = False
) -> WebhookDelivery | None:
    stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def delivery_by_key(session: Session, source: str, external_id: str) -> WebhookDelivery | None:
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.source == source, WebhookDelivery.external_id == external_id
    )
    return session.scalar(stmt)


def deliveries(shop_id: uuid.UUID | None, status: DeliveryStatus | None) -> Select[Any]:
    stmt = select(WebhookDelivery)
    if shop_id is not None:
        stmt = stmt.where(WebhookDelivery.shop_id == shop_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    return stmt


_ADD_DELIVERY: dict[str, Any] = {}


def _add_delivery_statement(dialect: str) -> Any:
    table: Table = WebhookDelivery.__table__  # type: ignore[assignment]
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - the two supported databases are above
        stmt = insert(table)
    return stmt.returning(table.c.id)


def add_delivery(session: Session, row: dict[str, Any]) -> uuid.UUID | None:
    """Insert one delivery unless its ``(tenant, source, external_id)`` is already stored: one
    statement, no ORM unit of work. Returns the new id, or None for a duplicate."""
    dialect = session.get_bind().dialect.name
    stmt = _ADD_DELIVERY.get(dialect)
    if stmt is None:
        # Built once: the values travel as parameters, so the compiled form is reused.
        stmt = _ADD_DELIVERY[dialect] = _add_delivery_statement(dialect)
    inserted: uuid.UUID | None = session.execute(stmt, row).scalar_one_or_none()
    return inserted


def deliveries_to_queue(session: Session, limit: int) -> list[uuid.UUID]:
    """The bound tenant's stored deliveries not handed to the queue yet, oldest first. Locked
    (skipping rows another relay holds) on PostgreSQL, so two relays do not both send them."""
    stmt = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == DeliveryStatus.received)
        .order_by(WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def mark_queued(session: Session, delivery_ids: list[uuid.UUID]) -> None:
    """Record that these deliveries were published (a worker may have applied one already:
    only those still waiting change)."""
    if not delivery_ids:
        return
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(delivery_ids),
            WebhookDelivery.status == DeliveryStatus.received,
        )
        .values(status=DeliveryStatus.queued)
        .execution_options(synchronize_session=False)
    )


def unprocessed_deliveries(session: Session, received_before: datetime) -> list[uuid.UUID]:
    """Deliveries received before ``received_before`` and still not applied (queued or not)."""
    stmt = select(WebhookDelivery.id).where(
        WebhookDelivery.status.in_(PENDING_DELIVERY),
        WebhookDelivery.received_at < received_before,
    )
    return list(session.scalars(stmt))


def release_held(session: Session, shop_id: uuid.UUID | None = None) -> int:
    """Hand the held deliveries of this shop (or of every shop not paused) back to the relay;
    returns how many. Oldest first is kept: the relay queues by id."""
    stmt = update(WebhookDelivery).where(WebhookDelivery.status == DeliveryStatus.held)
    if shop_id is not None:
        stmt = stmt.where(WebhookDelivery.shop_id == shop_id)
    else:
        stmt = stmt.where(
            WebhookDelivery.shop_id.in_(select(Shop.id).where(Shop.status != ShopStatus.paused))
        )
    result = session.execute(
        stmt.values(status=DeliveryStatus.received).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def recent_deliveries(session: Session, limit: int) -> list[WebhookDelivery]:
    """The bound tenant's latest webhook deliveries, newest first."""
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    return list(session.scalars(stmt))
