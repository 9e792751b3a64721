"""warehouse: stocktakes (counts and their lines, kept apart from the adjustment an approver
posts) and replenishment rules (min/max and lead time per SKU and warehouse)

Revision ID: 0026
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0026"
down_revision = "0022"
branch_labels = None
depends_on = None

TENANT_TABLES = ("stock_counts", "stock_count_lines", "stock_replenishment_rules")


def upgrade() -> None:
    op.create_table(
        "stock_counts",
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("full", "cycle", name="countkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "counting",
                "submitted",
                "approved",
                "cancelled",
                name="countstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("location_ids", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("started_by", sa.String(length=80), nullable=False),
        sa.Column("submitted_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("approved_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("adjustment_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "adjustment_id"],
            ["stock_adjustments.tenant_id", "stock_adjustments.id"],
            name=op.f("fk_stock_counts_tenant_id_adjustment_id_stock_adjustments"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_counts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_counts_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stock_counts")),
    )
    op.create_table(
        "stock_replenishment_rules",
        sa.Column("sku_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=False),
        sa.Column("max_quantity", sa.Integer(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            name=op.f("fk_stock_replenishment_rules_tenant_id_sku_id_catalog_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_replenishment_rules_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_replenishment_rules_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stock_replenishment_rules")),
        sa.UniqueConstraint(
            "tenant_id",
            "sku_id",
            "warehouse_id",
            name=op.f("uq_stock_replenishment_rules_tenant_id_sku_id_warehouse_id"),
        ),
    )
    op.create_table(
        "stock_count_lines",
        sa.Column("count_id", sa.Uuid(), nullable=False),
        sa.Column("sku_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("slot", sa.String(length=80), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=True),
        sa.Column("counted_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("counted_by", sa.String(length=80), nullable=True),
        sa.Column("moved", sa.Integer(), nullable=True),
        sa.Column("posted", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["warehouse_locations.id"],
            name=op.f("fk_stock_count_lines_location_id_warehouse_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "batch_id"],
            ["stock_batches.tenant_id", "stock_batches.id"],
            name=op.f("fk_stock_count_lines_tenant_id_batch_id_stock_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "count_id"],
            ["stock_counts.tenant_id", "stock_counts.id"],
            name=op.f("fk_stock_count_lines_tenant_id_count_id_stock_counts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            name=op.f("fk_stock_count_lines_tenant_id_sku_id_catalog_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_count_lines_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stock_count_lines")),
        sa.UniqueConstraint(
            "tenant_id",
            "count_id",
            "sku_id",
            "slot",
            name=op.f("uq_stock_count_lines_tenant_id_count_id_sku_id_slot"),
        ),
    )
    for table in TENANT_TABLES:
        rls.enable(table)


def downgrade() -> None:
    op.drop_table("stock_count_lines")
    op.drop_table("stock_replenishment_rules")
    op.drop_table("stock_counts")
