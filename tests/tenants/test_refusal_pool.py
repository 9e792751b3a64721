"""A refused tenant access is audited without a second pooled connection (issue 13): with a pool
of one connection, refusals still answer 404 and land in the audit log, and no request ever
holds two connections at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.portal.conftest import sign_in_portal


@dataclass
class Gauge:
    """Connections checked out of the pool: now, and the most at any moment."""

    now: int = 0
    most: int = 0

    def out(self, *_: Any) -> None:
        self.now += 1
        self.most = max(self.most, self.now)

    def back(self, *_: Any) -> None:
        self.now -= 1


@dataclass
class OnePool:
    engine: Engine
    gauge: Gauge
    client: TestClient
    world: World


@pytest.fixture
def one_pool(committed_url: str, engine: Engine, app: FastAPI) -> Iterator[OnePool]:
    """The app on the committing database through a pool of exactly one connection; waiting for
    a second one fails fast instead of hanging."""
    small = db.make_engine(committed_url, pool_size=1, max_overflow=0, pool_timeout=2)
    gauge = Gauge()
    event.listen(small, "checkout", gauge.out)
    event.listen(small, "checkin", gauge.back)
    db.configure(small)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield OnePool(small, gauge, client, World(client))
    finally:
        db.configure(engine)
        small.dispose()


def denials(actor_id: uuid.UUID, tenant_id: uuid.UUID | None = None) -> int:
    """Refusals of one actor in one tenant's log (or the platform's, for ``None``)."""
    with db.unit_of_work(tenant_id) as session:
        stmt = select(func.count()).where(
            AuditEntry.action == "tenant.access_denied",
            AuditEntry.actor_id == actor_id,
            AuditEntry.tenant_id == tenant_id if tenant_id else AuditEntry.tenant_id.is_(None),
        )
        return session.scalar(stmt) or 0


def test_api_refusals_are_audited_on_the_requests_own_connection(one_pool: OnePool) -> None:
    world, client = one_pool.world, one_pool.client
    tenant = world.tenant()
    outsider = world.actor(Role.cs_agent)
    one_pool.gauge.most = 0
    for _ in range(3):
        refused = client.get(f"/api/v1/tenants/{tenant.slug}/orders", headers=outsider.headers)
        assert refused.status_code == 404, refused.text
        missing = client.get("/api/v1/tenants/no-such-tenant", headers=outsider.headers)
        assert missing.status_code == 404, missing.text
    assert one_pool.gauge.most == 1
    assert denials(outsider.user.id, tenant.id) == 3
    assert denials(outsider.user.id) == 3  # the unknown tenant: platform entries


def test_portal_refusals_are_audited_on_the_requests_own_connection(one_pool: OnePool) -> None:
    world, client = one_pool.world, one_pool.client
    tenant = world.tenant()
    outsider = world.user(Role.cs_agent)
    sign_in_portal(client, outsider)
    one_pool.gauge.most = 0
    refused = client.get(f"/portal/t/{tenant.slug}/orders")
    assert refused.status_code == 404
    assert one_pool.gauge.most == 1
    assert denials(outsider.id, tenant.id) == 1


def test_failed_sign_ins_are_counted_on_the_requests_own_connection(one_pool: OnePool) -> None:
    world, client = one_pool.world, one_pool.client
    user = world.user(Role.cs_agent)
    one_pool.gauge.most = 0
    for _ in range(2):
        answer = client.post(
            "/api/v1/auth/token", data={"username": user.email, "password": "wrong wrong"}
        )
        assert answer.status_code == 401, answer.text
    assert one_pool.gauge.most == 1
