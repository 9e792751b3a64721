"""statement lines keep their message, so each reader gets them in their own language

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The table's row-level security covers the new column as it is.
    with op.batch_alter_table("statement_lines") as batch:
        batch.add_column(sa.Column("message", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statement_lines") as batch:
        batch.drop_column("message")
