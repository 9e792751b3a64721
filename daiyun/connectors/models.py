"""Shops (a tenant's store on one channel), webhook deliveries and sync runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import TenantScoped


class ShopStatus(StrEnum):
    active = "active"
    paused = "paused"
    reauthorization_needed = "reauthorization_needed"
    disconnected = "disconnected"


class Shop(TenantScoped, Timestamped, Base):
    """A tenant's store on one marketplace, with its encrypted credentials and sync state."""

    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("tenant_id", "channel", "external_id"),)

    channel: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[ShopStatus] = mapped_column(
        Enum(ShopStatus, native_enum=False, length=32), default=ShopStatus.active
    )
    # AES-GCM bound to the tenant (daiyun.core.crypto); the version prefix names the key.
    credentials_ciphertext: Mapped[str] = mapped_column(Text)
    api_base_url: Mapped[str | None] = mapped_column(String(500))
    webhook_key: Mapped[str] = mapped_column(String(64), unique=True)
    # Incremental pull: everything modified before the cursor is in the order book.
    sync_cursor: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)


class WebhookRoute(Base):
    """Which tenant and shop a webhook key belongs to: read before any tenant is known.

    Holds no secret (the signature authenticates a delivery), so it lives outside the tenant
    tables; the shop row itself stays behind row-level security.
    """

    __tablename__ = "webhook_routes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    shop_id: Mapped[uuid.UUID]


class DeliveryStatus(StrEnum):
    # Stored and acknowledged; the relay has not handed it to the webhooks queue yet.
    received = "received"
    # Handed to the webhooks queue (published to the broker), not yet applied.
    queued = "queued"
    # Stored while its shop is paused or its tenant suspended: kept, not applied, and handed
    # on again (back to ``received``) when the shop resumes or the tenant is active again.
    held = "held"
    processed = "processed"
    stale = "stale"
    ignored = "ignored"
    failed = "failed"


class WebhookDelivery(TenantScoped, Base):
    """A verified push from a marketplace, stored raw before any work is trusted to it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "external_id"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        Index("ix_webhook_deliveries_status", "tenant_id", "status"),
    )

    shop_id: Mapped[uuid.UUID]
    # "{channel}:{shop id}" and the channel's event key: a repeat of the pair is a duplicate.
    source: Mapped[str] = mapped_column(String(80))
    external_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(80))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=16), default=DeliveryStatus.received
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    order_id: Mapped[uuid.UUID | None]
    error: Mapped[str | None] = mapped_column(Text)


class SyncRun(TenantScoped, Base):
    """One pull of a shop's orders over a window: what it read and what it changed."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        Index("ix_sync_runs_shop", "tenant_id", "shop_id"),
    )

    shop_id: Mapped[uuid.UUID]
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    # Windows before this are committed: a run picked up again after a crash starts here.
    resume_from: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    pages: Mapped[int] = mapped_column(default=0)
    orders_created: Mapped[int] = mapped_column(default=0)
    orders_updated: Mapped[int] = mapped_column(default=0)
    orders_unchanged: Mapped[int] = mapped_column(default=0)
    requests: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
