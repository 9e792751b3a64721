"""billing: late-order candidates, recorded from order events

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import daiyun.core.db
from daiyun.tenants import rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_late_orders",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", daiyun.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_billing_late_orders_tenant_id_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_billing_late_orders_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_billing_late_orders")),
        sa.UniqueConstraint(
            "tenant_id", "order_id", name=op.f("uq_billing_late_orders_tenant_id_order_id")
        ),
    )
    with op.batch_alter_table("billing_late_orders", schema=None) as batch_op:
        batch_op.create_index("ix_billing_late_orders_at", ["tenant_id", "at"], unique=False)
    rls.enable("billing_late_orders")
    _backfill()


def _backfill() -> None:
    """Orders that may have arrived late before candidates were recorded: for each tenant with
    a finalized month, its unbilled orders of a status and currency its contract bills, dated
    in the 13 months up to a day past the newest finalized month. The statement's own filters
    still apply to each, so taking too many is harmless."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for (tenant_id,) in bind.execute(sa.text("select id from tenants")).all():
        tenant = tenant_id if isinstance(tenant_id, uuid.UUID) else uuid.UUID(str(tenant_id))
        param = str(tenant) if postgres else tenant.hex
        if postgres:  # row security is forced on the owner too: bind the tenant
            bind.execute(sa.text("select set_config('app.tenant_id', :t, true)"), {"t": param})
        newest = bind.execute(
            sa.text(
                "select max(period) from statements where tenant_id = :t and status = 'finalized'"
            ),
            {"t": param},
        ).scalar()
        if newest is None:
            continue
        statuses: set[str] = set()
        currencies: set[str] = set()
        for (terms,) in bind.execute(
            sa.text("select terms from contract_versions where tenant_id = :t"), {"t": param}
        ):
            found: dict[str, Any] = json.loads(terms) if isinstance(terms, str) else terms
            statuses.update(found.get("base", {}).get("statuses", []))
            currencies.add(str(found.get("currency", "")).upper())
        if not statuses:
            continue
        year, month = (int(part) for part in newest.split("-"))
        cutoff = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC) + timedelta(days=1)
        oldest = cutoff - timedelta(days=31 * 13 + 2)
        new_id = "gen_random_uuid()" if postgres else "lower(hex(randomblob(16)))"
        statement = sa.text(
            "insert into billing_late_orders (tenant_id, id, order_id, at, recorded_at)"
            f" select o.tenant_id, {new_id}, o.id,"
            " case when o.paid_at is not null and o.paid_at < o.placed_at"
            " then o.paid_at else o.placed_at end, :now"
            " from orders o where o.tenant_id = :t"
            " and o.status in :statuses and o.currency in :currencies"
            " and ((o.placed_at >= :oldest and o.placed_at < :cutoff)"
            " or (o.paid_at >= :oldest and o.paid_at < :cutoff))"
            " and not exists (select 1 from billed_facts b"
            " where b.tenant_id = o.tenant_id and b.order_id = o.id)"
        ).bindparams(
            sa.bindparam("statuses", expanding=True),
            sa.bindparam("currencies", expanding=True),
            sa.bindparam("oldest", type_=daiyun.core.db.UTCDateTime()),
            sa.bindparam("cutoff", type_=daiyun.core.db.UTCDateTime()),
            sa.bindparam("now", type_=daiyun.core.db.UTCDateTime()),
        )
        bind.execute(
            statement,
            {
                "t": param,
                "statuses": sorted(statuses),
                "currencies": sorted(currencies),
                "oldest": oldest,
                "cutoff": cutoff,
                "now": datetime.now(UTC),
            },
        )


def downgrade() -> None:
    with op.batch_alter_table("billing_late_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_late_orders_at")
    op.drop_table("billing_late_orders")
