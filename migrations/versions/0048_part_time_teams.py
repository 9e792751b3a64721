"""part-time teams: a peak season's teams of hires, their shifts and rosters, and the
attendance marked per shift (the attendance sheet)

Revision ID: 0048
Revises: 0047
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0048"
down_revision = "0047"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rc_teams",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("requisition_id", sa.Uuid(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "requisition_id"],
            ["rc_requisitions.tenant_id", "rc_requisitions.id"],
            name=op.f("fk_rc_teams_tenant_id_requisition_id_rc_requisitions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rc_teams_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_rc_teams")),
    )
    op.create_table(
        "rc_shifts",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["rc_teams.tenant_id", "rc_teams.id"],
            name=op.f("fk_rc_shifts_tenant_id_team_id_rc_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rc_shifts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_rc_shifts")),
        sa.UniqueConstraint(
            "tenant_id",
            "team_id",
            "day",
            "name",
            name=op.f("uq_rc_shifts_tenant_id_team_id_day_name"),
        ),
    )
    op.create_table(
        "rc_shift_workers",
        sa.Column("shift_id", sa.Uuid(), nullable=False),
        sa.Column("placement_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "present",
                "late",
                "absent",
                "excused",
                name="attendance",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("clock_in", sa.Time(), nullable=True),
        sa.Column("clock_out", sa.Time(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("marked_by", sa.Uuid(), nullable=True),
        sa.Column("marked_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["marked_by"], ["users.id"], name=op.f("fk_rc_shift_workers_marked_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "placement_id"],
            ["rc_placements.tenant_id", "rc_placements.id"],
            name=op.f("fk_rc_shift_workers_tenant_id_placement_id_rc_placements"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shift_id"],
            ["rc_shifts.tenant_id", "rc_shifts.id"],
            name=op.f("fk_rc_shift_workers_tenant_id_shift_id_rc_shifts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rc_shift_workers_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_rc_shift_workers")),
        sa.UniqueConstraint(
            "tenant_id",
            "shift_id",
            "placement_id",
            name=op.f("uq_rc_shift_workers_tenant_id_shift_id_placement_id"),
        ),
    )
    with op.batch_alter_table("rc_shift_workers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rc_shift_workers_placement", ["tenant_id", "placement_id"], unique=False
        )

    op.create_table(
        "rc_team_members",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("placement_id", sa.Uuid(), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "placement_id"],
            ["rc_placements.tenant_id", "rc_placements.id"],
            name=op.f("fk_rc_team_members_tenant_id_placement_id_rc_placements"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["rc_teams.tenant_id", "rc_teams.id"],
            name=op.f("fk_rc_team_members_tenant_id_team_id_rc_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rc_team_members_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_rc_team_members")),
        sa.UniqueConstraint(
            "tenant_id",
            "team_id",
            "placement_id",
            name=op.f("uq_rc_team_members_tenant_id_team_id_placement_id"),
        ),
    )
    for table in ("rc_teams", "rc_shifts", "rc_shift_workers", "rc_team_members"):
        rls.enable(table)


def downgrade() -> None:
    op.drop_table("rc_team_members")
    with op.batch_alter_table("rc_shift_workers", schema=None) as batch_op:
        batch_op.drop_index("ix_rc_shift_workers_placement")

    op.drop_table("rc_shift_workers")
    op.drop_table("rc_shifts")
    op.drop_table("rc_teams")
