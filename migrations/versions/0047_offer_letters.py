"""offer letters: when a sent offer's letter was mailed to the candidate (the sweep mails those
whose task was lost)

Revision ID: 0047
Revises: 0046
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rc_offers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mailed_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("rc_offers", schema=None) as batch_op:
        batch_op.drop_column("mailed_at")
