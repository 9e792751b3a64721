"""The order book: one canonical order per (shop, external id), whatever the channel."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import TenantScoped
from daiyun.platform.orders.normalized import OrderStatus


class ReviewState:
    """Where an order stands in review (订单审核)."""

    passed = "passed"
    held = "held"
    released = "released"
    auto_approved = "auto_approved"
    cancelled = "cancelled"


class Order(TenantScoped, Timestamped, Base):
    """A buyer's order on one of the tenant's shops, as the channel last described it.

    ``status`` is what the agency sees: the channel's state mapped to ours, or ``on_hold`` while
    review holds it; ``source_status`` always follows the channel.
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "shop_id", "external_id"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        Index("ix_orders_tenant_placed", "tenant_id", "placed_at"),
        Index("ix_orders_tenant_status", "tenant_id", "status"),
        Index("ix_orders_tenant_fingerprint", "tenant_id", "fingerprint"),
        # Which currencies a tenant sells in, found by index seeks (repository.currencies).
        Index("ix_orders_tenant_currency", "tenant_id", "currency"),
        # After-sales asks for a buyer's earlier orders (its trusted-buyer rule).
        Index("ix_orders_tenant_buyer_email", "tenant_id", "buyer_email"),
    )

    shop_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[OrderStatus] = mapped_column(Enum(OrderStatus, native_enum=False, length=24))
    source_status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=24)
    )
    channel_status: Mapped[str] = mapped_column(String(100))
    review_state: Mapped[str] = mapped_column(String(16), default=ReviewState.passed)
    hold_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    item_count: Mapped[int] = mapped_column(default=0)
    buyer_name: Mapped[str | None] = mapped_column(String(200))
    buyer_email: Mapped[str | None] = mapped_column(String(320))
    buyer_phone: Mapped[str | None] = mapped_column(String(64))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Buyer plus items, hashed: equal fingerprints close in time suggest a duplicate order.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    placed_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    source_offset_minutes: Mapped[int] = mapped_column(default=0)
    source_updated_at: Mapped[datetime]
    # The channel's document as received, for audit and replay.
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)

    lines: Mapped[list[OrderLine]] = relationship(
        order_by="OrderLine.position", cascade="all, delete-orphan", lazy="selectin"
    )
    refunds: Mapped[list[OrderRefund]] = relationship(
        order_by="OrderRefund.refunded_at", cascade="all, delete-orphan", lazy="selectin"
    )
    # Appended to, never loaded whole (the history API pages through the repository).
    events: WriteOnlyMapped[OrderEvent] = relationship(passive_deletes=True)


class OrderLine(TenantScoped, Base):
    """One SKU on an order, in exact minor units of the order's currency."""

    __tablename__ = "order_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"], ondelete="CASCADE"
        ),
        Index("ix_order_lines_order", "tenant_id", "order_id"),
    )

    order_id: Mapped[uuid.UUID]
    position: Mapped[int]
    external_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int]
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)


class OrderRefund(TenantScoped, Base):
    """Money returned to the buyer on an order (a refund or after-sales settlement)."""

    __tablename__ = "order_refunds"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id", "external_id"),
        ForeignKeyConstraint(
            ["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"], ondelete="CASCADE"
        ),
    )

    order_id: Mapped[uuid.UUID]
    external_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    refunded_at: Mapped[datetime]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class OrderEvent(TenantScoped, Base):
    """The history of one order: imported, changed, held, released, cancelled, refunded."""

    __tablename__ = "order_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"], ondelete="CASCADE"
        ),
        Index("ix_order_events_order", "tenant_id", "order_id"),
    )

    order_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReviewPolicy(TenantScoped, Timestamped, Base):
    """A tenant's order review (订单审核) rules, thresholds, blocklists and auto-approve lists."""

    __tablename__ = "review_policies"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
