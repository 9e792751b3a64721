"""Test databases built from the migrations, one transaction per test, and actor factories.

The suite runs on a SQLite file by default and on PostgreSQL when ``DAIYUN_TEST_DATABASE_URL``
names a database server reachable as its owner (a superuser, which also creates the app role).
On PostgreSQL the application connects as ``daiyun_app``, a role that owns nothing and has no
BYPASSRLS, exactly as in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The sandboxes the tests start listen on 127.0.0.1 (any port): the hosts a shop may call
# besides its marketplace's own. Set before settings are first read, and inherited by the
# workers and processes tests start.
os.environ.setdefault("DAIYUN_MARKETPLACE_HOSTS", "127.0.0.1")
# Public pages are rendered afresh on every request, so a test sees its own writes at once;
# tests/portal/test_page_cache.py turns the cache on.
os.environ.setdefault("DAIYUN_PUBLIC_PAGE_CACHE_SECONDS", "0")
# Live streams look often and end soon, so a test reading one (the matrices read every route's
# whole answer) waits a second at most; tests of reconnects start servers with longer ones.
os.environ.setdefault("DAIYUN_LIVE_TICK_SECONDS", "0.2")
os.environ.setdefault("DAIYUN_LIVE_STREAM_SECONDS", "1")

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from hypothesis import settings
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from daiyun import departments
from daiyun.core import db
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.models import Membership, Tenant
from daiyun.tenants.schemas import TenantCreate

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DAIYUN_TEST_DATABASE_URL")
APP_ROLE = "daiyun_app"
PASSWORD = "correct horse battery staple"

departments.load_models()  # every mapper, so every foreign key resolves

# Properties are checked, never timed: hypothesis' default 200 ms deadline is a wall-clock
# assertion that fails on a busy machine.
settings.register_profile("daiyun", deadline=None)
settings.load_profile("daiyun")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The few tests that take minutes each go first: ``make test`` deals modules out to the
    workers in this order, so those no longer start near the end and keep one worker busy
    while the others wait."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def migrate(owner_url: str, app_url: str) -> None:
    """Build the schema exactly as production does: Alembic as owner, grants to the app role."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["owner_url"] = owner_url
    config.attributes["app_url"] = app_url
    command.upgrade(config, "head")


@dataclass(frozen=True)
class TestDatabase:
    backend: str
    owner_url: str
    app_url: str


def _build_postgres(base_url: str) -> TestDatabase:
    name = f"daiyun_test_{_worker()}_{os.getpid()}"
    server = make_url(base_url)
    admin = db.make_engine(
        server.set(database="postgres").render_as_string(False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'drop database if exists "{name}" with (force)'))
        connection.execute(text(f'create database "{name}"'))
    admin.dispose()
    owner = server.set(database=name)
    app = owner.set(username=APP_ROLE, password=None)
    database = TestDatabase(
        "postgresql", owner.render_as_string(False), app.render_as_string(False)
    )
    migrate(database.owner_url, database.app_url)
    return database


def _build_sqlite(tmp: Path) -> TestDatabase:
    path = tmp / f"daiyun-{_worker()}.sqlite"
    url = f"sqlite:///{path}"
    migrate(url, url)
    return TestDatabase("sqlite", url, url)


def _drop_postgres(base_url: str, database: TestDatabase) -> None:
    server = make_url(base_url)
    admin = db.make_engine(
        server.set(database="postgres").render_as_string(False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        name = make_url(database.owner_url).database
        connection.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@pytest.fixture(scope="session")
def test_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    if PG_URL:
        database = _build_postgres(PG_URL)
        yield database
        _drop_postgres(PG_URL, database)
    else:
        yield _build_sqlite(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def engine(test_database: TestDatabase) -> Iterator[Engine]:
    engine = db.make_engine(test_database.app_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def owner_engine(test_database: TestDatabase) -> Iterator[Engine]:
    engine = db.make_engine(test_database.owner_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres(test_database: TestDatabase) -> TestDatabase:
    """Use in tests that only mean something on PostgreSQL (row security, roles, pools)."""
    if test_database.backend != "postgresql":
        if os.environ.get("DAIYUN_TEST_REQUIRE_POSTGRES"):
            pytest.fail("DAIYUN_TEST_REQUIRE_POSTGRES is set but the suite runs on SQLite")
        pytest.skip("needs PostgreSQL: set DAIYUN_TEST_DATABASE_URL (CI runs these)")
    return test_database


@contextmanager
def shared_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one outer transaction, rolled back at the end."""
    with engine.connect() as connection:
        outer = connection.begin()
        if connection.dialect.name == "sqlite":
            # pysqlite defers BEGIN to the first write, so without this the first SAVEPOINT
            # would open the transaction and its RELEASE would commit the test's rows.
            connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            outer.rollback()


def join(engine: Engine, connection: Connection) -> None:
    """Every session of the app (requests, units of work, tasks run in-process) joins the
    connection's transaction through savepoints."""
    db.configure(
        engine,
        sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        ),
    )


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test, rolled back at the end, that the app's sessions join."""
    with shared_transaction(engine) as connection:
        join(engine, connection)
        try:
            yield connection
        finally:
            db.configure(engine)


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    session = db.new_session()
    yield session
    session.close()


@pytest.fixture(scope="session")
def app() -> object:
    from daiyun.app import create_app

    return create_app()


@pytest.fixture
def client(app: object, connection: Connection) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:  # type: ignore[arg-type]
        yield client


@dataclass
class Actor:
    user: User
    headers: dict[str, str]


class World:
    """Builds tenants and users through the real services, and signs them in over HTTP."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def tenant(self, slug: str | None = None) -> Tenant:
        slug = slug or f"t-{uuid.uuid4().hex[:10]}"
        with db.unit_of_work() as session:
            return tenant_service.create_tenant(
                session,
                TenantCreate(slug=slug, display_name=slug.title(), legal_name=f"{slug} Ltd"),
            )

    def user(self, role: Role, tenant: Tenant | None = None, email: str | None = None) -> User:
        email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        home = tenant if role in MERCHANT_ROLES else None
        with db.unit_of_work() as session:
            user = create_user(
                session,
                UserCreate(email=email, name=role.value, password=PASSWORD, role=role),
                home,
            )
        if tenant is not None and role not in MERCHANT_ROLES and role != Role.agency_admin:
            self.assign(user, tenant, role)
        return user

    def assign(self, user: User, tenant: Tenant, role: Role) -> None:
        with db.unit_of_work(tenant.id) as session:
            session.add(Membership(user_id=user.id, role=role))

    def sign_in(self, user: User) -> dict[str, str]:
        answer = self.client.post(
            "/api/v1/auth/token", data={"username": user.email, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def actor(self, role: Role, tenant: Tenant | None = None) -> Actor:
        user = self.user(role, tenant)
        return Actor(user, self.sign_in(user))


@pytest.fixture
def real_connections(test_database: TestDatabase) -> Iterator[Engine]:
    """The application on a pool of real connections, every unit of work committing (no shared
    test transaction): for races between threads, each over its own connection."""
    engine = db.make_engine(test_database.app_url, pool_size=10, max_overflow=15)
    db.configure(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def world(client: TestClient) -> World:
    return World(client)


ActorFactory = Callable[[Role, Tenant | None], Actor]
