"""storefront: listings on the shops with their prices and sync state, scheduled price lists,
and the per-tenant catalog settings

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = (
    "catalog_listings",
    "catalog_price_lists",
    "catalog_price_list_items",
    "catalog_settings",
)


def upgrade() -> None:
    op.create_table(
        "catalog_price_lists",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("starts_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled", "active", "ended", name="priceliststatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("applied_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_price_lists_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_price_lists")),
    )
    with op.batch_alter_table("catalog_price_lists", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_price_lists_due", ["tenant_id", "status", "starts_at"], unique=False
        )

    op.create_table(
        "catalog_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "portfolio_share_threshold_bp", sa.Integer(), server_default="1000", nullable=False
        ),
        sa.Column(
            "portfolio_growth_threshold_bp", sa.Integer(), server_default="1000", nullable=False
        ),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_settings_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_catalog_settings")),
    )
    op.create_table(
        "catalog_listings",
        sa.Column("sku_id", sa.Uuid(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "in_review",
                "published",
                "rejected",
                "unlisted",
                name="listingstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("list_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("sale_price_minor", sa.BigInteger(), nullable=True),
        sa.Column("prior_price_minor", sa.BigInteger(), nullable=True),
        sa.Column("floor_flag", sa.String(length=400), nullable=True),
        sa.Column("price_overridden", sa.Boolean(), nullable=False),
        sa.Column("external_product_id", sa.String(length=100), nullable=True),
        sa.Column("external_sku_id", sa.String(length=100), nullable=True),
        sa.Column("external_inventory_item_id", sa.String(length=100), nullable=True),
        sa.Column("published_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("available_from", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "sync_status",
            sa.Enum("pending", "synced", "failed", name="syncstatus", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column("sync_error", sa.Text(), nullable=True),
        sa.Column("sync_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("synced_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pushed_version", sa.Integer(), nullable=False),
        sa.Column("pushed", sa.JSON(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shop_id"],
            ["shops.tenant_id", "shops.id"],
            name=op.f("fk_catalog_listings_tenant_id_shop_id_shops"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            name=op.f("fk_catalog_listings_tenant_id_sku_id_catalog_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_listings_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_listings")),
        sa.UniqueConstraint(
            "tenant_id",
            "sku_id",
            "shop_id",
            name=op.f("uq_catalog_listings_tenant_id_sku_id_shop_id"),
        ),
    )
    with op.batch_alter_table("catalog_listings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_listings_shop", ["tenant_id", "shop_id", "state"], unique=False
        )
        batch_op.create_index(
            "ix_catalog_listings_sync",
            ["tenant_id", "sync_status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_catalog_listings_external_sku",
            ["tenant_id", "shop_id", "external_sku_id"],
            unique=False,
        )

    op.create_table(
        "catalog_price_list_items",
        sa.Column("price_list_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("list_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("sale_price_minor", sa.BigInteger(), nullable=True),
        sa.Column("override_reason", sa.String(length=300), nullable=True),
        sa.Column("previous_list_price_minor", sa.BigInteger(), nullable=True),
        sa.Column("previous_sale_price_minor", sa.BigInteger(), nullable=True),
        sa.Column("previous_prior_price_minor", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "listing_id"],
            ["catalog_listings.tenant_id", "catalog_listings.id"],
            name=op.f("fk_catalog_price_list_items_tenant_id_listing_id_catalog_listings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "price_list_id"],
            ["catalog_price_lists.tenant_id", "catalog_price_lists.id"],
            name=op.f("fk_catalog_price_list_items_tenant_id_price_list_id_catalog_price_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_price_list_items_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_price_list_items")),
        sa.UniqueConstraint(
            "tenant_id",
            "price_list_id",
            "listing_id",
            name=op.f("uq_catalog_price_list_items_tenant_id_price_list_id_listing_id"),
        ),
    )
    with op.batch_alter_table("catalog_price_list_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_price_list_items_listing", ["tenant_id", "listing_id"], unique=False
        )
    for table in TABLES:
        rls.enable(table)


def downgrade() -> None:
    with op.batch_alter_table("catalog_price_list_items", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_price_list_items_listing")

    op.drop_table("catalog_price_list_items")
    with op.batch_alter_table("catalog_listings", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_listings_sync")
        batch_op.drop_index("ix_catalog_listings_external_sku")
        batch_op.drop_index("ix_catalog_listings_shop")

    op.drop_table("catalog_listings")
    op.drop_table("catalog_settings")
    with op.batch_alter_table("catalog_price_lists", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_price_lists_due")

    op.drop_table("catalog_price_lists")
