"""Warehousing (仓储): warehouses and their bins, stock, its ledger, receipts, reservations,
exceptions and transfers.

Warehouses and locations belong to the agency (platform rows, no tenant): one warehouse holds
many merchants' goods. Everything else is tenant-owned (the tenant is the 货主, the owner of the
goods) and keyed ``(tenant_id, id)``; SKUs and orders are referenced through ``(tenant_id, x)``,
so a stock row can never hold another tenant's SKU.

The ledger is append-only (a trigger refuses UPDATE and DELETE on both databases); a stock row's
``on_hand`` and ``reserved`` are always the sums of its ledger rows' deltas, because the only
code that changes them (``repository.post``) writes the ledger row in the same statement batch.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import new_id, utcnow
from daiyun.core.tenancy import TenantScoped


class MoveKind(StrEnum):
    """What a ledger row records."""

    receipt = "receipt"
    reservation = "reservation"
    release = "release"
    adjustment = "adjustment"
    transfer_out = "transfer_out"
    transfer_in = "transfer_in"
    transfer_difference = "transfer_difference"
    pick = "pick"
    shipment = "shipment"
    # A buyer's return put back on a shelf (received as a receipt of kind ``return``).
    return_ = "return"


def _kind(enum: type[StrEnum], length: int) -> Enum:
    return Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Warehouse(Timestamped, Base):
    """One of the agency's warehouses (a platform resource, shared by its merchants)."""

    __tablename__ = "warehouses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    time_zone: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    # Allocation tries warehouses in this order (then by code) when no default applies.
    priority: Mapped[int] = mapped_column(default=100)


class Location(Timestamped, Base):
    """A bin (库位) of a warehouse: zone, aisle, shelf and bin make its code."""

    __tablename__ = "warehouse_locations"
    __table_args__ = (UniqueConstraint("warehouse_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"))
    code: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(16))
    aisle: Mapped[str] = mapped_column(String(16))
    shelf: Mapped[str] = mapped_column(String(16))
    bin: Mapped[str] = mapped_column(String(16))
    pickable: Mapped[bool] = mapped_column(default=True)
    # A location that may go below zero (a staging or returns area booked before counting).
    allow_negative: Mapped[bool] = mapped_column(default=False)


class Batch(TenantScoped, Base):
    """A lot (批次) of one SKU with its expiry: allocation takes the earliest expiry first."""

    __tablename__ = "stock_batches"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku_id", "lot"),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
    )

    sku_id: Mapped[uuid.UUID]
    lot: Mapped[str] = mapped_column(String(64))
    expires_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Stock(TenantScoped, Base):
    """The owner's quantity of one SKU in one location (and batch).

    ``slot`` is ``<location hex>/<batch hex or ->``: one row per (SKU, location, batch), unique
    even where the batch is absent (a NULL would not collide in a unique constraint).
    """

    __tablename__ = "stock"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku_id", "slot"),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "batch_id"], ["stock_batches.tenant_id", "stock_batches.id"]
        ),
        Index("ix_stock_sku_warehouse", "tenant_id", "sku_id", "warehouse_id"),
    )

    sku_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouse_locations.id"))
    batch_id: Mapped[uuid.UUID | None]
    slot: Mapped[str] = mapped_column(String(80))
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)


class StockMove(TenantScoped, Base):
    """One change to one stock row (库存流水): append-only."""

    __tablename__ = "stock_ledger"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "stock_id"], ["stock.tenant_id", "stock.id"]),
        Index("ix_stock_ledger_stock", "tenant_id", "stock_id"),
        Index("ix_stock_ledger_sku", "tenant_id", "sku_id", "id"),
    )

    stock_id: Mapped[uuid.UUID]
    sku_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID]
    kind: Mapped[MoveKind] = mapped_column(_kind(MoveKind, 24))
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    reserved_delta: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(300))
    # The document that caused it: ``receipt:<id>``, ``order:<id>``, ``transfer:<id>``...
    source: Mapped[str] = mapped_column(String(80))
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class StockSettings(TenantScoped, Timestamped, Base):
    """The owner's stock settings: the default warehouse orders are allocated from, and whether
    an order may be split across warehouses."""

    __tablename__ = "stock_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    default_warehouse_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("warehouses.id"))
    # An order no one warehouse has whole is split, each SKU from a warehouse that has it.
    split_by_warehouse: Mapped[bool] = mapped_column(default=False, server_default=false())


