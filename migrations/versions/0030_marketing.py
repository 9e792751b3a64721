"""marketing: campaigns, promotions (满减 tiers, buy X get Y, flash sales with their carve-out),
coupons, redemptions (append-only) and the tenant's marketing settings

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "mkt_settings",
    "mkt_campaigns",
    "mkt_promotions",
    "mkt_coupons",
    "mkt_redemptions",
)


def upgrade() -> None:
    op.create_table(
        "mkt_campaigns",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("goal", sa.String(length=300), nullable=True),
        sa.Column("starts_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("budget_minor", sa.BigInteger(), nullable=False),
        sa.Column("discount_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("attributed_gmv_minor", sa.BigInteger(), nullable=False),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mkt_campaigns_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mkt_campaigns")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_mkt_campaigns_tenant_id_name")),
    )
    op.create_table(
        "mkt_settings",
        sa.Column(
            "margin_policy",
            sa.Enum("refuse", "cap", name="marginpolicy", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mkt_settings_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mkt_settings")),
    )
    op.create_table(
        "mkt_promotions",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "order",
                "items",
                "shipping",
                "tiered",
                "bxgy",
                "flash",
                name="kind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "value_type",
            sa.Enum("fixed", "percent", name="valuetype", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("cap_minor", sa.BigInteger(), nullable=True),
        sa.Column("sku_ids", sa.JSON(), nullable=False),
        sa.Column("category_ids", sa.JSON(), nullable=False),
        sa.Column("min_order_minor", sa.BigInteger(), nullable=False),
        sa.Column("buy_quantity", sa.Integer(), nullable=False),
        sa.Column("get_quantity", sa.Integer(), nullable=False),
        sa.Column(
            "stacking",
            sa.Enum("stackable", "exclusive", name="stacking", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("requires_coupon", sa.Boolean(), nullable=False),
        sa.Column("starts_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("total_limit", sa.Integer(), nullable=True),
        sa.Column("per_buyer_limit", sa.Integer(), nullable=True),
        sa.Column("redeemed", sa.Integer(), nullable=False),
        sa.Column("flash_price_minor", sa.BigInteger(), nullable=True),
        sa.Column("flash_stock", sa.Integer(), nullable=False),
        sa.Column("flash_sold", sa.Integer(), nullable=False),
        sa.Column("flash_warehouse_id", sa.Uuid(), nullable=True),
        sa.Column(
            "carve_status",
            sa.Enum("none", "held", "released", name="carvestatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("carved", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["mkt_campaigns.tenant_id", "mkt_campaigns.id"],
            name=op.f("fk_mkt_promotions_tenant_id_campaign_id_mkt_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mkt_promotions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mkt_promotions")),
    )
    with op.batch_alter_table("mkt_promotions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mkt_promotions_campaign", ["tenant_id", "campaign_id"], unique=False
        )

    op.create_table(
        "mkt_coupons",
        sa.Column("promotion_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("batch", sa.String(length=40), nullable=True),
        sa.Column("total_limit", sa.Integer(), nullable=True),
        sa.Column("per_buyer_limit", sa.Integer(), nullable=True),
        sa.Column("min_order_minor", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("redeemed", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "promotion_id"],
            ["mkt_promotions.tenant_id", "mkt_promotions.id"],
            name=op.f("fk_mkt_coupons_tenant_id_promotion_id_mkt_promotions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mkt_coupons_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mkt_coupons")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_mkt_coupons_tenant_id_code")),
    )
    with op.batch_alter_table("mkt_coupons", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mkt_coupons_promotion", ["tenant_id", "promotion_id"], unique=False
        )

    op.create_table(
        "mkt_redemptions",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("promotion_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("buyer", sa.String(length=320), nullable=False),
        sa.Column(
            "source",
            sa.Enum("api", "order", name="redemptionsource", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("discount_minor", sa.BigInteger(), nullable=False),
        sa.Column("order_total_minor", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.String(length=500), nullable=False),
        sa.Column("at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "coupon_id"],
            ["mkt_coupons.tenant_id", "mkt_coupons.id"],
            name=op.f("fk_mkt_redemptions_tenant_id_coupon_id_mkt_coupons"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_mkt_redemptions_tenant_id_order_id_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "promotion_id"],
            ["mkt_promotions.tenant_id", "mkt_promotions.id"],
            name=op.f("fk_mkt_redemptions_tenant_id_promotion_id_mkt_promotions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mkt_redemptions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mkt_redemptions")),
        sa.UniqueConstraint(
            "tenant_id",
            "key",
            "promotion_id",
            name=op.f("uq_mkt_redemptions_tenant_id_key_promotion_id"),
        ),
    )
    with op.batch_alter_table("mkt_redemptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mkt_redemptions_buyer", ["tenant_id", "promotion_id", "buyer"], unique=False
        )

    for table in TENANT_TABLES:
        rls.enable(table)
    rls.append_only("mkt_redemptions")


def downgrade() -> None:
    with op.batch_alter_table("mkt_redemptions", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_redemptions_buyer")

    op.drop_table("mkt_redemptions")
    with op.batch_alter_table("mkt_coupons", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_coupons_promotion")

    op.drop_table("mkt_coupons")
    with op.batch_alter_table("mkt_promotions", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_promotions_campaign")

    op.drop_table("mkt_promotions")
    op.drop_table("mkt_settings")
    op.drop_table("mkt_campaigns")
