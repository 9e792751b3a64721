"""storefront: catalog jobs (imports, exports, bulk edits) with their files and reports, and
the mappings of order lines' marketplace SKU strings to catalog SKUs

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = (
    "catalog_jobs",
    "catalog_job_chunks",
    "catalog_job_problems",
    "catalog_sku_mappings",
)


def upgrade() -> None:
    op.create_table(
        "catalog_jobs",
        sa.Column(
            "kind",
            sa.Enum("import", "export", "bulk_edit", name="jobkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "validating",
                "writing",
                "succeeded",
                "rejected",
                "failed",
                name="jobstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("checked_rows", sa.Integer(), nullable=False),
        sa.Column("written_rows", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("error", sa.String(length=400), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_jobs_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_jobs")),
    )
    with op.batch_alter_table("catalog_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_jobs_kind", ["tenant_id", "kind", "id"], unique=False)
        batch_op.create_index(
            "ix_catalog_jobs_state", ["tenant_id", "state", "heartbeat_at"], unique=False
        )

    op.create_table(
        "catalog_job_chunks",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("part", sa.String(length=8), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "job_id"],
            ["catalog_jobs.tenant_id", "catalog_jobs.id"],
            name=op.f("fk_catalog_job_chunks_tenant_id_job_id_catalog_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_job_chunks_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_job_chunks")),
        sa.UniqueConstraint(
            "tenant_id",
            "job_id",
            "part",
            "seq",
            name=op.f("uq_catalog_job_chunks_tenant_id_job_id_part_seq"),
        ),
    )
    op.create_table(
        "catalog_job_problems",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=64), nullable=False),
        sa.Column("problem", sa.String(length=400), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "job_id"],
            ["catalog_jobs.tenant_id", "catalog_jobs.id"],
            name=op.f("fk_catalog_job_problems_tenant_id_job_id_catalog_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_job_problems_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_job_problems")),
    )
    with op.batch_alter_table("catalog_job_problems", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_job_problems_job", ["tenant_id", "job_id", "row"], unique=False
        )

    op.create_table(
        "catalog_sku_mappings",
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("marketplace_sku", sa.String(length=100), nullable=False),
        sa.Column("sku_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "shop_id"],
            ["shops.tenant_id", "shops.id"],
            name=op.f("fk_catalog_sku_mappings_tenant_id_shop_id_shops"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            name=op.f("fk_catalog_sku_mappings_tenant_id_sku_id_catalog_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_sku_mappings_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_sku_mappings")),
        sa.UniqueConstraint(
            "tenant_id",
            "shop_id",
            "marketplace_sku",
            name=op.f("uq_catalog_sku_mappings_tenant_id_shop_id_marketplace_sku"),
        ),
    )
    with op.batch_alter_table("catalog_sku_mappings", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_sku_mappings_sku", ["tenant_id", "sku_id"], unique=False)
    for table in TABLES:
        rls.enable(table)


def downgrade() -> None:
    with op.batch_alter_table("catalog_sku_mappings", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_sku_mappings_sku")

    op.drop_table("catalog_sku_mappings")
    with op.batch_alter_table("catalog_job_problems", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_job_problems_job")

    op.drop_table("catalog_job_problems")
    op.drop_table("catalog_job_chunks")
    with op.batch_alter_table("catalog_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_jobs_state")
        batch_op.drop_index("ix_catalog_jobs_kind")

    op.drop_table("catalog_jobs")
