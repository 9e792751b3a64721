"""PostgreSQL row-level security: the helpers migrations call, and the app role's grants.

Every tenant-owned table gets ``ENABLE`` + ``FORCE ROW LEVEL SECURITY`` and a policy comparing
``tenant_id`` with the transaction's ``app.tenant_id`` setting (set by
:mod:`daiyun.core.tenancy`). On SQLite these helpers do nothing: the ORM guard stands alone.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text
from sqlalchemy.engine import Connection

CURRENT_TENANT = "daiyun_current_tenant()"
CURRENT_USER = "daiyun_current_user()"

FUNCTIONS = """
create or replace function daiyun_current_tenant() returns uuid
  language sql stable as $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;
create or replace function daiyun_current_user() returns uuid
  language sql stable as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;
"""


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def create_functions() -> None:
    if _postgres():
        op.execute(FUNCTIONS)


def enable(table: str, using: str | None = None, check: str | None = None) -> None:
    """Turn on row security for a tenant-owned table with one policy for every command."""
    if not _postgres():
        return
    using = using or f"tenant_id = {CURRENT_TENANT}"
    check = check or f"tenant_id = {CURRENT_TENANT}"
    op.execute(f"alter table {table} enable row level security")
    op.execute(f"alter table {table} force row level security")
    op.execute(f"create policy tenant_isolation on {table} using ({using}) with check ({check})")


def read_policy(table: str, name: str, using: str) -> None:
    """Add a SELECT-only policy that widens reads beyond the bound tenant (never writes)."""
    if _postgres():
        op.execute(f"create policy {name} on {table} for select using ({using})")


def append_only(table: str) -> None:
    """Refuse UPDATE, DELETE and TRUNCATE on a table for every role, the owner included."""
    if _postgres():
        op.execute(
            "create or replace function daiyun_append_only() returns trigger language plpgsql as"
            " $$ begin raise exception 'table % is append-only', tg_table_name; end $$"
        )
        op.execute(
            f"create trigger {table}_append_only before update or delete on {table}"
            " for each row execute function daiyun_append_only()"
        )
        # TRUNCATE fires no row trigger: without this the owner could still empty the table.
        op.execute(
            f"create trigger {table}_no_truncate before truncate on {table}"
            " for each statement execute function daiyun_append_only()"
        )
    else:
        for verb in ("update", "delete"):
            op.execute(
                f"create trigger {table}_no_{verb} before {verb} on {table}"
                f" begin select raise(abort, '{table} is append-only'); end"
            )


def grant_app_role(connection: Connection, role: str, password: str | None) -> None:
    """Create (if needed) the role the app connects as, and grant it data access only.

    The role owns nothing, is not a superuser and has no BYPASSRLS, so row security binds it;
    it may only read and append the audit log, and only read the migration history.
    """
    quoted = connection.dialect.identifier_preparer.quote(role)
    # Roles are cluster-wide: another database's migration may create it at the same moment.
    connection.execute(
        text(
            f"do $$ begin create role {quoted} login nosuperuser nobypassrls;"
            " exception when duplicate_object then null; end $$"
        )
    )
    if password:
        literal = "'" + password.replace("'", "''") + "'"
        connection.execute(text(f"alter role {quoted} password {literal}"))
    for statement in (
        f"grant usage on schema public to {quoted}",
        f"grant select, insert, update, delete on all tables in schema public to {quoted}",
        f"grant usage, select on all sequences in schema public to {quoted}",
        f"revoke update, delete, truncate on audit_log from {quoted}",
        f"revoke insert, update, delete, truncate on alembic_version from {quoted}",
    ):
        connection.execute(text(statement))
