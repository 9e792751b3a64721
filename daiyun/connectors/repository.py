"""Every query about shops, sync runs and webhook deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
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


def unprocessed_deliveries(session: Session, received_before: datetime) -> list[uuid.UUID]:
    stmt = select(WebhookDelivery.id).where(
        WebhookDelivery.status == DeliveryStatus.received,
        WebhookDelivery.received_at < received_before,
    )
    return list(session.scalars(stmt))
