"""warehouse: stock sync to shops (share rules per shop and SKU, each shop's push schedule,
each listing's sync: the quantity it should show, the one last pushed and when)

Revision ID: 0031
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0031"
down_revision = "0027"
branch_labels = None
depends_on = None

TENANT_TABLES = ("stock_sync_shops", "stock_sync_rules", "stock_sync_listings")


def upgrade() -> None:
    op.create_table(
        "stock_sync_shops",
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("push_due_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_push_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resynced_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shop_id"],
            ["shops.tenant_id", "shops.id"],
            name=op.f("fk_stock_sync_shops_tenant_id_shop_id_shops"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_sync_shops_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stock_sync_shops")),
        sa.UniqueConstraint(
            "tenant_id", "shop_id", name=op.f("uq_stock_sync_shops_tenant_id_shop_id")
        ),
    )
    op.create_table(
        "stock_sync_rules",
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("sku_id", sa.Uuid(), nullable=True),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("ratio", "fixed", name="sharekind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("ratio_percent", sa.Integer(), nullable=True),
        sa.Column("fixed_quantity", sa.Integer(), nullable=True),
        sa.Column("safety_floor", sa.Integer(), nullable=False),
        sa.Column("warehouse_ids", sa.JSON(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shop_id"],
            ["shops.tenant_id", "shops.id"],
            name=op.f("fk_stock_sync_rules_tenant_id_shop_id_shops"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            name=op.f("fk_stock_sync_rules_tenant_id_sku_id_catalog_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_sync_rules_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stock_sync_rules")),
        sa.UniqueConstraint(
            "tenant_id",
            "shop_id",
            "scope",
            name=op.f("uq_stock_sync_rules_tenant_id_shop_id_scope"),
        ),
    )
    op.create_table(
        "stock_sync_listings",
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("sku_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "synced", "failed", name="stocksyncstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("desired", sa.Integer(), nullable=True),
        sa.Column("pushed_quantity", sa.Integer(), nullable=True),
        sa.Column("pushed_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pushed_version", sa.Integer(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "listing_id"],
            ["catalog_listings.tenant_id", "catalog_listings.id"],
            name=op.f("fk_stock_sync_listings_tenant_id_listing_id_catalog_listings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shop_id"],
            ["shops.tenant_id", "shops.id"],
            name=op.f("fk_stock_sync_listings_tenant_id_shop_id_shops"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_sync_listings_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stock_sync_listings")),
        sa.UniqueConstraint(
            "tenant_id", "listing_id", name=op.f("uq_stock_sync_listings_tenant_id_listing_id")
        ),
    )
    with op.batch_alter_table("stock_sync_listings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_sync_listings_due",
            ["tenant_id", "shop_id", "status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index("ix_stock_sync_listings_sku", ["tenant_id", "sku_id"], unique=False)
    for table in TENANT_TABLES:
        rls.enable(table)


def downgrade() -> None:
    with op.batch_alter_table("stock_sync_listings", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_sync_listings_sku")
        batch_op.drop_index("ix_stock_sync_listings_due")

    op.drop_table("stock_sync_listings")
    op.drop_table("stock_sync_rules")
    op.drop_table("stock_sync_shops")
