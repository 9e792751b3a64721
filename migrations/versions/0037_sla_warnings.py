"""customer service: the SLA warnings given before a breach, once per clock and due time

Revision ID: 0037
Revises: 0036
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite takes it too): no table rebuild, so nothing else of the table
    # (its row-level security, its triggers) is touched.
    op.add_column(
        "cs_conversations",
        sa.Column("warned", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column("cs_conversations", "warned")
