"""candidate erasure: when a candidate's personal data was erased (on request or at the end of
its retention); the row stays, anonymous, for the recruiting counts

Revision ID: 0043
Revises: 0042
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rc_candidates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("rc_candidates", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
