"""storefront: the catalog (categories, products, SKUs, bundles, margin floors)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = (
    "catalog_categories",
    "catalog_products",
    "catalog_skus",
    "catalog_bundle_parts",
    "catalog_margin_floors",
)


def upgrade() -> None:
    op.create_table(
        "catalog_categories",
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_id"],
            ["catalog_categories.tenant_id", "catalog_categories.id"],
            name=op.f("fk_catalog_categories_tenant_id_parent_id_catalog_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_categories_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_categories")),
    )
    with op.batch_alter_table("catalog_categories", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_categories_path", ["tenant_id", "path"], unique=False)

    op.create_table(
        "catalog_products",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("brand", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft", "active", "archived", name="catalogstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["catalog_categories.tenant_id", "catalog_categories.id"],
            name=op.f("fk_catalog_products_tenant_id_category_id_catalog_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_products_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_products")),
    )
    with op.batch_alter_table("catalog_products", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_products_category", ["tenant_id", "category_id"], unique=False
        )
        batch_op.create_index("ix_catalog_products_status", ["tenant_id", "status"], unique=False)

    op.create_table(
        "catalog_skus",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=True),
        sa.Column("length_mm", sa.Integer(), nullable=True),
        sa.Column("width_mm", sa.Integer(), nullable=True),
        sa.Column("height_mm", sa.Integer(), nullable=True),
        sa.Column("is_bundle", sa.Boolean(), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft", "active", "archived", name="catalogstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["catalog_products.tenant_id", "catalog_products.id"],
            name=op.f("fk_catalog_skus_tenant_id_product_id_catalog_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_skus_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_skus")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_catalog_skus_tenant_id_code")),
    )
    with op.batch_alter_table("catalog_skus", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_skus_barcode", ["tenant_id", "barcode"], unique=False)
        batch_op.create_index("ix_catalog_skus_product", ["tenant_id", "product_id"], unique=False)

    op.create_table(
        "catalog_bundle_parts",
        sa.Column("bundle_id", sa.Uuid(), nullable=False),
        sa.Column("part_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "bundle_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            name=op.f("fk_catalog_bundle_parts_tenant_id_bundle_id_catalog_skus"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "part_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            name=op.f("fk_catalog_bundle_parts_tenant_id_part_id_catalog_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_bundle_parts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_bundle_parts")),
        sa.UniqueConstraint(
            "tenant_id",
            "bundle_id",
            "part_id",
            name=op.f("uq_catalog_bundle_parts_tenant_id_bundle_id_part_id"),
        ),
    )
    with op.batch_alter_table("catalog_bundle_parts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_bundle_parts_part", ["tenant_id", "part_id"], unique=False
        )

    op.create_table(
        "catalog_margin_floors",
        sa.Column("target", sa.String(length=48), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("sku_id", sa.Uuid(), nullable=True),
        sa.Column(
            "mode",
            sa.Enum("block", "warn", "off", name="floormode", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("minimum_margin", sa.String(length=20), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["catalog_categories.tenant_id", "catalog_categories.id"],
            name=op.f("fk_catalog_margin_floors_tenant_id_category_id_catalog_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["catalog_skus.tenant_id", "catalog_skus.id"],
            name=op.f("fk_catalog_margin_floors_tenant_id_sku_id_catalog_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_margin_floors_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_margin_floors")),
        sa.UniqueConstraint(
            "tenant_id", "target", name=op.f("uq_catalog_margin_floors_tenant_id_target")
        ),
    )
    for table in TABLES:
        rls.enable(table)


def downgrade() -> None:
    op.drop_table("catalog_margin_floors")
    with op.batch_alter_table("catalog_bundle_parts", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_bundle_parts_part")

    op.drop_table("catalog_bundle_parts")
    with op.batch_alter_table("catalog_skus", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_skus_product")
        batch_op.drop_index("ix_catalog_skus_barcode")

    op.drop_table("catalog_skus")
    with op.batch_alter_table("catalog_products", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_products_status")
        batch_op.drop_index("ix_catalog_products_category")

    op.drop_table("catalog_products")
    with op.batch_alter_table("catalog_categories", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_categories_path")

    op.drop_table("catalog_categories")
