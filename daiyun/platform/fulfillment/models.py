"""Fulfilment (发货): from a reviewed order with reserved stock to a packed parcel.

A fulfilment order is one parcel: at first one per order and warehouse (an order whose stock
sits in two warehouses is split in two), later perhaps several orders of one buyer merged (合单)
into one. Its lines name the stock rows the warehouse reserved, with the bin each is picked from.
Every change of state is logged with its actor (``FulfillmentEvent``); exceptions (异常) are rows
of their own, open until a resolution action closes them, so none is lost between screens.

Waves (波次) are the agency's, like the warehouses they run in: one wave may gather several
merchants' fulfilment orders. The wave row is a platform row; each merchant's orders point at
it, so a merchant reads a wave only through its own fulfilment orders.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import new_id, utcnow
from daiyun.core.tenancy import TenantScoped


class FoState(StrEnum):
    awaiting_stock = "awaiting_stock"
    ready = "ready"
    in_wave = "in_wave"
    picked = "picked"
    packed = "packed"
    shipped = "shipped"
    delivered = "delivered"
    exception = "exception"
    cancelled = "cancelled"
    # Its lines went into another fulfilment order (合单); it ships as part of that one.
    merged = "merged"


class ExceptionKind(StrEnum):
    out_of_stock = "out_of_stock"
    address_unserviceable = "address_unserviceable"
    # Cancelled or refunded on the marketplace before shipment (拦截).
    intercepted = "intercepted"
    deadline_near = "deadline_near"


class MergeMode(StrEnum):
    auto = "auto"  # merge as soon as the orders are ready together
    suggest = "suggest"  # list the candidates; an operator merges them
    off = "off"


class WaveStatus(StrEnum):
    open = "open"  # being picked
    picked = "picked"
    cancelled = "cancelled"


def _kind(enum: type[StrEnum], length: int) -> Enum:
    return Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class FulfillmentSettings(TenantScoped, Timestamped, Base):
    """The merchant's fulfilment rules: merging, partial shipment and the shipping deadline."""

    __tablename__ = "fulfillment_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    merge_mode: Mapped[MergeMode] = mapped_column(_kind(MergeMode, 16), default=MergeMode.suggest)
    allow_partial: Mapped[bool] = mapped_column(default=False)
    # Hours from payment the merchant promises to ship within (the marketplaces' 发货时效).
    ship_within_hours: Mapped[int] = mapped_column(default=48)
    # An exception is raised this many hours before the deadline for what has not shipped.
    warn_hours: Mapped[int] = mapped_column(default=6)


class Wave(Timestamped, Base):
    """A pick wave (波次) in one warehouse: a platform row, its orders are the merchants'."""

    __tablename__ = "fulfillment_waves"
    __table_args__ = (Index("ix_fulfillment_waves_warehouse", "warehouse_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"))
    number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[WaveStatus] = mapped_column(_kind(WaveStatus, 16))
    # The rule it was planned with: {"single_item", "zone", "max_orders"}.
    rule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The merchants with orders in it (hex ids), so agency reads visit only those.
    tenant_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(80))
    picked_at: Mapped[datetime | None]


class FulfillmentOrder(TenantScoped, Timestamped, Base):
    """One parcel to pick, pack and ship from one warehouse.

    ``lines`` is [{"order_id", "sku_id", "sku", "quantity", "stock_id", "location_id",
    "location"}]: what the warehouse reserved, with the bin code the picker walks to.
    An order has at most one live parcel per warehouse (and one awaiting stock); the order's
    events are handled one at a time (its reservation row is locked first), so that holds
    without a constraint that cancelled parcels would collide with.
    """

    __tablename__ = "fulfillment_orders"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"]),
        Index("ix_fulfillment_orders_order", "tenant_id", "order_id"),
        Index("ix_fulfillment_orders_state", "tenant_id", "state", "warehouse_id"),
        Index("ix_fulfillment_orders_wave", "tenant_id", "wave_id"),
    )

    number: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[uuid.UUID]
    # Every order whose lines it carries (hex ids): more than one once merged.
    order_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    shop_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("warehouses.id"))
    state: Mapped[FoState] = mapped_column(_kind(FoState, 24))
    # The state an exception interrupted, to resume when it is resolved.
    held_state: Mapped[FoState | None] = mapped_column(_kind(FoState, 24))
    # Buyer, shop and address digest: orders sharing it may ship as one parcel.
    merge_key: Mapped[str] = mapped_column(String(64))
    merged_into_id: Mapped[uuid.UUID | None]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    wave_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("fulfillment_waves.id"))
    ship_by: Mapped[datetime | None]
    # Units scanned at the pack station per SKU (hex id), and scans refused.
    scanned: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    scan_errors: Mapped[int] = mapped_column(default=0)
    weight_grams: Mapped[int | None]
    picked_at: Mapped[datetime | None]
    packed_at: Mapped[datetime | None]
    packed_by: Mapped[str | None] = mapped_column(String(80))


