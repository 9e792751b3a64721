"""The committing database the sign-in tests need, shared by the tenants tests.

Failed sign-ins and refused accesses are written after the request's own transaction (which
rolls back); under the per-test transaction of `connection` those writes are savepoints inside
it. These tests run against a database of their own where every transaction commits, as in
production, and where an engine with a pool of its own can be measured.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from daiyun.core import db
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from tests.conftest import APP_ROLE, PASSWORD, migrate

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


@pytest.fixture(scope="module")
def committed_url(
    test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database, separate from the shared one, whose commits are real."""
    if test_database.backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('auth')}/committed.sqlite"
        migrate(url, url)
        yield url
        return
    owner = make_url(test_database.owner_url)
    owner = owner.set(database=f"{owner.database}_auth")
    admin = db.make_engine(
        owner.set(database="postgres").render_as_string(False), isolation_level="AUTOCOMMIT"
    )
    drop = text(f'drop database if exists "{owner.database}" with (force)')
    with admin.connect() as connection:
        connection.execute(drop)
        connection.execute(text(f'create database "{owner.database}"'))
    app_url = owner.set(username=APP_ROLE, password=None).render_as_string(False)
    migrate(owner.render_as_string(False), app_url)
    yield app_url
    with admin.connect() as connection:
        connection.execute(drop)
    admin.dispose()


@dataclass
class Committed:
    """Sign-ins against the committing database, as seen from one client address."""

    client: TestClient
    app: FastAPI

    def user(self, role: Role = Role.cs_agent) -> User:
        with db.unit_of_work() as session:
            return create_user(
                session,
                UserCreate(
                    email=f"{role.value}-{uuid.uuid4().hex[:8]}@example.com",
                    name=role.value,
                    password=PASSWORD,
                    role=role,
                ),
            )


@pytest.fixture
def committed(committed_url: str, engine: Engine, app: FastAPI) -> Iterator[Committed]:
    """The app pointed at the committing database, with no failures on record yet."""
    own = db.make_engine(committed_url)
    with own.begin() as connection:
        connection.execute(text("delete from login_failures"))
    db.configure(own)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Committed(client, app)
    finally:
        db.configure(engine)
        own.dispose()
