"""exchange rates, recorded by the agency for conversions

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daiyun.core.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Market data of the platform, not of a tenant: no tenant_id, no row-level security.
    op.create_table(
        "exchange_rates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_rates")),
        sa.UniqueConstraint("base", "quote", "day", name="uq_exchange_rates_pair_day"),
    )
    op.create_index("ix_exchange_rates_day", "exchange_rates", ["day"])


def downgrade() -> None:
    op.drop_index("ix_exchange_rates_day", table_name="exchange_rates")
    op.drop_table("exchange_rates")
