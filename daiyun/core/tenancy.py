"""What makes a model tenant-owned: one mixin, and the ORM guard that enforces it.

A model that inherits :class:`TenantScoped` gets, with nothing else to write:

* a composite primary key ``(tenant_id, id)``, so children reference it through
  ``(tenant_id, parent_id)`` and the database cannot store a cross-tenant link;
* ``tenant_id = :current`` added to every SELECT, UPDATE and DELETE the ORM emits
  (joins, aliases, unions, eager and lazy loads, refreshes, bulk statements);
* new rows stamped with the session's tenant and a changed ``tenant_id`` refused on flush;
* with no tenant bound, queries on it raise :class:`TenantContextMissing` (fail closed);
* row-level security on PostgreSQL, created in the migration by :func:`daiyun.tenants.rls.enable`
  and checked by the catalog test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ForeignKey, event, false, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
    mapped_column,
    with_loader_criteria,
)

from daiyun.core.ids import new_id

# Execution option for the few platform reads that legitimately span tenants (a user's own
# memberships at sign-in). PostgreSQL RLS still limits what such a read can return.
ALL_TENANTS = "daiyun_all_tenants"


class TenantContextMissing(RuntimeError):
    """A tenant-owned table was touched with no tenant bound to the session."""


class CrossTenantWrite(RuntimeError):
    """A flush tried to write a row into, or move a row to, another tenant."""


class TenantScoped:
    """Mixin for every model owned by one tenant (a merchant)."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


def current_tenant(session: Session) -> uuid.UUID | None:
    tenant: uuid.UUID | None = session.info.get("tenant_id")
    return tenant


def _is_tenant_mapper(mapper: Any) -> bool:
    return isinstance(mapper.class_, type) and issubclass(mapper.class_, TenantScoped)


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get(ALL_TENANTS):
        return
    tenant = current_tenant(state.session)
    if tenant is None:
        if any(_is_tenant_mapper(m) for m in state.all_mappers):
            raise TenantContextMissing("no tenant bound to this session")
        # Anything tenant-owned reached indirectly (subqueries, relationships) yields no rows.
        criteria = with_loader_criteria(
            TenantScoped, lambda cls: false(), include_aliases=True, propagate_to_loaders=True
        )
    else:
        criteria = with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant,
            include_aliases=True,
            track_closure_variables=True,
            propagate_to_loaders=True,
        )
    state.statement = state.statement.options(criteria)


@event.listens_for(Session, "before_flush")
def _stamp_and_refuse(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    tenant = current_tenant(session)
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if tenant is None:
            raise TenantContextMissing(f"cannot insert {type(obj).__name__} without a tenant")
        if obj.tenant_id is None:
            obj.tenant_id = tenant
        elif obj.tenant_id != tenant:
            raise CrossTenantWrite(f"{type(obj).__name__} belongs to another tenant")
    for obj in list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        history = inspect(obj).attrs.tenant_id.history
        if history.has_changes():
            raise CrossTenantWrite(f"tenant of {type(obj).__name__} cannot change")
        if tenant is None or obj.tenant_id != tenant:
            raise CrossTenantWrite(f"{type(obj).__name__} is not in the bound tenant")


@event.listens_for(Session, "before_attach")
def _refuse_foreign_objects(session: Session, obj: Any) -> None:
    # A detached object of another tenant (a cached one, say) added or merged without loading
    # would be served from the identity map by get() and refreshed by its own key, which the
    # loader criteria skip: keep it out of the session altogether.
    if not isinstance(obj, TenantScoped):
        return
    state = inspect(obj)
    if state.key is None:
        return  # pending: the flush stamps or refuses it
    keys = [column.key for column in state.mapper.primary_key]
    if state.key[1][keys.index("tenant_id")] != current_tenant(session):
        raise CrossTenantWrite(f"{type(obj).__name__} belongs to another tenant")


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


@contextmanager
def acting_as(session: Session, user_id: uuid.UUID) -> Iterator[None]:
    """Read as another user for a moment (their own memberships, which row security shows to
    that user only), then put the acting user back, or none if there was none."""
    previous = session.info.get("user_id")
    bind_user(session, user_id)
    try:
        yield
    finally:
        session.info["user_id"] = previous
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
