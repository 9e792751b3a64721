"""The catalog (店铺/商品): categories, products, their SKUs, bundles and margin floors; listings
on the tenant's shops with their prices and sync state, scheduled price lists; catalog settings.

Every table is tenant-owned and keyed ``(tenant_id, id)``; references between them go through
``(tenant_id, x_id)``, so a product can never sit in another tenant's category nor a bundle
hold another tenant's SKU.
"""

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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import new_id, utcnow
from daiyun.core.tenancy import TenantScoped
from daiyun.platform.storefront.listing_rules import ListingState, PriceListStatus, SyncStatus
from daiyun.platform.storefront.rules import FloorMode
from daiyun.platform.storefront.schemas import CatalogStatus, JobKind, JobState


class Category(TenantScoped, Timestamped, Base):
    """A node of the tenant's category tree.

    ``path`` is the materialized path of ids from the root to this node (hex, ``/``-separated,
    this node last): a subtree is a prefix search, and a move that would put a node under its
    own descendant shows in the new parent's path.
    """

    __tablename__ = "catalog_categories"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "parent_id"], ["catalog_categories.tenant_id", "catalog_categories.id"]
        ),
        Index("ix_catalog_categories_path", "tenant_id", "path"),
    )

    parent_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(400))


class Product(TenantScoped, Timestamped, Base):
    """What the merchant sells, whatever its variants: the SKUs carry codes and costs."""

    __tablename__ = "catalog_products"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["catalog_categories.tenant_id", "catalog_categories.id"],
        ),
        Index("ix_catalog_products_status", "tenant_id", "status"),
        Index("ix_catalog_products_category", "tenant_id", "category_id"),
    )

    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[uuid.UUID | None]
    brand: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[CatalogStatus] = mapped_column(Enum(CatalogStatus, native_enum=False, length=16))

    skus: Mapped[list[Sku]] = relationship(
        order_by="Sku.id", lazy="selectin", back_populates="product"
    )


class Sku(TenantScoped, Timestamped, Base):
    """One variant of a product (SKU), under the merchant's own code.

    A bundle (组合商品) is a SKU made of other SKUs: its ``cost_minor`` stays NULL, its cost is
    always derived from its parts, so it can never disagree with them.
    """

    __tablename__ = "catalog_skus"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        ForeignKeyConstraint(
            ["tenant_id", "product_id"], ["catalog_products.tenant_id", "catalog_products.id"]
        ),
        Index("ix_catalog_skus_barcode", "tenant_id", "barcode"),
        Index("ix_catalog_skus_product", "tenant_id", "product_id"),
    )

    product_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(100))
    barcode: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    weight_grams: Mapped[int | None]
    length_mm: Mapped[int | None]
    width_mm: Mapped[int | None]
    height_mm: Mapped[int | None]
    is_bundle: Mapped[bool] = mapped_column(default=False)
    cost_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[CatalogStatus] = mapped_column(Enum(CatalogStatus, native_enum=False, length=16))

    product: Mapped[Product] = relationship(back_populates="skus", lazy="raise")


class BundlePart(TenantScoped, Base):
    """``quantity`` of SKU ``part_id`` in bundle ``bundle_id``."""

    __tablename__ = "catalog_bundle_parts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "bundle_id", "part_id"),
        ForeignKeyConstraint(
            ["tenant_id", "bundle_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "part_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
        Index("ix_catalog_bundle_parts_part", "tenant_id", "part_id"),
    )

    bundle_id: Mapped[uuid.UUID]
    part_id: Mapped[uuid.UUID]
    quantity: Mapped[int]


class MarginFloor(TenantScoped, Timestamped, Base):
    """The lowest margin a price may give: the tenant's default, or an override for a category
    (and its subtree) or a SKU. ``target`` names which, one row each: ``tenant``,
    ``category:<hex id>`` or ``sku:<hex id>``."""

    __tablename__ = "catalog_margin_floors"
    __table_args__ = (
        UniqueConstraint("tenant_id", "target"),
        ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["catalog_categories.tenant_id", "catalog_categories.id"],
        ),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
    )

    target: Mapped[str] = mapped_column(String(48))
    category_id: Mapped[uuid.UUID | None]
    sku_id: Mapped[uuid.UUID | None]
    mode: Mapped[FloorMode] = mapped_column(Enum(FloorMode, native_enum=False, length=8))
    # Decimal as canonical text: SQLite would keep a Numeric as a float.
    minimum_margin: Mapped[str] = mapped_column(String(20))