class FulfillmentEvent(TenantScoped, Base):
    """One transition of a fulfilment order, with who made it."""

    __tablename__ = "fulfillment_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "fo_id"], ["fulfillment_orders.tenant_id", "fulfillment_orders.id"]
        ),
        Index("ix_fulfillment_events_fo", "tenant_id", "fo_id", "id"),
    )

    fo_id: Mapped[uuid.UUID]
    from_state: Mapped[FoState | None] = mapped_column(_kind(FoState, 24))
    to_state: Mapped[FoState] = mapped_column(_kind(FoState, 24))
    note: Mapped[str] = mapped_column(String(300), default="")
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FulfillmentException(TenantScoped, Timestamped, Base):
    """An exception (异常) on a fulfilment order, open until resolved with an action."""

    __tablename__ = "fulfillment_exceptions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "fo_id"], ["fulfillment_orders.tenant_id", "fulfillment_orders.id"]
        ),
        Index("ix_fulfillment_exceptions_open", "tenant_id", "resolved_at", "kind"),
    )

    fo_id: Mapped[uuid.UUID]
    kind: Mapped[ExceptionKind] = mapped_column(_kind(ExceptionKind, 32))
    detail: Mapped[str] = mapped_column(String(500), default="")
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolution: Mapped[str | None] = mapped_column(String(32))


# ============================================================================================
# Shipping (the ship step, ``shipping.py``): carrier rules and shipments
# ============================================================================================


class ShipmentStatus(StrEnum):
    shipped = "shipped"  # handed to the carrier, on its way
    delivered = "delivered"
    exception = "exception"  # the carrier reports a delivery failure


class PushStatus(StrEnum):
    """Where telling the marketplace stands (发货回传)."""

    pending = "pending"  # to be sent (again, after a 5xx/429, once next_push_at is past)
    pushed = "pushed"
    refused = "refused"  # the marketplace refused it: a person looks (push again by hand)
    unsupported = "unsupported"  # the shop's marketplace has no ship API


class CarrierRule(TenantScoped, Timestamped, Base):
    """Which carrier ships a parcel: the first rule (lowest priority number) whose warehouse,
    destination province and weight limit match; none matching, the default carrier."""

    __tablename__ = "carrier_rules"
    __table_args__ = (Index("ix_carrier_rules_priority", "tenant_id", "priority"),)

    priority: Mapped[int]
    carrier: Mapped[str] = mapped_column(String(8))
    # None: any warehouse; empty list: any province.
    warehouse_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("warehouses.id"))
    provinces: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_weight_grams: Mapped[int | None]


class Shipment(TenantScoped, Timestamped, Base):
    """A shipped parcel: its carrier's waybill, its tracking, and its push to the marketplace.

    One per fulfilment order (the unique key makes shipping twice impossible). ``label`` keeps
    what the label printed (recipient, sender), so a reprint is the same label. ``pushes`` holds
    per marketplace order (hex id) what its push ended in: "pushed" or "duplicate".
    """

    __tablename__ = "shipments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "fo_id"], ["fulfillment_orders.tenant_id", "fulfillment_orders.id"]
        ),
        UniqueConstraint("tenant_id", "fo_id"),
        UniqueConstraint("tenant_id", "carrier", "waybill_no"),
        Index("ix_shipments_status", "tenant_id", "status"),
        Index("ix_shipments_push", "tenant_id", "push_status", "next_push_at"),
    )

    fo_id: Mapped[uuid.UUID]
    shop_id: Mapped[uuid.UUID]
    order_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    carrier: Mapped[str] = mapped_column(String(8))
    waybill_no: Mapped[str] = mapped_column(String(32))
    sort_code: Mapped[str] = mapped_column(String(32))
    destination: Mapped[str] = mapped_column(String(120))
    weight_grams: Mapped[int]
    label: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ShipmentStatus] = mapped_column(_kind(ShipmentStatus, 16))
    shipped_at: Mapped[datetime]
    shipped_by: Mapped[str] = mapped_column(String(80))
    delivered_at: Mapped[datetime | None]
    # The carrier's events so far: [{"seq", "code", "description", "location", "at"}].
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tracked_at: Mapped[datetime | None]
    push_status: Mapped[PushStatus] = mapped_column(_kind(PushStatus, 16))
    push_attempts: Mapped[int] = mapped_column(default=0)
    push_error: Mapped[str | None] = mapped_column(String(300))
    # Not before this moment: a backoff after a retryable failure, or a claim's lease.
    next_push_at: Mapped[datetime | None]
    pushed_at: Mapped[datetime | None]
    pushes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
