"""SECURITY.md item 8: every statement of the ORM carries the tenant predicate.

Every test runs on SQLite (where the ORM guard is the only guard) and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select, true, union, union_all, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased

from daiyun.core import db
from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.core.tenancy import (
    TenantContextMissing,
    current_tenant,
)
from daiyun.tenants.models import Membership, Tenant
from tests.tenants.guard.capture import Capture, assert_scoped
from tests.tenants.guard.seed import (
    APPEND_ONLY,
    BULK_UPDATES,
    TENANT_MODELS,
    Pair,
    by_model,
    ids_as,
    key_of,
    snapshot,
)

# --- item 8: every statement carries the tenant predicate -------------------------------------


def test_tenant_models_are_discovered_and_seeded(pair: Pair) -> None:
    """Item 8: the registry yields the tenant-owned models, and this file seeds each of them."""
    assert {OutboxEvent, HandledEvent, Membership} <= set(TENANT_MODELS)
    assert set(pair.a.rows) == set(TENANT_MODELS) == set(BULK_UPDATES)
    for model in TENANT_MODELS:
        assert pair.a.rows[model], model
        assert pair.b.rows[model], model
        assert not pair.a.rows[model] & pair.b.rows[model]


@by_model
def test_select_returns_only_the_bound_tenants_rows(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: a plain select is filtered on tenant_id and returns A's rows only."""
    table = model.__tablename__
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        rows = session.scalars(select(model)).all()
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
        # Even a filter that names B's tenant explicitly finds nothing.
        explicit = session.scalars(select(model).where(model.tenant_id == pair.b.tenant.id))
        assert explicit.all() == []
    assert {r.id for r in rows} == pair.a.rows[model]
    assert {r.tenant_id for r in rows} == {pair.a.tenant.id}


@by_model
def test_join_to_a_platform_table_is_scoped(model: type[Any], pair: Pair, sql: Capture) -> None:
    """Item 8: a tenant model joined to the tenants table yields A's rows only."""
    table = model.__tablename__
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        rows = session.execute(
            select(model.id, Tenant.slug).join(Tenant, Tenant.id == model.tenant_id)
        ).all()
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
    assert {r.id for r in rows} == pair.a.rows[model]
    assert {r.slug for r in rows} == {pair.a.tenant.slug}


def test_join_between_tenant_models_is_scoped_on_both_sides(pair: Pair, sql: Capture) -> None:
    """Item 8: HandledEvent joined to OutboxEvent (on id only, or a cross join) stays inside A."""
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        linked = session.execute(
            select(HandledEvent.id, OutboxEvent.id).join(
                OutboxEvent, OutboxEvent.id == HandledEvent.event_id
            )
        ).all()
        both = {"handled_events": 1, "outbox_events": 1}
        assert_scoped(sql.one("handled_events"), both, pair.a.tenant, pair.b.tenant)
        crossed = session.execute(
            select(HandledEvent.id, OutboxEvent.id).join(OutboxEvent, true())
        ).all()
    assert {h for h, _ in linked} == pair.a.rows[HandledEvent]
    assert {e for _, e in linked} <= pair.a.rows[OutboxEvent]
    # A cartesian product over both tenants would have 4 x 4 rows; A alone has 2 x 2.
    assert len(crossed) == len(pair.a.rows[HandledEvent]) * len(pair.a.rows[OutboxEvent])
    assert {e for _, e in crossed} == pair.a.rows[OutboxEvent]


@by_model
def test_aliased_entities_are_scoped(model: type[Any], pair: Pair, sql: Capture) -> None:
    """Item 8: an aliased entity, alone and self-joined, carries the predicate under its alias."""
    table = model.__tablename__
    other = aliased(model, name="other_rows")
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        alone = session.scalars(select(other)).all()
        assert_scoped(sql.one(table), {"other_rows": 1}, pair.a.tenant, pair.b.tenant)
        sql.clear()
        pairs = session.execute(select(model.id, other.id).join(other, true())).all()
        statement = sql.one(table)
        assert_scoped(statement, {table: 1, "other_rows": 1}, pair.a.tenant, pair.b.tenant)
    assert {r.id for r in alone} == pair.a.rows[model]
    assert {x for x, _ in pairs} | {y for _, y in pairs} == pair.a.rows[model]
    assert len(pairs) == len(pair.a.rows[model]) ** 2


@by_model
def test_union_is_scoped_in_every_branch(model: type[Any], pair: Pair, sql: Capture) -> None:
    """Item 8: both selects of a union are filtered; a branch asking for B's rows adds nothing."""
    table = model.__tablename__
    everyone = pair.a.rows[model] | pair.b.rows[model]
    stmt = union(
        select(model.id).where(model.id.in_(everyone)),
        select(model.id).where(model.tenant_id == pair.b.tenant.id),
    )
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        ids = set(session.scalars(stmt))
        # B's id is bound too (the second branch names it), next to A's predicate in each branch.
        assert_scoped(sql.one(table), {table: 3}, pair.a.tenant, None)
        sql.clear()
        # UNION ALL: PostgreSQL cannot compare the json payload column for UNION's DISTINCT.
        entity = aliased(model, union_all(select(model), select(model)).subquery())
        rows = session.scalars(select(entity)).all()
        assert sql.one(table).predicates()[table] >= 2
    assert ids == pair.a.rows[model]
    assert sorted(r.id for r in rows) == sorted([*pair.a.rows[model]] * 2)


