"""agency careers page: whether a merchant's openings are listed on the agency's own careers
page (off until the merchant says so)

Revision ID: 0050
Revises: 0049
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0049"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rc_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agency_page", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("rc_settings", schema=None) as batch_op:
        batch_op.drop_column("agency_page")
