"""customer service: macros, saved actions an agent runs on a conversation in one go

Revision ID: 0038
Revises: 0037
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cs_macros",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("add_labels", sa.JSON(), nullable=False),
        sa.Column(
            "priority",
            sa.Enum(
                "low", "normal", "high", "urgent", name="priority", native_enum=False, length=16
            ),
            nullable=True,
        ),
        sa.Column("assign_to_me", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column(
            "then",
            sa.Enum(
                "open", "pending", "snoozed", "resolved", name="state", native_enum=False, length=16
            ),
            nullable=True,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_cs_macros_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cs_macros")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_cs_macros_tenant_id_name")),
    )
    rls.enable("cs_macros")


def downgrade() -> None:
    op.drop_table("cs_macros")
