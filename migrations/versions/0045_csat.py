"""csat: the satisfaction survey offered on a resolved conversation (one per conversation), and
the merchant's switch and link lifetime for it (existing merchants: on, 7 days)

Revision ID: 0045
Revises: 0044
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "as_csat",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("shop_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sent_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("answered_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_as_csat_agent_id_users")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "conversation_id"],
            ["cs_conversations.tenant_id", "cs_conversations.id"],
            name=op.f("fk_as_csat_tenant_id_conversation_id_cs_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_as_csat_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_as_csat")),
        sa.UniqueConstraint(
            "tenant_id", "conversation_id", name=op.f("uq_as_csat_tenant_id_conversation_id")
        ),
    )
    with op.batch_alter_table("as_csat", schema=None) as batch_op:
        batch_op.create_index("ix_as_csat_sent", ["tenant_id", "sent_at"], unique=False)
    rls.enable("as_csat")

    with op.batch_alter_table("as_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("csat_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("csat_days", sa.Integer(), nullable=False, server_default="7")
        )


def downgrade() -> None:
    with op.batch_alter_table("as_settings", schema=None) as batch_op:
        batch_op.drop_column("csat_days")
        batch_op.drop_column("csat_enabled")

    with op.batch_alter_table("as_csat", schema=None) as batch_op:
        batch_op.drop_index("ix_as_csat_sent")

    op.drop_table("as_csat")
