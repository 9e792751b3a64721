"""chat widget: one per shop, with the origins it answers, and the route from its public key
to its tenant (read by whoever names the key, as the mail routes are)

Revision ID: 0052
Revises: 0051
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0052"
down_revision = "0051"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cs_widget_routes",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("widget_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_cs_widget_routes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_cs_widget_routes")),
    )
    op.create_table(
        "cs_widgets",
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("greeting", sa.String(length=300), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shop_id"],
            ["shops.tenant_id", "shops.id"],
            name=op.f("fk_cs_widgets_tenant_id_shop_id_shops"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_cs_widgets_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cs_widgets")),
        sa.UniqueConstraint("key", name=op.f("uq_cs_widgets_key")),
        sa.UniqueConstraint("tenant_id", "shop_id", name=op.f("uq_cs_widgets_tenant_id_shop_id")),
    )
    rls.enable("cs_widgets")
    rls.enable("cs_widget_routes")
    rls.read_policy(
        "cs_widget_routes",
        "cs_widget_route_lookup",
        "key = current_setting('app.widget_key', true)",
    )


def downgrade() -> None:
    op.drop_table("cs_widgets")
    op.drop_table("cs_widget_routes")