class SkuStockRule(TenantScoped, Timestamped, Base):
    """Per SKU (and warehouse): the safety stock held back from sale, and whether the SKU may
    go below zero. ``warehouse_id`` NULL is the SKU's row for the negative-stock flag."""

    __tablename__ = "stock_sku_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku_id", "scope"),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
    )

    sku_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("warehouses.id"))
    # ``<warehouse hex>`` or ``*`` (the SKU itself): unique where warehouse_id may be NULL.
    scope: Mapped[str] = mapped_column(String(40))
    safety_stock: Mapped[int] = mapped_column(default=0)
    allow_negative: Mapped[bool] = mapped_column(default=False)


class ReceiptStatus(StrEnum):
    expected = "expected"  # an ASN, nothing received yet
    receiving = "receiving"
    closed = "closed"


class ReceiptKind(StrEnum):
    purchase = "purchase"
    # A buyer's return (退货入库): its ledger rows are of kind ``return``.
    return_ = "return"


class Receipt(TenantScoped, Timestamped, Base):
    """A receipt (入库单), with the expected delivery (ASN lines) when one was announced."""

    __tablename__ = "stock_receipts"

    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"))
    kind: Mapped[ReceiptKind] = mapped_column(_kind(ReceiptKind, 16))
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[ReceiptStatus] = mapped_column(_kind(ReceiptStatus, 16))
    # [{"sku_id": hex, "quantity": n}]: the ASN; received quantities are summed from the ledger.
    expected: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    received: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Adjustment(TenantScoped, Base):
    """A correction of stock with its reason (报损, 报溢, found in a count...)."""

    __tablename__ = "stock_adjustments"

    reason: Mapped[str] = mapped_column(String(300))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReservationStatus(StrEnum):
    reserved = "reserved"
    released = "released"
    shipped = "shipped"
    short = "short"  # could not be fully reserved: an exception is open


class Reservation(TenantScoped, Timestamped, Base):
    """What one order holds: ``lines`` is [{"sku_id", "stock_id", "quantity"}] as allocated."""

    __tablename__ = "stock_reservations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id"),
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"]),
    )

    order_id: Mapped[uuid.UUID]
    status: Mapped[ReservationStatus] = mapped_column(_kind(ReservationStatus, 16))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class StockException(TenantScoped, Timestamped, Base):
    """An order that could not be fully reserved (缺货异常), naming what is missing."""

    __tablename__ = "stock_exceptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id"),
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"]),
    )

    order_id: Mapped[uuid.UUID]
    # [{"sku": code, "sku_id": hex or None, "wanted": n, "available": n}]
    missing: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    resolved_at: Mapped[datetime | None]


class TransferStatus(StrEnum):
    in_transit = "in_transit"
    received = "received"


class Transfer(TenantScoped, Timestamped, Base):
    """A transfer (调拨) from one warehouse to another, through transit.

    ``lines`` is [{"sku_id", "batch_id", "quantity", "received"}]: what left A, and what B
    counted on arrival.
    """

    __tablename__ = "stock_transfers"

    from_warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"))
    to_warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[TransferStatus] = mapped_column(_kind(TransferStatus, 16))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(String(300))


class CountKind(StrEnum):
    full = "full"  # every bin of the warehouse
    cycle = "cycle"  # the bins named


class CountStatus(StrEnum):
    counting = "counting"
    submitted = "submitted"  # counted, waiting for an approver
    approved = "approved"  # its adjustment is posted
    cancelled = "cancelled"


class StockCount(TenantScoped, Timestamped, Base):
    """A stocktake (盘点) of the owner's goods in some bins of one warehouse.

    The count is kept apart from what it changes: its lines record what was expected and what
    was counted, and only an approver's decision posts the difference, as an ``Adjustment``
    (``adjustment_id``) whose ledger rows name the count.
    """

    __tablename__ = "stock_counts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "adjustment_id"], ["stock_adjustments.tenant_id", "stock_adjustments.id"]
        ),
    )

    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"))
    kind: Mapped[CountKind] = mapped_column(_kind(CountKind, 16))
    status: Mapped[CountStatus] = mapped_column(_kind(CountStatus, 16))
    # The bins counted (hex ids); a full count names every bin the warehouse had at its start.
    location_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(String(300))
    started_by: Mapped[str] = mapped_column(String(80))
    submitted_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None]
    adjustment_id: Mapped[uuid.UUID | None]


