"""trusted buyers: after-sales auto-approval only for buyers with enough earlier orders and few
recent cases (two settings), and the orders' buyer e-mail indexed to find those orders

Revision ID: 0042
Revises: 0041
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("as_settings", schema=None) as batch_op:
        # Existing merchants keep approving every buyer, as before.
        batch_op.add_column(
            sa.Column("trusted_min_orders", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("trusted_max_cases", sa.Integer(), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_tenant_buyer_email", ["tenant_id", "buyer_email"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_tenant_buyer_email")
    with op.batch_alter_table("as_settings", schema=None) as batch_op:
        batch_op.drop_column("trusted_max_cases")
        batch_op.drop_column("trusted_min_orders")
