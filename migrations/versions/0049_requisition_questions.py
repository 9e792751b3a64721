"""requisition questions: the careers form's own questions per requisition, and each
application's answers to them

Revision ID: 0049
Revises: 0048
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0049"
down_revision = "0048"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rc_applications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answers", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )

    with op.batch_alter_table("rc_requisitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("form_fields", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("rc_requisitions", schema=None) as batch_op:
        batch_op.drop_column("form_fields")

    with op.batch_alter_table("rc_applications", schema=None) as batch_op:
        batch_op.drop_column("answers")