class StockCountLine(TenantScoped, Base):
    """One SKU (and batch) in one bin of a count: the book quantity when the count started and
    what was counted, when. Units that moved in the ledger between the start and the moment
    of counting are what reconciles the two (``counts.reconcile``)."""

    __tablename__ = "stock_count_lines"
    __table_args__ = (
        UniqueConstraint("tenant_id", "count_id", "sku_id", "slot"),
        ForeignKeyConstraint(
            ["tenant_id", "count_id"], ["stock_counts.tenant_id", "stock_counts.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "batch_id"], ["stock_batches.tenant_id", "stock_batches.id"]
        ),
    )

    count_id: Mapped[uuid.UUID]
    sku_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouse_locations.id"))
    batch_id: Mapped[uuid.UUID | None]
    # The stock row's slot (``repository.slot_of``): the row may not exist yet (goods found).
    slot: Mapped[str] = mapped_column(String(80))
    expected: Mapped[int] = mapped_column(default=0)
    counted: Mapped[int | None]
    counted_at: Mapped[datetime | None]
    counted_by: Mapped[str | None] = mapped_column(String(80))
    # Set on approval: the ledger's movement before counting, and the difference posted.
    moved: Mapped[int | None]
    posted: Mapped[int | None]


class ReplenishmentRule(TenantScoped, Timestamped, Base):
    """Min/max (补货) of one SKU in one warehouse, and the days a purchase takes to arrive."""

    __tablename__ = "stock_replenishment_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku_id", "warehouse_id"),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
    )

    sku_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"))
    min_quantity: Mapped[int] = mapped_column(default=0)
    max_quantity: Mapped[int] = mapped_column(default=0)
    lead_time_days: Mapped[int] = mapped_column(default=0)


# --------------------------------------------------------------------------------------------
# Stock sync to shops (库存同步)
# --------------------------------------------------------------------------------------------


class ShareKind(StrEnum):
    ratio = "ratio"  # a percentage of the sellable stock
    fixed = "fixed"  # a fixed quantity (never more than is sellable)


class StockSyncRule(TenantScoped, Timestamped, Base):
    """How much of a SKU's sellable stock one shop shows: a ratio or a fixed quantity, and the
    safety floor at or below which the shop shows nothing. ``sku_id`` NULL is the shop's rule
    for every SKU without its own; ``warehouse_ids`` (hex) narrows the warehouses that serve
    the shop (empty: every active one)."""

    __tablename__ = "stock_sync_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "shop_id", "scope"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
    )

    shop_id: Mapped[uuid.UUID]
    sku_id: Mapped[uuid.UUID | None]
    # ``<SKU hex>`` or ``*`` (the shop's default): unique where sku_id may be NULL.
    scope: Mapped[str] = mapped_column(String(40))
    kind: Mapped[ShareKind] = mapped_column(_kind(ShareKind, 16))
    ratio_percent: Mapped[int | None]
    fixed_quantity: Mapped[int | None]
    safety_floor: Mapped[int] = mapped_column(default=0)
    warehouse_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


class StockSyncShop(TenantScoped, Base):
    """A shop's push schedule: when its coalesced push is due (NULL: none queued), when the
    last one started, and the last full resync."""

    __tablename__ = "stock_sync_shops"
    __table_args__ = (
        UniqueConstraint("tenant_id", "shop_id"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
    )

    shop_id: Mapped[uuid.UUID]
    push_due_at: Mapped[datetime | None]
    last_push_at: Mapped[datetime | None]
    resynced_at: Mapped[datetime | None]


class StockSyncStatus(StrEnum):
    pending = "pending"  # a change is waiting for the shop's push
    synced = "synced"  # the marketplace holds the quantity last computed
    failed = "failed"  # the last push did not get through, or was refused (see error)


class StockSyncListing(TenantScoped, Base):
    """One listing's stock sync: the quantity it should show, the one last pushed and when.

    ``version`` counts the stock changes that touched the listing and ``pushed_version`` the
    one its last push covered: a change while a push was on the wire leaves it pending.
    """

    __tablename__ = "stock_sync_listings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "listing_id"),
        ForeignKeyConstraint(
            ["tenant_id", "listing_id"], ["catalog_listings.tenant_id", "catalog_listings.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        Index("ix_stock_sync_listings_due", "tenant_id", "shop_id", "status", "next_attempt_at"),
        Index("ix_stock_sync_listings_sku", "tenant_id", "sku_id"),
    )

    listing_id: Mapped[uuid.UUID]
    shop_id: Mapped[uuid.UUID]
    sku_id: Mapped[uuid.UUID]
    status: Mapped[StockSyncStatus] = mapped_column(_kind(StockSyncStatus, 16))
    desired: Mapped[int | None]
    pushed_quantity: Mapped[int | None]
    pushed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    pushed_version: Mapped[int] = mapped_column(default=0)
    # A full resync sends the quantity even when it equals the one last pushed.
    forced: Mapped[bool] = mapped_column(default=False)
