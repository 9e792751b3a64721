"""fulfillment: parcels (one per order and warehouse, or merged), their transition log and
exceptions, the merchant's settings; pick waves (platform rows, several merchants' parcels);
the warehouse's split of an order across warehouses (拆单) as a stock setting

Revision ID: 0027
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0027"
down_revision = "0030"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "fulfillment_settings",
    "fulfillment_orders",
    "fulfillment_events",
    "fulfillment_exceptions",
)


def upgrade() -> None:
    op.create_table(
        "fulfillment_settings",
        sa.Column(
            "merge_mode",
            sa.Enum("auto", "suggest", "off", name="mergemode", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("allow_partial", sa.Boolean(), nullable=False),
        sa.Column("ship_within_hours", sa.Integer(), nullable=False),
        sa.Column("warn_hours", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_fulfillment_settings_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_fulfillment_settings")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_fulfillment_settings_tenant_id")),
    )
    op.create_table(
        "fulfillment_waves",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "picked", "cancelled", name="wavestatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("tenant_ids", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("picked_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_fulfillment_waves_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfillment_waves")),
        sa.UniqueConstraint("number", name=op.f("uq_fulfillment_waves_number")),
    )
    with op.batch_alter_table("fulfillment_waves", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfillment_waves_warehouse", ["warehouse_id", "id"], unique=False
        )

    op.create_table(
        "fulfillment_orders",
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "awaiting_stock",
                "ready",
                "in_wave",
                "picked",
                "packed",
                "shipped",
                "delivered",
                "exception",
                "cancelled",
                "merged",
                name="fostate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "held_state",
            sa.Enum(
                "awaiting_stock",
                "ready",
                "in_wave",
                "picked",
                "packed",
                "shipped",
                "delivered",
                "exception",
                "cancelled",
                "merged",
                name="fostate",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("merge_key", sa.String(length=64), nullable=False),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("wave_id", sa.Uuid(), nullable=True),
        sa.Column("ship_by", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scanned", sa.JSON(), nullable=False),
        sa.Column("scan_errors", sa.Integer(), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=True),
        sa.Column("picked_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("packed_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("packed_by", sa.String(length=80), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_fulfillment_orders_tenant_id_order_id_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_fulfillment_orders_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_fulfillment_orders_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["fulfillment_waves.id"],
            name=op.f("fk_fulfillment_orders_wave_id_fulfillment_waves"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_fulfillment_orders")),
    )
    with op.batch_alter_table("fulfillment_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfillment_orders_order", ["tenant_id", "order_id"], unique=False
        )
        batch_op.create_index(
            "ix_fulfillment_orders_state", ["tenant_id", "state", "warehouse_id"], unique=False
        )
        batch_op.create_index("ix_fulfillment_orders_wave", ["tenant_id", "wave_id"], unique=False)

    op.create_table(
        "fulfillment_events",
        sa.Column("fo_id", sa.Uuid(), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                "awaiting_stock",
                "ready",
                "in_wave",
                "picked",
                "packed",
                "shipped",
                "delivered",
                "exception",
                "cancelled",
                "merged",
                name="fostate",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "awaiting_stock",
                "ready",
                "in_wave",
                "picked",
                "packed",
                "shipped",
                "delivered",
                "exception",
                "cancelled",
                "merged",
                name="fostate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "fo_id"],
            ["fulfillment_orders.tenant_id", "fulfillment_orders.id"],
            name=op.f("fk_fulfillment_events_tenant_id_fo_id_fulfillment_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_fulfillment_events_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_fulfillment_events")),
    )
    with op.batch_alter_table("fulfillment_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfillment_events_fo", ["tenant_id", "fo_id", "id"], unique=False
        )

    op.create_table(
        "fulfillment_exceptions",
        sa.Column("fo_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "out_of_stock",
                "address_unserviceable",
                "intercepted",
                "deadline_near",
                name="exceptionkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("resolved_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "fo_id"],
            ["fulfillment_orders.tenant_id", "fulfillment_orders.id"],
            name=op.f("fk_fulfillment_exceptions_tenant_id_fo_id_fulfillment_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_fulfillment_exceptions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_fulfillment_exceptions")),
    )
    with op.batch_alter_table("fulfillment_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfillment_exceptions_open", ["tenant_id", "resolved_at", "kind"], unique=False
        )

    with op.batch_alter_table("stock_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("split_by_warehouse", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    for table in TENANT_TABLES:
        rls.enable(table)


def downgrade() -> None:
    with op.batch_alter_table("stock_settings", schema=None) as batch_op:
        batch_op.drop_column("split_by_warehouse")
    with op.batch_alter_table("fulfillment_exceptions", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfillment_exceptions_open")

    op.drop_table("fulfillment_exceptions")
    with op.batch_alter_table("fulfillment_events", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfillment_events_fo")

    op.drop_table("fulfillment_events")
    with op.batch_alter_table("fulfillment_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfillment_orders_wave")
        batch_op.drop_index("ix_fulfillment_orders_state")
        batch_op.drop_index("ix_fulfillment_orders_order")

    op.drop_table("fulfillment_orders")
    with op.batch_alter_table("fulfillment_waves", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfillment_waves_warehouse")

    op.drop_table("fulfillment_waves")
    op.drop_table("fulfillment_settings")
