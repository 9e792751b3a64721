"""fulfillment: the ship step's shipments (waybill, label, tracking, push to the marketplace;
one per parcel) and the merchant's carrier rules

Revision ID: 0028
Revises: 0031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0028"
down_revision = "0031"
branch_labels = None
depends_on = None

TENANT_TABLES = ("carrier_rules", "shipments")


def upgrade() -> None:
    op.create_table(
        "carrier_rules",
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(length=8), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=True),
        sa.Column("provinces", sa.JSON(), nullable=False),
        sa.Column("max_weight_grams", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_carrier_rules_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_carrier_rules_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_carrier_rules")),
    )
    with op.batch_alter_table("carrier_rules", schema=None) as batch_op:
        batch_op.create_index("ix_carrier_rules_priority", ["tenant_id", "priority"], unique=False)

    op.create_table(
        "shipments",
        sa.Column("fo_id", sa.Uuid(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("carrier", sa.String(length=8), nullable=False),
        sa.Column("waybill_no", sa.String(length=32), nullable=False),
        sa.Column("sort_code", sa.String(length=32), nullable=False),
        sa.Column("destination", sa.String(length=120), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=False),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "shipped",
                "delivered",
                "exception",
                name="shipmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("shipped_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shipped_by", sa.String(length=80), nullable=False),
        sa.Column("delivered_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("tracked_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "push_status",
            sa.Enum(
                "pending",
                "pushed",
                "refused",
                "unsupported",
                name="pushstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("push_attempts", sa.Integer(), nullable=False),
        sa.Column("push_error", sa.String(length=300), nullable=True),
        sa.Column("next_push_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pushed_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pushes", sa.JSON(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "fo_id"],
            ["fulfillment_orders.tenant_id", "fulfillment_orders.id"],
            name=op.f("fk_shipments_tenant_id_fo_id_fulfillment_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_shipments_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_shipments")),
        sa.UniqueConstraint(
            "tenant_id",
            "carrier",
            "waybill_no",
            name=op.f("uq_shipments_tenant_id_carrier_waybill_no"),
        ),
        sa.UniqueConstraint("tenant_id", "fo_id", name=op.f("uq_shipments_tenant_id_fo_id")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shipments_push", ["tenant_id", "push_status", "next_push_at"], unique=False
        )
        batch_op.create_index("ix_shipments_status", ["tenant_id", "status"], unique=False)
    for table in TENANT_TABLES:
        rls.enable(table)


def downgrade() -> None:
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index("ix_shipments_status")
        batch_op.drop_index("ix_shipments_push")

    op.drop_table("shipments")
    with op.batch_alter_table("carrier_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_carrier_rules_priority")

    op.drop_table("carrier_rules")