# --- listings, prices and their sync ---


class Listing(TenantScoped, Timestamped, Base):
    """One SKU offered on one of the tenant's shops, with its price and the marketplace's ids.

    ``version`` counts every change a marketplace must hear of (publish, unlist, price) and
    ``pushed_version`` the one it last acknowledged: a push that raced a newer change leaves the
    listing pending, so the newer change is sent too. ``pushed`` keeps the values last sent.
    """

    __tablename__ = "catalog_listings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku_id", "shop_id"),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        Index("ix_catalog_listings_shop", "tenant_id", "shop_id", "state"),
        Index("ix_catalog_listings_sync", "tenant_id", "sync_status", "next_attempt_at"),
        # Order lines name a shop and the marketplace's SKU id: matched through this.
        Index("ix_catalog_listings_external_sku", "tenant_id", "shop_id", "external_sku_id"),
    )

    sku_id: Mapped[uuid.UUID]
    shop_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[ListingState] = mapped_column(
        Enum(ListingState, native_enum=False, length=16), default=ListingState.draft
    )
    currency: Mapped[str] = mapped_column(String(3))
    list_price_minor: Mapped[int] = mapped_column(BigInteger)
    sale_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    # The price before the last change ("was" price): kept for display and for complaints
    # about fake discounts.
    prior_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    # The margin floor's warning on the current price (warn mode), or why it was overridden.
    floor_flag: Mapped[str | None] = mapped_column(String(400))
    price_overridden: Mapped[bool] = mapped_column(default=False)
    external_product_id: Mapped[str | None] = mapped_column(String(100))
    external_sku_id: Mapped[str | None] = mapped_column(String(100))
    external_inventory_item_id: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None]
    available_from: Mapped[datetime | None]
    # None while nothing was ever to be sent (a draft).
    sync_status: Mapped[SyncStatus | None] = mapped_column(
        Enum(SyncStatus, native_enum=False, length=16)
    )
    sync_error: Mapped[str | None] = mapped_column(Text)
    sync_attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=0)
    pushed_version: Mapped[int] = mapped_column(default=0)
    pushed: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PriceList(TenantScoped, Timestamped, Base):
    """A named set of listing prices in effect from ``starts_at`` until ``ends_at``.

    ``applied_at`` and ``ended_at`` record that the beat task applied and restored it: each
    is set by one conditional UPDATE on ``status``, so a task running twice, or two at once,
    applies a list once.
    """

    __tablename__ = "catalog_price_lists"
    __table_args__ = (Index("ix_catalog_price_lists_due", "tenant_id", "status", "starts_at"),)

    name: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[PriceListStatus] = mapped_column(
        Enum(PriceListStatus, native_enum=False, length=16), default=PriceListStatus.scheduled
    )
    applied_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class PriceListItem(TenantScoped, Base):
    """One listing's prices in a price list, and the prices it replaced (restored at the end)."""

    __tablename__ = "catalog_price_list_items"
    __table_args__ = (
        UniqueConstraint("tenant_id", "price_list_id", "listing_id"),
        ForeignKeyConstraint(
            ["tenant_id", "price_list_id"],
            ["catalog_price_lists.tenant_id", "catalog_price_lists.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "listing_id"], ["catalog_listings.tenant_id", "catalog_listings.id"]
        ),
        Index("ix_catalog_price_list_items_listing", "tenant_id", "listing_id"),
    )

    price_list_id: Mapped[uuid.UUID]
    listing_id: Mapped[uuid.UUID]
    list_price_minor: Mapped[int] = mapped_column(BigInteger)
    sale_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    override_reason: Mapped[str | None] = mapped_column(String(300))
    previous_list_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    previous_sale_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    previous_prior_price_minor: Mapped[int | None] = mapped_column(BigInteger)


class CatalogSettings(TenantScoped, Base):
    """A tenant's catalog settings, one row per tenant (keyed by the tenant alone): the
    portfolio analysis's thresholds in basis points (1000 = 10.00 %)."""

    __tablename__ = "catalog_settings"

    # Not part of the key: one row per tenant. Kept so the row has an id as every tenant row.
    id: Mapped[uuid.UUID] = mapped_column(default=new_id)
    portfolio_share_threshold_bp: Mapped[int] = mapped_column(default=1000, server_default="1000")
    portfolio_growth_threshold_bp: Mapped[int] = mapped_column(default=1000, server_default="1000")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- bulk work and order-line matching ---


class CatalogJob(TenantScoped, Timestamped, Base):
    """A piece of bulk work on the catalog (an import, an export, a bulk edit), run by a task.

    What it has done is kept here as it goes, in the transaction of the work itself: a worker
    that dies mid-job leaves a job whose ``written_rows`` says exactly where to resume.
    ``options`` holds what was asked (the filter, the changes, ``valid_rows_only``).
    """

    __tablename__ = "catalog_jobs"
    __table_args__ = (
        Index("ix_catalog_jobs_kind", "tenant_id", "kind", "id"),
        Index("ix_catalog_jobs_state", "tenant_id", "state", "heartbeat_at"),
    )

    kind: Mapped[JobKind] = mapped_column(
        Enum(JobKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    state: Mapped[JobState] = mapped_column(Enum(JobState, native_enum=False, length=16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    filename: Mapped[str | None] = mapped_column(String(200))
    total_rows: Mapped[int] = mapped_column(default=0)
    checked_rows: Mapped[int] = mapped_column(default=0)
    # Rows (of the file, or of the selection) done and committed: a resumed run starts after.
    written_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    problem_count: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None]
    error: Mapped[str | None] = mapped_column(String(400))


class CatalogJobProblem(TenantScoped, Base):
    """One problem a job found: the row of the file (1 is the first data row, 0 the header),
    the column and what is wrong."""

    __tablename__ = "catalog_job_problems"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "job_id"],
            ["catalog_jobs.tenant_id", "catalog_jobs.id"],
            ondelete="CASCADE",
        ),
        Index("ix_catalog_job_problems_job", "tenant_id", "job_id", "row"),
    )

    job_id: Mapped[uuid.UUID]
    row: Mapped[int]
    column: Mapped[str] = mapped_column(String(64))
    problem: Mapped[str] = mapped_column(String(400))


class CatalogJobChunk(TenantScoped, Base):
    """A piece of a job's file (the uploaded CSV, or the export written), in the database: a
    worker on another machine reads it, and it is the tenant's like any row (row security)."""

    __tablename__ = "catalog_job_chunks"
    __table_args__ = (
        UniqueConstraint("tenant_id", "job_id", "part", "seq"),
        ForeignKeyConstraint(
            ["tenant_id", "job_id"],
            ["catalog_jobs.tenant_id", "catalog_jobs.id"],
            ondelete="CASCADE",
        ),
    )

    job_id: Mapped[uuid.UUID]
    part: Mapped[str] = mapped_column(String(8))  # "upload" or "result"
    seq: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class SkuMapping(TenantScoped, Timestamped, Base):
    """A person's word that the marketplace SKU string ``marketplace_sku`` of a shop's order
    lines is the catalog's SKU ``sku_id``: it applies to the lines already there and to every
    line to come, and it comes before the listing and the SKU code when lines are matched."""

    __tablename__ = "catalog_sku_mappings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "shop_id", "marketplace_sku"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "sku_id"], ["catalog_skus.tenant_id", "catalog_skus.id"]
        ),
        Index("ix_catalog_sku_mappings_sku", "tenant_id", "sku_id"),
    )

    shop_id: Mapped[uuid.UUID]
    marketplace_sku: Mapped[str] = mapped_column(String(100))
    sku_id: Mapped[uuid.UUID]
    created_by: Mapped[uuid.UUID | None]
