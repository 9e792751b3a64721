"""reports: daily sales rollups

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_product_sales",
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("computed_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shop_id"],
            ["shops.tenant_id", "shops.id"],
            name=op.f("fk_daily_product_sales_tenant_id_shop_id_shops"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_daily_product_sales_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_daily_product_sales")),
        sa.UniqueConstraint(
            "tenant_id",
            "shop_id",
            "channel",
            "currency",
            "day",
            "sku",
            name="uq_daily_product_sales_bucket_sku",
        ),
    )
    with op.batch_alter_table("daily_product_sales", schema=None) as batch_op:
        batch_op.create_index(
            "ix_daily_product_sales_tenant_day", ["tenant_id", "day"], unique=False
        )

    op.create_table(
        "daily_sales",
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("paid_orders", sa.Integer(), nullable=False),
        sa.Column("gmv_minor", sa.BigInteger(), nullable=False),
        sa.Column("items_sold", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_orders", sa.Integer(), nullable=False),
        sa.Column("computed_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shop_id"],
            ["shops.tenant_id", "shops.id"],
            name=op.f("fk_daily_sales_tenant_id_shop_id_shops"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_daily_sales_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_daily_sales")),
        sa.UniqueConstraint(
            "tenant_id", "shop_id", "channel", "currency", "day", name="uq_daily_sales_bucket"
        ),
    )
    with op.batch_alter_table("daily_sales", schema=None) as batch_op:
        batch_op.create_index("ix_daily_sales_tenant_day", ["tenant_id", "day"], unique=False)

    for table in ("daily_sales", "daily_product_sales"):
        rls.enable(table)


def downgrade() -> None:
    with op.batch_alter_table("daily_sales", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_sales_tenant_day")
    op.drop_table("daily_sales")
    with op.batch_alter_table("daily_product_sales", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_product_sales_tenant_day")
    op.drop_table("daily_product_sales")
