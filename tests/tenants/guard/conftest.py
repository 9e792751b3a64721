"""The fixtures of the ORM guard tests: two seeded tenants, and the SQL sent meanwhile.

Seeding every tenant-owned table for two tenants takes most of a second, and about a thousand
tests read those rows. So a module seeds them once, in a transaction of its own that is rolled
back at its end, and each test runs inside that transaction in a savepoint rolled back after it:
every test still starts from the same two tenants and leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from daiyun.core import db
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World, join, shared_transaction
from tests.tenants.guard.capture import Capture, Statement
from tests.tenants.guard.seed import Pair, seed_tenant


@pytest.fixture(scope="module")
def seeded(engine: Engine, app: Any) -> Iterator[tuple[Connection, Pair]]:
    with shared_transaction(engine) as connection:
        join(engine, connection)
        try:
            world = World(TestClient(app))  # seeding signs nobody in
            staff = world.user(Role.account_manager)
            a = seed_tenant(world, world.tenant(), staff)
            b = seed_tenant(world, world.tenant(), staff)
        finally:
            db.configure(engine)
        yield connection, Pair(a, b, staff)


@pytest.fixture
def connection(engine: Engine, seeded: tuple[Connection, Pair]) -> Iterator[Connection]:
    """The module's seeded transaction, in a savepoint of this test's own."""
    connection = seeded[0]
    savepoint = connection.begin_nested()
    join(engine, connection)
    try:
        yield connection
    finally:
        if savepoint.is_active:
            savepoint.rollback()
        db.configure(engine)


@pytest.fixture
def pair(seeded: tuple[Connection, Pair], connection: Connection) -> Pair:
    return seeded[1]


@pytest.fixture
def sql(connection: Connection) -> Iterator[Capture]:
    capture = Capture()

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        capture.seen.append(Statement(statement, parameters))

    event.listen(connection, "before_cursor_execute", listener)
    yield capture
    event.remove(connection, "before_cursor_execute", listener)
