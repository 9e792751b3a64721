"""billing: the order of each billed order fact, indexed

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("billed_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            "ix_billed_facts_tenant_order", ["tenant_id", "order_id"], unique=False
        )
    # Keys are 'order:' and the id with dashes; SQLite keeps a UUID as 32 hex digits.
    if op.get_bind().dialect.name == "postgresql":
        # Every tenant's rows: row security is forced on the owner too, so lifted for this.
        op.execute("alter table billed_facts no force row level security")
        op.execute(
            "update billed_facts set order_id = cast(substr(fact_key, 7) as uuid)"
            " where fact_key like 'order:%'"
        )
        op.execute("alter table billed_facts force row level security")
    else:
        op.execute(
            "update billed_facts set order_id = replace(substr(fact_key, 7), '-', '')"
            " where fact_key like 'order:%'"
        )


def downgrade() -> None:
    with op.batch_alter_table("billed_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_billed_facts_tenant_order")
        batch_op.drop_column("order_id")
