"""qa scorecards: a merchant's rubrics (weighted criteria) and supervisors' reviews of
conversations against them (稽核), each review keeping the criteria it was scored on

Revision ID: 0046
Revises: 0045
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "as_qa_rubrics",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_as_qa_rubrics_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_as_qa_rubrics")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_as_qa_rubrics_tenant_id_name")),
    )
    op.create_table(
        "as_qa_reviews",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("rubric_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("score_bp", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_as_qa_reviews_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_as_qa_reviews_reviewer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "conversation_id"],
            ["cs_conversations.tenant_id", "cs_conversations.id"],
            name=op.f("fk_as_qa_reviews_tenant_id_conversation_id_cs_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "rubric_id"],
            ["as_qa_rubrics.tenant_id", "as_qa_rubrics.id"],
            name=op.f("fk_as_qa_reviews_tenant_id_rubric_id_as_qa_rubrics"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_as_qa_reviews_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_as_qa_reviews")),
        sa.UniqueConstraint(
            "tenant_id",
            "conversation_id",
            "reviewer_id",
            name=op.f("uq_as_qa_reviews_tenant_id_conversation_id_reviewer_id"),
        ),
    )
    with op.batch_alter_table("as_qa_reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_as_qa_reviews_agent", ["tenant_id", "agent_id", "created_at"], unique=False
        )
    rls.enable("as_qa_rubrics")
    rls.enable("as_qa_reviews")


def downgrade() -> None:
    with op.batch_alter_table("as_qa_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_as_qa_reviews_agent")

    op.drop_table("as_qa_reviews")
    op.drop_table("as_qa_rubrics")
