"""The catalog (店铺/商品): categories, products, their SKUs, bundles and margin floors.

Every table is tenant-owned and keyed ``(tenant_id, id)``; references between them go through
``(tenant_id, x_id)``, so a product can never sit in another tenant's category nor a bundle
hold another tenant's SKU.
"""

from __future__ import annotations

import uuid
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from daiyun.core.db import Base, Timestamped
from daiyun.core.tenancy import TenantScoped
from daiyun.platform.storefront.rules import FloorMode
from daiyun.platform.storefront.schemas import CatalogStatus


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
