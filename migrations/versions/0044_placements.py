"""placements: a hire as billing sees it (one per hired application, its first-year salary and
the guarantee in force when it was made; a free replacement names the placement it replaces)

Revision ID: 0044
Revises: 0043
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rc_placements",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("requisition_id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("salary_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("guarantee_ends_on", sa.Date(), nullable=True),
        sa.Column("remedy", sa.String(length=12), nullable=True),
        sa.Column(
            "guarantee",
            sa.Enum(
                "none",
                "refunded",
                "replacement_due",
                "replaced",
                name="guarantee",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("replaces_id", sa.Uuid(), nullable=True),
        sa.Column("billed", sa.Boolean(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("left_reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_rc_placements_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "application_id"],
            ["rc_applications.tenant_id", "rc_applications.id"],
            name=op.f("fk_rc_placements_tenant_id_application_id_rc_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "replaces_id"],
            ["rc_placements.tenant_id", "rc_placements.id"],
            name=op.f("fk_rc_placements_tenant_id_replaces_id_rc_placements"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "requisition_id"],
            ["rc_requisitions.tenant_id", "rc_requisitions.id"],
            name=op.f("fk_rc_placements_tenant_id_requisition_id_rc_requisitions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rc_placements_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_rc_placements")),
        sa.UniqueConstraint(
            "tenant_id", "application_id", name=op.f("uq_rc_placements_tenant_id_application_id")
        ),
        sa.UniqueConstraint(
            "tenant_id", "replaces_id", name=op.f("uq_rc_placements_tenant_id_replaces_id")
        ),
    )
    with op.batch_alter_table("rc_placements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rc_placements_requisition", ["tenant_id", "requisition_id"], unique=False
        )
    rls.enable("rc_placements")


def downgrade() -> None:
    with op.batch_alter_table("rc_placements", schema=None) as batch_op:
        batch_op.drop_index("ix_rc_placements_requisition")

    op.drop_table("rc_placements")
