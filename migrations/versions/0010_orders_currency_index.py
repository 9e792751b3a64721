"""orders indexed by currency, so billing finds a tenant's currencies by index seeks

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_tenant_currency", "orders", ["tenant_id", "currency"])


def downgrade() -> None:
    op.drop_index("ix_orders_tenant_currency", table_name="orders")