@by_model
def test_refresh_and_reloads_of_expired_objects_are_scoped(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: refresh, get() of an expired object and a lazy attribute reload carry the predicate.

    The models define no relationships, so refresh and expired-attribute loads are the lazy loads
    the ORM can emit. SQLAlchemy skips ``with_loader_criteria`` on these identity reloads; the
    predicate they carry is the composite key's own ``tenant_id``, which is why objects of another
    tenant may not enter the session at all (see ``test_other_tenants_objects_cannot_be_attached``).
    """
    table = model.__tablename__
    a_id = min(pair.a.rows[model])
    with db.unit_of_work(pair.a.tenant.id) as session:
        obj: Any = session.get(model, key_of(model, pair.a.tenant, a_id))
        assert obj is not None
        sql.clear()
        session.refresh(obj)
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)

        session.expire(obj)
        sql.clear()
        again: Any = session.get(model, key_of(model, pair.a.tenant, a_id))
        assert again is obj
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)

        session.expire(obj)
        sql.clear()
        assert obj.tenant_id == pair.a.tenant.id
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)


@by_model
def test_bulk_update_changes_only_the_bound_tenants_rows(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: update(Model).values(...) under A is filtered and leaves B's rows untouched."""
    table = model.__tablename__
    column, value = BULK_UPDATES[model]
    before_a, before_b = snapshot(pair.a.tenant), snapshot(pair.b.tenant)
    if model in APPEND_ONLY:
        with pytest.raises(DBAPIError), db.unit_of_work(pair.a.tenant.id) as session:
            sql.clear()
            session.execute(update(model).values({column: value}))
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
        assert (snapshot(pair.a.tenant), snapshot(pair.b.tenant)) == (before_a, before_b)
        return
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        session.execute(update(model).values({column: value}))
        assert_scoped(
            next(s for s in sql.on(table) if s.sql.lstrip().upper().startswith("UPDATE")),
            {table: 1},
            pair.a.tenant,
            pair.b.tenant,
        )
    with db.unit_of_work(pair.a.tenant.id) as session:
        assert set(session.scalars(select(getattr(model, column)))) == {value}
    after_b = snapshot(pair.b.tenant)
    assert after_b == before_b
    with db.unit_of_work(pair.b.tenant.id) as session:
        assert value not in set(session.scalars(select(getattr(model, column))))


def _dependents(model: type[Any]) -> list[type[Any]]:
    """Tenant models whose rows reference ``model`` (directly or not), children first."""
    tables = {model.__table__}
    found: list[type[Any]] = []
    for table in db.Base.metadata.sorted_tables:
        if any(fk.column.table in tables for fk in table.foreign_keys) and table not in tables:
            tables.add(table)
            found.extend(m for m in TENANT_MODELS if m.__table__ is table)
    return list(reversed(found))


@by_model
def test_bulk_delete_removes_only_the_bound_tenants_rows(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: delete(Model) under A is filtered; B's rows of every model are all still there."""
    table = model.__tablename__
    before_b = snapshot(pair.b.tenant)
    if APPEND_ONLY & {model, *_dependents(model)}:
        # Rows the ledger refers to stay as long as it does: the delete is refused (by the
        # trigger, or by the ledger's foreign key), and it was scoped all the same.
        before_a = snapshot(pair.a.tenant)
        with pytest.raises(DBAPIError), db.unit_of_work(pair.a.tenant.id) as session:
            sql.clear()
            session.execute(delete(model))
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
        assert (snapshot(pair.a.tenant), snapshot(pair.b.tenant)) == (before_a, before_b)
        return
    with db.unit_of_work(pair.a.tenant.id) as session:
        for child in _dependents(model):
            session.execute(delete(child))
        sql.clear()
        session.execute(delete(model))
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
        assert sql.one(table).sql.lstrip().upper().startswith("DELETE")
    assert ids_as(pair.a.tenant, model) == set()
    assert snapshot(pair.b.tenant) == before_b
    assert ids_as(pair.b.tenant, model) == pair.b.rows[model]


@by_model
def test_without_a_tenant_queries_and_inserts_fail_closed(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: with no tenant bound, select/update/delete raise and a flush inserting one raises."""
    statements = (
        select(model),
        select(model.id),
        select(aliased(model)),
        select(model.id, Tenant.slug).join(Tenant, Tenant.id == model.tenant_id),
        update(model).values(tenant_id=pair.b.tenant.id),
        delete(model),
    )
    for stmt in statements:
        with pytest.raises(TenantContextMissing), db.unit_of_work() as session:
            assert current_tenant(session) is None
            session.execute(stmt)
    # Reached only indirectly (joined from a platform table, or in a union), it yields no rows.
    with db.unit_of_work() as session:
        joined = session.scalars(
            select(Tenant.slug).join(model, model.tenant_id == Tenant.id)
        ).all()
        unioned = session.scalars(union(select(model.id), select(model.id))).all()
        assert session.scalars(select(Tenant.slug)).all()  # the platform table itself is readable
    assert joined == []
    assert unioned == []
    sql.clear()
    with pytest.raises(TenantContextMissing), db.unit_of_work() as session:
        session.add(model(tenant_id=pair.a.tenant.id))
        session.flush()
    assert sql.on(model.__tablename__) == []
    assert ids_as(pair.a.tenant, model) == pair.a.rows[model]
    assert ids_as(pair.b.tenant, model) == pair.b.rows[model]
