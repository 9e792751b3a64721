"""Binding a tenant (and the acting user) to a session, in the ORM and in PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from daiyun.tenants.scoping import TenantScoped, current_tenant


class TenantSwitchRefused(RuntimeError):
    """A session that holds one tenant's objects may not be rebound to another tenant."""


def bind_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Scope the session to one tenant for the rest of its life (or until unbound when empty)."""
    existing = current_tenant(session)
    if existing == tenant_id:
        return
    # Pending objects count too: an unstamped one would otherwise be flushed into the new tenant.
    if existing is not None and any(
        isinstance(o, TenantScoped) for o in (*session.identity_map.values(), *session.new)
    ):
        raise TenantSwitchRefused("session holds objects of another tenant")
    session.info["tenant_id"] = tenant_id
    _apply_settings(session)


def bind_user(session: Session, user_id: uuid.UUID) -> None:
    """Record the acting user; PostgreSQL lets a user read its own memberships across tenants."""
    session.info["user_id"] = user_id
    _apply_settings(session)


def _apply_settings(session: Session) -> None:
    # Only when a transaction is already open: otherwise the after_begin hook applies them.
    if session.in_transaction():
        _set_config(session, session.connection())


def _set_config(session: Session, connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    tenant = session.info.get("tenant_id")
    user = session.info.get("user_id")
    # is_local=true: the setting dies with the transaction, so a pooled connection keeps nothing.
    connection.execute(
        text(
            "select set_config('app.tenant_id', :tenant, true),"
            " set_config('app.user_id', :user, true)"
        ),
        {"tenant": str(tenant) if tenant else "", "user": str(user) if user else ""},
    )


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    # Always, even when unbound: a connection never carries a setting into another transaction.
    _set_config(session, connection)
