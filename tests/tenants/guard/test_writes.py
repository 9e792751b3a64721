"""SECURITY.md items 9 and 10: no switching tenants, no cached objects across tenants, no
cross-tenant writes, and composite foreign keys.

Every test runs on SQLite (where the ORM guard is the only guard) and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from daiyun.core import db
from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.core.tenancy import (
    CrossTenantWrite,
    TenantSwitchRefused,
    bind_tenant,
    current_tenant,
)
from tests.tenants.guard.capture import Capture
from tests.tenants.guard.seed import (
    TENANT_MODELS,
    Pair,
    by_model,
    ids_as,
    key_of,
    snapshot,
)

# --- item 9: no switching, no cached objects across tenants, no cross-tenant writes ------------


@by_model
def test_switching_tenant_with_loaded_objects_is_refused(model: type[Any], pair: Pair) -> None:
    """Item 9: a session holding A's object may not be rebound to B; get() keeps answering for A."""
    a_key = key_of(model, pair.a.tenant, min(pair.a.rows[model]))
    with db.unit_of_work(pair.a.tenant.id) as session:
        obj = session.get(model, a_key)
        assert obj is not None
        with pytest.raises(TenantSwitchRefused):
            bind_tenant(session, pair.b.tenant.id)
        assert current_tenant(session) == pair.a.tenant.id
        assert session.get(model, a_key) is obj
        # Once it holds nothing, it may be rebound, and A's key then finds nothing.
        session.expunge_all()
        bind_tenant(session, pair.b.tenant.id)
        assert session.get(model, a_key) is None


def test_switching_tenant_with_pending_objects_is_refused(pair: Pair) -> None:
    """Item 9: an unflushed object added under A cannot be rebound and flushed into B."""
    with pytest.raises(TenantSwitchRefused), db.unit_of_work(pair.a.tenant.id) as session:
        session.add(OutboxEvent(topic="tests.pending", payload={}))
        bind_tenant(session, pair.b.tenant.id)
    for seeded in (pair.a, pair.b):
        with db.unit_of_work(seeded.tenant.id) as session:
            topics = set(session.scalars(select(OutboxEvent.topic)))
        assert "tests.pending" not in topics


@by_model
def test_get_under_b_never_returns_a_row_of_a(model: type[Any], pair: Pair, sql: Capture) -> None:
    """Item 9: in a fresh session bound to B, get() with A's full primary key returns None."""
    a_key = key_of(model, pair.a.tenant, min(pair.a.rows[model]))
    b_key = key_of(model, pair.b.tenant, min(pair.b.rows[model]))
    with db.unit_of_work(pair.b.tenant.id) as session:
        sql.clear()
        assert session.get(model, a_key) is None
        # B's predicate is added next to the key's own tenant_id = A, so nothing can match.
        statement = sql.one(model.__tablename__)
        assert statement.predicates()[model.__tablename__] >= 2, statement.sql
        assert {pair.a.tenant.id, pair.b.tenant.id} <= statement.bound_uuids()
        assert session.get(model, b_key) is not None  # the same call does find B's own row
    with db.unit_of_work(pair.a.tenant.id) as session:
        assert session.get(model, a_key) is not None


@by_model
def test_other_tenants_objects_cannot_be_attached(model: type[Any], pair: Pair) -> None:
    """Item 9: A's detached (say, cached) object cannot be added, merged or deleted under B.

    Otherwise get() would answer from the identity map without SQL, and a refresh by the
    object's own key would read A's row under B.
    """
    a_key = key_of(model, pair.a.tenant, min(pair.a.rows[model]))
    with db.unit_of_work(pair.a.tenant.id) as session:
        cached = session.get(model, a_key)
        assert cached is not None
    for attach in (
        lambda s: s.add(cached),
        lambda s: s.merge(cached, load=False),
        lambda s: s.delete(cached),
    ):
        with pytest.raises(CrossTenantWrite), db.unit_of_work(pair.b.tenant.id) as session:
            attach(session)
        with db.unit_of_work(pair.b.tenant.id) as session:
            assert session.get(model, a_key) is None
    # merge() with loading finds nothing under B and would insert a copy: the flush refuses it.
    with pytest.raises(CrossTenantWrite), db.unit_of_work(pair.b.tenant.id) as session:
        session.merge(cached)
        session.flush()
    # Under A itself the same object is welcome back.
    with db.unit_of_work(pair.a.tenant.id) as session:
        session.add(cached)
        assert session.get(model, a_key) is cached
        session.refresh(cached)
    assert ids_as(pair.a.tenant, model) == pair.a.rows[model]
    assert ids_as(pair.b.tenant, model) == pair.b.rows[model]


@by_model
def test_changing_an_objects_tenant_is_refused(model: type[Any], pair: Pair) -> None:
    """Item 9: setting tenant_id to B on A's loaded object raises CrossTenantWrite on flush."""
    a_id = min(pair.a.rows[model])
    before_b = snapshot(pair.b.tenant)
    with pytest.raises(CrossTenantWrite), db.unit_of_work(pair.a.tenant.id) as session:
        obj = session.get(model, key_of(model, pair.a.tenant, a_id))
        assert obj is not None
        obj.tenant_id = pair.b.tenant.id
        session.flush()
    assert a_id in ids_as(pair.a.tenant, model)
    assert snapshot(pair.b.tenant) == before_b


@by_model
def test_adding_an_object_of_another_tenant_is_refused(model: type[Any], pair: Pair) -> None:
    """Item 9: adding an object with B's tenant_id under A raises CrossTenantWrite."""
    before_b = snapshot(pair.b.tenant)
    with pytest.raises(CrossTenantWrite), db.unit_of_work(pair.a.tenant.id) as session:
        session.add(model(tenant_id=pair.b.tenant.id))
        session.flush()
    assert snapshot(pair.b.tenant) == before_b


# --- item 10: composite foreign keys ----------------------------------------------------------


def test_child_in_a_cannot_point_at_bs_parent(pair: Pair) -> None:
    """Item 10: HandledEvent(tenant A, event of B) fails the (tenant_id, id) foreign key."""
    b_event = min(pair.b.rows[OutboxEvent])
    a_event = min(pair.a.rows[OutboxEvent])
    with pytest.raises(IntegrityError), db.unit_of_work(pair.a.tenant.id) as session:
        session.add(
            HandledEvent(tenant_id=pair.a.tenant.id, event_id=b_event, handler="tests.cross")
        )
        session.flush()
    # The same child pointing at A's own parent is fine (the failure above was the tenant).
    with db.unit_of_work(pair.a.tenant.id) as session:
        child = HandledEvent(tenant_id=pair.a.tenant.id, event_id=a_event, handler="tests.cross")
        session.add(child)
        session.flush()
        child_id = child.id
    assert child_id in ids_as(pair.a.tenant, HandledEvent)
    with db.unit_of_work(pair.a.tenant.id) as session:
        handlers = set(session.scalars(select(HandledEvent.event_id)))
    assert b_event not in handlers


def test_every_link_between_tenant_tables_is_composite() -> None:
    """Item 10: each foreign key from a tenant table to another includes tenant_id -> tenant_id."""
    tenant_tables = {m.__table__ for m in TENANT_MODELS}
    links = 0
    for table in tenant_tables:
        for fk in table.foreign_key_constraints:
            if fk.referred_table not in tenant_tables:
                continue
            links += 1
            pairs = {(e.parent.name, e.column.name) for e in fk.elements}
            assert ("tenant_id", "tenant_id") in pairs, (table.name, fk.name)
    assert links >= 1  # handled_events -> outbox_events
