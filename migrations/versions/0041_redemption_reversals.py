"""redemptions given back: a reversal row (append-only, one per redemption) when the order was
cancelled or fully refunded, so the use stops counting against limits, allowances and reports

Revision ID: 0041
Revises: 0040
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

TABLE = "mkt_redemption_reversals"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("redemption_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_mkt_redemption_reversals_tenant_id_order_id_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "redemption_id"],
            ["mkt_redemptions.tenant_id", "mkt_redemptions.id"],
            name=op.f("fk_mkt_redemption_reversals_tenant_id_redemption_id_mkt_redemptions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mkt_redemption_reversals_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mkt_redemption_reversals")),
        sa.UniqueConstraint(
            "tenant_id",
            "redemption_id",
            name=op.f("uq_mkt_redemption_reversals_tenant_id_redemption_id"),
        ),
    )
    rls.enable(TABLE)
    rls.append_only(TABLE)


def downgrade() -> None:
    op.drop_table(TABLE)
