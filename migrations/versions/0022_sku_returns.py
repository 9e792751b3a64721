"""daily product sales keep the units refunded on each SKU, for a SKU's return rate

Revision ID: 0022
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows rolled up before this count none until `daiyun reports rebuild` recomputes them; the
    # table's row-level security covers the new column as it is.
    with op.batch_alter_table("daily_product_sales") as batch:
        batch.add_column(
            sa.Column("returned_units", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("daily_product_sales") as batch:
        batch.drop_column("returned_units")
