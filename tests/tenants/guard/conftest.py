"""The fixtures of the ORM guard tests: two seeded tenants, and the SQL sent meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.tenants.guard.capture import Capture, Statement
from tests.tenants.guard.seed import (
    Pair,
    seed_tenant,
)


@pytest.fixture
def pair(world: World) -> Pair:
    staff = world.user(Role.account_manager)
    a = seed_tenant(world, world.tenant(), staff)
    b = seed_tenant(world, world.tenant(), staff)
    return Pair(a, b, staff)


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
