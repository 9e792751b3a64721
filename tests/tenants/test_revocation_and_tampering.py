"""Authorization beyond the route matrix: a removed assignment takes effect on the very next
request (SECURITY.md 13), and a tampered tenant is 404 and audited (SECURITY.md 14).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.tenants.auth.permissions import STAFF_ROLES, Role
from daiyun.tenants.models import Tenant
from tests import conftest
from tests.authz import (
    API,
    DENIED,
    R,
    columns_of,
    problem_kind,
    without_instance,
)
from tests.conftest import World, migrate

# --------------------------------------------------------------------------------------------
# SECURITY.md 13: a removed assignment takes effect on the very next request
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(STAFF_ROLES, key=str), ids=str)
def test_removed_assignment_denies_the_next_request(world: World, role: Role) -> None:
    """SECURITY.md 13: the same token (and API key) is refused right after unassignment."""
    a = world.tenant()
    staff, admin = world.actor(role, a), world.actor(R.agency_admin)
    client = world.client
    made = client.post(f"{API}/me/api-keys", json={"name": "bot"}, headers=staff.headers)
    assert made.status_code == 201, made.text
    by_key = {"Authorization": f"Bearer {made.json()['key']}"}
    for headers in (staff.headers, by_key):
        assert client.get(f"{API}/tenants/{a.slug}", headers=headers).status_code == 200
        assert client.get(f"{API}/tenants/{a.slug}/members", headers=headers).status_code == 200

    removed = client.delete(
        f"{API}/tenants/{a.slug}/members/{staff.user.id}", headers=admin.headers
    )
    assert removed.status_code == 204, removed.text

    for headers in (staff.headers, by_key):
        answer = client.get(f"{API}/tenants/{a.slug}", headers=headers)
        assert (answer.status_code, problem_kind(answer)) == (404, "not-found"), answer.text
        assert client.get(f"{API}/tenants/{a.slug}/members", headers=headers).status_code == 404
    me = client.get(f"{API}/me", headers=staff.headers)
    assert me.status_code == 200  # the session itself is still valid: the assignment is gone
    assert me.json()["tenants"] == []
    assert client.get(f"{API}/tenants", headers=staff.headers).json()["items"] == []


# --------------------------------------------------------------------------------------------
# SECURITY.md 14: a tampered tenant is 404, and the attempt is in the audit log
# --------------------------------------------------------------------------------------------


@pytest.fixture
def committed(
    test_database: conftest.TestDatabase, app: FastAPI, tmp_path: Path
) -> Iterator[tuple[World, Engine]]:
    """A private database without the per-test outer transaction: every request commits as in
    production. Needed for audited refusals, which are written in their own transaction
    (``record_denial``): under the shared ``connection`` fixture that transaction is a savepoint
    nested in the request's, and the request's rollback takes it away."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    server = None
    if test_database.backend == "postgresql":
        name = f"daiyun_authz_{worker}_{os.getpid()}"
        server = db.make_engine(
            make_url(test_database.owner_url).set(database="postgres").render_as_string(False),
            isolation_level="AUTOCOMMIT",
        )
        with server.connect() as connection:
            connection.execute(text(f'drop database if exists "{name}" with (force)'))
            connection.execute(text(f'create database "{name}"'))
        owner_url = make_url(test_database.owner_url).set(database=name).render_as_string(False)
        app_url = make_url(test_database.app_url).set(database=name).render_as_string(False)
    else:
        owner_url = app_url = f"sqlite:///{tmp_path / 'committed.sqlite'}"
    migrate(owner_url, app_url)
    engine, owner = db.make_engine(app_url), db.make_engine(owner_url)
    saved = (db._db.engine, db._db.sessions)
    db.configure(engine)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield World(client), owner
    finally:
        db._db.engine, db._db.sessions = saved
        engine.dispose()
        owner.dispose()
        if server is not None:
            with server.connect() as connection:
                connection.execute(text(f'drop database if exists "{name}" with (force)'))
            server.dispose()


def test_tampered_tenant_is_404_and_audited(committed: tuple[World, Engine]) -> None:
    """SECURITY.md 14: another tenant and an unknown one answer the same 404; both attempts are
    recorded with the actor (B's in B's log, the unknown one as a platform entry)."""
    world, owner_engine = committed
    client = world.client
    a, b = world.tenant(), world.tenant()
    owner, admin = world.actor(R.merchant_owner, a), world.actor(R.agency_admin)
    ghost = f"does-not-exist-{uuid.uuid4().hex[:6]}"

    to_b = client.get(f"{API}/tenants/{b.slug}", headers=owner.headers)
    to_ghost = client.get(f"{API}/tenants/{ghost}", headers=owner.headers)
    assert (to_b.status_code, to_ghost.status_code) == (404, 404), (to_b.text, to_ghost.text)
    assert without_instance(to_b) == without_instance(to_ghost)
    assert problem_kind(to_b) == "not-found"
    assert to_b.json()["instance"] == f"{API}/tenants/{b.slug}"
    assert to_ghost.json()["instance"] == f"{API}/tenants/{ghost}"
    assert to_b.headers["content-type"] == to_ghost.headers["content-type"]
    assert client.get(f"{API}/tenants/{a.slug}", headers=owner.headers).status_code == 200

    def denials() -> list[tuple[str, uuid.UUID | None]]:
        with Session(owner_engine) as session:  # the schema owner: reads past row security
            found = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == DENIED, AuditEntry.actor_id == owner.user.id)
                .order_by(AuditEntry.id)
            )
            return [(e.target, e.tenant_id) for e in found]

    # None for A's own 200; B's attempt in B's log, the unknown tenant's as a platform entry.
    assert denials() == [(f"tenant:{b.slug}", b.id), (f"tenant:{ghost}", None)]

    # The readers meant to see them do, through the app role and row security.
    platform = client.get(f"{API}/audit", headers=admin.headers)
    assert platform.status_code == 200, platform.text
    mine = [e for e in platform.json()["items"] if e["actor_id"] == str(owner.user.id)]
    assert [(e["action"], e["target"]) for e in mine if e["action"] == DENIED] == [
        (DENIED, f"tenant:{ghost}")
    ]
    in_b = client.get(f"{API}/tenants/{b.slug}/audit", headers=admin.headers).json()["items"]
    assert (DENIED, f"tenant:{b.slug}") in {(e["action"], e["target"]) for e in in_b}
    in_a = client.get(f"{API}/tenants/{a.slug}/audit", headers=admin.headers).json()["items"]
    assert DENIED not in {e["action"] for e in in_a}

    # A tampered write is refused the same way and changes nothing in B.
    with Session(owner_engine) as session:
        before = columns_of(session.get(Tenant, b.id))
    patched = client.patch(
        f"{API}/tenants/{b.slug}", json={"display_name": "Hijacked"}, headers=owner.headers
    )
    assert without_instance(patched) == without_instance(to_ghost)
    with Session(owner_engine) as session:
        assert columns_of(session.get(Tenant, b.id)) == before
    assert denials()[2:] == [(f"tenant:{b.slug}", b.id)]
