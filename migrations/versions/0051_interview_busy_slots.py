"""interview busy slots: each panel member's scheduled interview times across merchants (no
other detail), so nobody is booked twice for two merchants; interviews scheduled before this
revision are checked within their own merchant only

Revision ID: 0051
Revises: 0050
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db

revision = "0051"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rc_busy_slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rc_busy_slots_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rc_busy_slots")),
        sa.UniqueConstraint(
            "interview_id", "user_id", name=op.f("uq_rc_busy_slots_interview_id_user_id")
        ),
    )
    with op.batch_alter_table("rc_busy_slots", schema=None) as batch_op:
        batch_op.create_index("ix_rc_busy_slots_user", ["user_id", "starts_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rc_busy_slots", schema=None) as batch_op:
        batch_op.drop_index("ix_rc_busy_slots_user")

    op.drop_table("rc_busy_slots")
