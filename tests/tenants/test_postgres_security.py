"""PostgreSQL's share of tenant isolation: SECURITY.md items 1-7, 26 and the memberships policy.

Every test here takes the ``postgres`` fixture, so on SQLite it skips with the reason (SQLite has
no roles and no row security: there the ORM guard stands alone and is tested elsewhere).

Most tests need committed rows seen from other connections, so they do not use the rolled-back
``connection`` fixture: :class:`Seed` creates tenants with unique slugs through the real services
and removes everything it made when the test ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from daiyun.core import db
from daiyun.core.audit import service as audit
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import emit
from daiyun.core.ids import new_id
from daiyun.core.tenancy import TenantContextMissing, bind_tenant, bind_user
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.deps import memberships_of
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.models import Membership
from daiyun.tenants.schemas import TenantCreate
from tests.conftest import APP_ROLE, PASSWORD
from tests.conftest import TestDatabase as Database

pytestmark = pytest.mark.postgres

ALL_COMMANDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
# Tables whose rows the app may only read and append; UPDATE/DELETE are withheld by privilege.
APPEND_ONLY = frozenset({"audit_log"})
# Permissive policies that deliberately reach past the bound tenant: (table, policy, command).
CROSS_TENANT_READS = frozenset(
    {
        ("memberships", "own_memberships", "SELECT"),
        ("webhook_routes", "webhook_route_lookup", "SELECT"),
        ("cs_mail_routes", "cs_mail_route_lookup", "SELECT"),
        ("cs_widget_routes", "cs_widget_route_lookup", "SELECT"),
    }
)
BOUND_TENANT = "daiyun_current_tenant()"

INSERT_EVENT = (
    "insert into outbox_events (tenant_id, id, topic, payload, created_at)"
    " values (:tenant, :id, 'probe.raw', '{}', now())"
)
# Rows that belong to some tenant. (Platform audit entries, tenant_id null, belong to none and
# are readable exactly when no tenant is bound.)
TENANT_ROWS = "select count(*) from {table} where tenant_id is not null"
SETTINGS = (
    "select current_setting('app.tenant_id', true) as tenant,"
    " current_setting('app.user_id', true) as user, pg_backend_pid() as pid"
)


# --- helpers ---------------------------------------------------------------------------------


def tenant_tables(connection: Connection) -> list[str]:
    """Every table in schema public with a ``tenant_id`` column, read from the catalog."""
    rows = connection.execute(
        text(
            "select c.relname from pg_class c"
            " join pg_namespace n on n.oid = c.relnamespace"
            " join pg_attribute a on a.attrelid = c.oid"
            "  and a.attname = 'tenant_id' and not a.attisdropped"
            " where n.nspname = 'public' and c.relkind in ('r', 'p')"
            " order by c.relname"
        )
    )
    return list(rows.scalars())


def rls_gaps(connection: Connection, role: str) -> list[str]:
    """What is missing for row security to bind ``role`` on every tenant table (empty: none)."""
    gaps: list[str] = []
    for table in tenant_tables(connection):
        enabled, forced = connection.execute(
            text(
                "select relrowsecurity, relforcerowsecurity from pg_class"
                " where oid = cast(:table as regclass)"
            ),
            {"table": f"public.{table}"},
        ).one()
        if not enabled:
            gaps.append(f"{table}: row level security not enabled")
        if not forced:
            gaps.append(f"{table}: row level security not forced")
        policies = connection.execute(
            text(
                "select policyname, permissive, roles, cmd, qual, with_check from pg_policies"
                " where schemaname = 'public' and tablename = :table"
            ),
            {"table": table},
        ).all()
        covered: set[str] = set()
        for name, permissive, roles, cmd, using, check in policies:
            if permissive != "PERMISSIVE" or not ({"public", role} & set(roles)):
                continue  # restrictive policies alone admit nothing; others bind another role
            expressions = [e for e in (using, check) if e is not None]
            if all(BOUND_TENANT in e for e in expressions):
                covered |= ALL_COMMANDS if cmd == "ALL" else {cmd}
            elif (table, name, cmd) not in CROSS_TENANT_READS:
                gaps.append(f"{table}: policy {name} ({cmd}) is not limited to the bound tenant")
        needed = {"SELECT", "INSERT"} if table in APPEND_ONLY else ALL_COMMANDS
        for cmd in sorted(needed - covered):
            gaps.append(f"{table}: no tenant policy for {cmd}")
        if table in APPEND_ONLY:
            for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
                held = connection.execute(
                    text("select has_table_privilege(:role, :table, :privilege)"),
                    {"role": role, "table": f"public.{table}", "privilege": privilege},
                ).scalar_one()
                if held:
                    gaps.append(f"{table}: {role} holds {privilege} on an append-only table")
    return gaps


def sqlstate(error: DBAPIError) -> str | None:
    state: str | None = getattr(error.orig, "sqlstate", None)
    return state


def attempt(
    engine: Engine,
    sql: str,
    params: dict[str, Any] | None = None,
    *,
    tenant: uuid.UUID | None = None,
    user: uuid.UUID | None = None,
) -> tuple[DBAPIError | None, int]:
    """Run one statement in a session bound like the app binds it, then always roll back.

    Returns the database error (or None) and the number of rows the statement affected.
    """
    with Session(engine) as session:
        if tenant is not None:
            bind_tenant(session, tenant)
        if user is not None:
            bind_user(session, user)
        try:
            result = session.execute(text(sql), params or {})
            return None, result.rowcount  # type: ignore[attr-defined]
        except DBAPIError as error:
            return error, 0
        finally:
            session.rollback()


def refused(engine: Engine, sql: str, params: dict[str, Any] | None = None, **bind: Any) -> str:
    """The error text of a statement that must fail; fails the test if it succeeds."""
    error, affected = attempt(engine, sql, params, **bind)
    if error is None:
        pytest.fail(f"{sql!r} succeeded ({affected} rows) but must be refused")
    return f"{sqlstate(error)}: {error.orig}"


def owner_scalar(owner: Engine, sql: str, **params: Any) -> Any:
    with owner.connect() as connection:
        return connection.execute(text(sql), params).scalar()


class Seed:
    """Committed tenants, users and outbox events made through the real services."""

    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.tenant_ids: list[uuid.UUID] = []
        self.user_ids: list[uuid.UUID] = []

    def tenant(self) -> uuid.UUID:
        slug = f"pg-{uuid.uuid4().hex[:12]}"
        with self.sessions.begin() as session:
            tenant = tenant_service.create_tenant(
                session, TenantCreate(slug=slug, display_name=slug, legal_name=f"{slug} Ltd")
            )
        self.tenant_ids.append(tenant.id)
        return tenant.id

    def events(self, tenant_id: uuid.UUID, count: int = 2) -> set[uuid.UUID]:
        with self.sessions.begin() as session:
            bind_tenant(session, tenant_id)
            return {emit(session, "probe.seeded", {"n": n}).id for n in range(count)}

    def staff(self, *tenant_ids: uuid.UUID) -> uuid.UUID:
        """A staff user assigned to the given tenants."""
        email = f"staff-{uuid.uuid4().hex[:10]}@example.com"
        with self.sessions.begin() as session:
            user = create_user(
                session,
                UserCreate(email=email, name="Staff", password=PASSWORD, role=Role.cs_agent),
            )
        self.user_ids.append(user.id)
        for tenant_id in tenant_ids:
            with self.sessions.begin() as session:
                bind_tenant(session, tenant_id)
                session.add(Membership(user_id=user.id, role=Role.cs_agent))
        return user.id

    def purge(self, owner: Engine) -> None:
        """Remove every row this seed made, so later tests find the database as it was."""
        with owner.begin() as connection:
            # Test-only superuser escape hatch, for this transaction: skip triggers (the audit
            # log's append-only trigger and the foreign-key triggers, so order does not matter).
            connection.execute(text("set local session_replication_role = replica"))
            tenants, users = self.tenant_ids, self.user_ids
            for table in tenant_tables(connection):
                connection.execute(
                    text(f"delete from {table} where tenant_id = any(:tenants)"),
                    {"tenants": tenants},
                )
            connection.execute(
                text("delete from audit_log where target = any(:targets)"),
                {"targets": [f"user:{u}" for u in users]},
            )
            connection.execute(text("delete from users where id = any(:users)"), {"users": users})
            connection.execute(
                text("delete from tenants where id = any(:tenants)"), {"tenants": tenants}
            )


@pytest.fixture
def seed(postgres: Database, engine: Engine, owner_engine: Engine) -> Iterator[Seed]:
    seed = Seed(engine)
    yield seed
    seed.purge(owner_engine)


@pytest.fixture
def app_pool(postgres: Database, engine: Engine) -> Iterator[Callable[[int], Engine]]:
    """Make a dedicated app-role engine with a fixed pool and point ``db`` at it."""
    made: list[Engine] = []

    def make(size: int) -> Engine:
        # No overflow: a connection not returned would make the next checkout time out.
        pool = db.make_engine(postgres.app_url, pool_size=size, max_overflow=0, pool_timeout=30)
        made.append(pool)
        db.configure(pool)
        return pool

    yield make
    db.configure(engine)
    for pool in made:
        pool.dispose()


# --- 1. the app role --------------------------------------------------------------------------


def test_app_role_is_not_superuser_has_no_bypassrls_and_owns_nothing(
    postgres: Database, engine: Engine
) -> None:
    """SECURITY.md 1: the role the app connects as is bound by row security."""
    with engine.connect() as connection:
        role, superuser, bypass = connection.execute(
            text(
                "select rolname, rolsuper, rolbypassrls from pg_roles where rolname = current_user"
            )
        ).one()
        assert role == APP_ROLE
        assert superuser is False
        assert bypass is False
        owners = set(
            connection.execute(
                text("select distinct tableowner from pg_tables where schemaname = 'public'")
            ).scalars()
        )
        assert owners, "the schema has no tables: the migrations did not run"
        assert APP_ROLE not in owners
        owned = connection.execute(
            text(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = 'public' and c.relowner = "
                " (select oid from pg_roles where rolname = current_user)"
            )
        ).all()
        assert owned == []  # no table, view, sequence or index either
        for owner in owners:
            # Membership in the owner's role would lend the owner's rights (and its exemption).
            inherits = connection.execute(
                text("select pg_has_role(current_user, :owner, 'MEMBER')"), {"owner": owner}
            ).scalar_one()
            assert inherits is False, f"{APP_ROLE} is a member of table owner {owner}"


# --- 2. the catalog check ---------------------------------------------------------------------


def test_every_tenant_table_has_forced_row_security_and_policies_for_every_command(
    postgres: Database, engine: Engine
) -> None:
    """SECURITY.md 2: generic over the catalog, so a new tenant table without RLS fails here."""
    with engine.connect() as connection:
        tables = set(tenant_tables(connection))
        assert tables >= {"outbox_events", "handled_events", "memberships", "audit_log"}
        assert tables >= {"daily_sales", "daily_product_sales"}  # the sales rollups
        assert rls_gaps(connection, APP_ROLE) == []


def test_catalog_check_reports_an_unprotected_tenant_table(
    postgres: Database, owner_engine: Engine
) -> None:
    """SECURITY.md 2: the check itself catches each way a migration can get RLS wrong."""
    with owner_engine.connect() as connection, connection.begin() as transaction:
        connection.execute(text("create table rls_probe (tenant_id uuid, id uuid)"))
        assert {
            "rls_probe: row level security not enabled",
            "rls_probe: row level security not forced",
            "rls_probe: no tenant policy for SELECT",
            "rls_probe: no tenant policy for INSERT",
            "rls_probe: no tenant policy for UPDATE",
            "rls_probe: no tenant policy for DELETE",
        } <= set(rls_gaps(connection, APP_ROLE))

        connection.execute(text("alter table rls_probe enable row level security"))
        connection.execute(
            text(f"create policy reads on rls_probe for select using (tenant_id = {BOUND_TENANT})")
        )
        gaps = [g for g in rls_gaps(connection, APP_ROLE) if g.startswith("rls_probe")]
        assert gaps == [
            "rls_probe: row level security not forced",
            "rls_probe: no tenant policy for DELETE",
            "rls_probe: no tenant policy for INSERT",
            "rls_probe: no tenant policy for UPDATE",
        ]

        connection.execute(text("alter table rls_probe force row level security"))
        connection.execute(
            text(f"create policy writes on rls_probe using (tenant_id = {BOUND_TENANT})")
        )
        connection.execute(text("create policy leak on rls_probe for select using (true)"))
        gaps = [g for g in rls_gaps(connection, APP_ROLE) if g.startswith("rls_probe")]
        assert gaps == ["rls_probe: policy leak (SELECT) is not limited to the bound tenant"]
        transaction.rollback()


# --- 3. no tenant in context ------------------------------------------------------------------


def test_without_a_tenant_the_database_shows_nothing_and_refuses_writes(
    seed: Seed, engine: Engine, owner_engine: Engine
) -> None:
    """SECURITY.md 3: no ``app.tenant_id``, no tenant's rows in any tenant table; UPDATE and
    DELETE affect 0 rows and an INSERT fails the policy check."""
    a, b = seed.tenant(), seed.tenant()
    events = seed.events(a) | seed.events(b)
    stored = "select count(*) from outbox_events where tenant_id in (:a, :b)"
    assert owner_scalar(owner_engine, stored, a=a, b=b) == len(events) == 4

    with engine.connect() as connection:
        tenant, user, _pid = connection.execute(text(SETTINGS)).one()
        assert tenant in (None, "") and user in (None, "")
        for table in tenant_tables(connection):
            count = connection.execute(text(TENANT_ROWS.format(table=table))).scalar_one()
            assert count == 0, f"{table} shows {count} tenant rows with no tenant bound"
        assert connection.execute(text(stored), {"a": a, "b": b}).scalar_one() == 0
        touched = connection.execute(
            text("update outbox_events set topic = 'forged' where tenant_id in (:a, :b)"),
            {"a": a, "b": b},
        )
        assert touched.rowcount == 0
        deleted = connection.execute(
            text("delete from outbox_events where tenant_id in (:a, :b)"), {"a": a, "b": b}
        )
        assert deleted.rowcount == 0
        connection.rollback()

    message = refused(engine, INSERT_EVENT, {"tenant": a, "id": new_id()})
    assert message.startswith("42501")
    assert "row-level security" in message
    forged = (
        "select count(*) from outbox_events where tenant_id in (:a, :b) and topic <> 'probe.seeded'"
    )
    assert owner_scalar(owner_engine, forged, a=a, b=b) == 0
    assert owner_scalar(owner_engine, stored, a=a, b=b) == 4


def test_without_a_tenant_the_orm_guard_refuses_before_any_sql(
    postgres: Database, engine: Engine
) -> None:
    """SECURITY.md 3: the ORM raises TenantContextMissing before a tenant table is queried."""
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as session:
            with pytest.raises(TenantContextMissing):
                session.scalars(select(OutboxEvent))
            session.add(OutboxEvent(topic="probe.orm", payload={}))
            with pytest.raises(TenantContextMissing):
                session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert not [s for s in statements if "outbox_events" in s]


# --- 4. raw SQL under a tenant ----------------------------------------------------------------


def test_raw_sql_under_tenant_a_returns_only_a_rows(seed: Seed, engine: Engine) -> None:
    """SECURITY.md 4: ``text("select * from outbox_events")`` bound to A sees A's rows only."""
    a, b = seed.tenant(), seed.tenant()
    a_events, b_events = seed.events(a, 3), seed.events(b, 2)
    assert a_events.isdisjoint(b_events)

    with Session(engine) as session:
        bind_tenant(session, a)
        rows = session.execute(text("select * from outbox_events")).mappings().all()
        assert {row["id"] for row in rows} == a_events
        assert {row["tenant_id"] for row in rows} == {a}
        asked_for_b = text("select id from outbox_events where tenant_id = :b")
        assert session.execute(asked_for_b, {"b": b}).all() == []
        for table in tenant_tables(session.connection()):
            seen = set(session.execute(text(f"select distinct tenant_id from {table}")).scalars())
            assert seen <= {a}, f"{table} shows rows of {seen - {a}} under tenant {a}"
        # Not vacuous: A's own audit entry (tenant.created) is among them.
        actions = session.execute(text("select action from audit_log")).scalars().all()
        assert actions == ["tenant.created"]


# --- 5. cross-tenant writes -------------------------------------------------------------------


def test_raw_writes_cannot_cross_from_tenant_a_to_b(
    seed: Seed, engine: Engine, owner_engine: Engine
) -> None:
    """SECURITY.md 5: an INSERT with B's id or an UPDATE moving A's row to B is refused
    (42501, new row violates the policy); an UPDATE or DELETE of B's row affects 0 rows."""
    a, b = seed.tenant(), seed.tenant()
    (a_event,), (b_event,) = seed.events(a, 1), seed.events(b, 1)
    forged_id = new_id()

    message = refused(engine, INSERT_EVENT, {"tenant": b, "id": forged_id}, tenant=a)
    assert message.startswith("42501")
    assert 'new row violates row-level security policy for table "outbox_events"' in message

    move = "update outbox_events set tenant_id = :b where id = :id"
    message = refused(engine, move, {"b": b, "id": a_event}, tenant=a)
    assert message.startswith("42501")
    assert 'new row violates row-level security policy for table "outbox_events"' in message

    for sql in (
        "update outbox_events set topic = 'forged' where id = :id",
        "update outbox_events set tenant_id = :a where id = :id",
        "delete from outbox_events where id = :id",
    ):
        error, affected = attempt(engine, sql, {"a": a, "id": b_event}, tenant=a)
        assert error is None and affected == 0, sql

    # The same statements do work on A's own row: the zeros above are the policy, not a typo.
    error, affected = attempt(
        engine,
        "update outbox_events set topic = 'renamed' where id = :id",
        {"id": a_event},
        tenant=a,
    )
    assert error is None and affected == 1

    where = "select tenant_id from outbox_events where id = :id"
    assert owner_scalar(owner_engine, where, id=a_event) == a
    assert owner_scalar(owner_engine, where, id=b_event) == b
    assert owner_scalar(owner_engine, where, id=forged_id) is None
    topics = "select topic from outbox_events where id = :id"
    assert owner_scalar(owner_engine, topics, id=b_event) == "probe.seeded"


# --- 6. pool hygiene --------------------------------------------------------------------------


class Boom(RuntimeError):
    """The failure a unit of work raises inside itself."""


def fail_in_python(_session: Session, _other: uuid.UUID) -> None:
    raise Boom("the request failed")


def fail_in_database(session: Session, other: uuid.UUID) -> None:
    # A policy violation leaves the transaction aborted until the rollback.
    session.execute(text(INSERT_EVENT), {"tenant": other, "id": new_id()})


@pytest.mark.parametrize(
    ("fail", "raised"),
    [(fail_in_python, Boom), (fail_in_database, DBAPIError)],
    ids=["python-error", "policy-violation"],
)
def test_a_pooled_connection_keeps_no_tenant_after_commit_or_failure(
    seed: Seed,
    app_pool: Callable[[int], Engine],
    owner_engine: Engine,
    fail: Callable[[Session, uuid.UUID], None],
    raised: type[BaseException],
) -> None:
    """SECURITY.md 6: one connection, a unit of work for A that commits, one that fails, then a
    bare transaction on the same connection sees no tenant, no user and no rows."""
    a, b = seed.tenant(), seed.tenant()
    user = seed.staff(a)
    pool = app_pool(1)

    with db.unit_of_work(a) as session:
        bind_user(session, user)
        committed = emit(session, "probe.committed", {}).id
        tenant_seen, user_seen, pid = session.execute(text(SETTINGS)).one()
    assert (tenant_seen, user_seen) == (str(a), str(user))  # the settings did apply

    abandoned: list[uuid.UUID] = []
    pids: list[int] = []
    with pytest.raises(raised), db.unit_of_work(a) as session:
        bind_user(session, user)
        abandoned.append(emit(session, "probe.abandoned", {}).id)
        pids.append(session.execute(text("select pg_backend_pid()")).scalar_one())
        fail(session, b)
    assert pids == [pid]

    with pool.begin() as bare:
        tenant_seen, user_seen, bare_pid = bare.execute(text(SETTINGS)).one()
        assert bare_pid == pid  # the very connection both units of work used
        assert tenant_seen in (None, "")
        assert user_seen in (None, "")
        for table in tenant_tables(bare):
            count = bare.execute(text(TENANT_ROWS.format(table=table))).scalar_one()
            assert count == 0, f"{table} shows {count} tenant rows on a recycled connection"
    assert pool.pool.checkedout() == 0  # type: ignore[attr-defined]

    stored = "select count(*) from outbox_events where id = :id"
    assert owner_scalar(owner_engine, stored, id=committed) == 1
    assert owner_scalar(owner_engine, stored, id=abandoned[0]) == 0


# --- 7. concurrency ---------------------------------------------------------------------------


@dataclass
class Visit:
    """What one unit of work saw."""

    tenant: uuid.UUID
    failed: bool
    own_event: uuid.UUID
    raw_tenants: set[uuid.UUID] = field(default_factory=set)
    raw_ids: set[uuid.UUID] = field(default_factory=set)
    orm_tenants: set[uuid.UUID] = field(default_factory=set)
    setting: str = ""
    pid: int = 0


def visit(tenant: uuid.UUID, n: int) -> Visit:
    """One request for a tenant: write an event, read raw and through the ORM; every 5th fails."""
    failed = n % 5 == 4
    try:
        with db.unit_of_work(tenant) as session:
            seen = Visit(tenant, failed, emit(session, "probe.visit", {"n": n}).id)
            rows = session.execute(text("select tenant_id, id from outbox_events")).all()
            seen.raw_tenants = {row.tenant_id for row in rows}
            seen.raw_ids = {row.id for row in rows}
            seen.orm_tenants = set(session.scalars(select(OutboxEvent.tenant_id)))
            seen.setting, _user, seen.pid = session.execute(text(SETTINGS)).one()
            if failed:
                raise Boom
    except Boom:
        pass
    return seen


def test_interleaved_requests_over_a_small_pool_each_see_only_their_tenant(
    seed: Seed, app_pool: Callable[[int], Engine], owner_engine: Engine
) -> None:
    """SECURITY.md 7: 2x50 interleaved units of work for A and B over a pool of three
    connections, eight threads: every one sees only its own tenant's rows."""
    a, b = seed.tenant(), seed.tenant()
    app_pool(3)
    jobs: Sequence[tuple[uuid.UUID, int]] = [(a if n % 2 else b, n) for n in range(100)]

    with ThreadPoolExecutor(max_workers=8) as executor:
        visits = list(executor.map(lambda job: visit(*job), jobs))

    assert len(visits) == 100
    for seen in visits:
        assert seen.raw_tenants == {seen.tenant}
        assert seen.orm_tenants == {seen.tenant}
        assert seen.own_event in seen.raw_ids
        assert seen.setting == str(seen.tenant)
    assert len({seen.pid for seen in visits}) <= 3  # connections really were shared

    for tenant in (a, b):
        kept = {s.own_event for s in visits if s.tenant == tenant and not s.failed}
        dropped = {s.own_event for s in visits if s.tenant == tenant and s.failed}
        assert len(kept) == 40 and len(dropped) == 10
        with owner_engine.connect() as connection:
            stored = set(
                connection.execute(
                    text("select id from outbox_events where tenant_id = :t"), {"t": tenant}
                ).scalars()
            )
        assert stored == kept


# --- 26. the audit log is append-only ---------------------------------------------------------


def test_audit_log_is_append_only_for_the_app_and_for_the_owner(
    seed: Seed, engine: Engine, owner_engine: Engine
) -> None:
    """SECURITY.md 26: the app may append and read; UPDATE, DELETE and TRUNCATE are denied by
    privilege to the app role and refused by trigger even to the owner, a superuser."""
    a = seed.tenant()
    with Session(engine) as session:
        bind_tenant(session, a)
        audit.record(session, "probe.appended", "probe")
        session.commit()
    with Session(engine) as session:
        bind_tenant(session, a)
        actions = set(session.execute(text("select action from audit_log")).scalars())
    assert actions == {"tenant.created", "probe.appended"}

    statements = (
        "update audit_log set action = 'forged' where tenant_id = :t",
        "delete from audit_log where tenant_id = :t",
        "truncate audit_log",
    )
    for sql in statements:
        message = refused(engine, sql, {"t": a}, tenant=a)
        assert message.startswith("42501"), message
        assert "permission denied for table audit_log" in message

    assert owner_scalar(owner_engine, "select rolsuper from pg_roles where rolname = current_user")
    for sql in statements:
        message = refused(owner_engine, sql, {"t": a})
        assert message.startswith("P0001"), message
        assert "append-only" in message

    entries = "select count(*) from audit_log where tenant_id = :t and action <> 'forged'"
    assert owner_scalar(owner_engine, entries, t=a) == 2


# --- memberships: a user's own memberships across tenants ---------------------------------------


def test_a_user_reads_its_own_memberships_in_other_tenants_and_no_one_elses(
    seed: Seed, engine: Engine
) -> None:
    """The memberships policy: rows of the bound tenant, plus the bound user's own rows
    elsewhere (read only), never another user's rows in another tenant."""
    a, b = seed.tenant(), seed.tenant()
    mine = seed.staff(a, b)
    other = seed.staff(b)

    def visible(tenant: uuid.UUID | None, user: uuid.UUID | None) -> set[tuple[Any, ...]]:
        with Session(engine) as session:
            if tenant is not None:
                bind_tenant(session, tenant)
            if user is not None:
                bind_user(session, user)
            rows = session.execute(text("select tenant_id, user_id from memberships"))
            return {tuple(row) for row in rows}

    assert visible(a, None) == {(a, mine)}
    assert visible(a, mine) == {(a, mine), (b, mine)}
    assert visible(a, other) == {(a, mine), (b, other)}
    assert visible(None, mine) == {(a, mine), (b, mine)}
    assert visible(None, other) == {(b, other)}
    assert visible(None, None) == set()

    # The sign-in read (ORM, all tenants) relies on exactly this.
    with Session(engine) as session:
        bind_user(session, mine)
        assert {m.tenant_id for m in memberships_of(session, mine)} == {a, b}

    # Read only: the user's own row in B cannot be changed or removed from a session bound to A.
    own_row_in_b = {"b": b, "user": mine}
    for sql in (
        "delete from memberships where tenant_id = :b and user_id = :user",
        "update memberships set role = 'finance' where tenant_id = :b and user_id = :user",
    ):
        error, affected = attempt(engine, sql, own_row_in_b, tenant=a, user=mine)
        assert (error, affected) == (None, 0), sql
    insert = (
        "insert into memberships (tenant_id, id, user_id, role, created_at, updated_at)"
        " values (:t, :id, :user, 'cs_agent', now(), now())"
    )
    # Nor does being the user let it add itself to a tenant it is not bound to.
    message = refused(engine, insert, {"t": a, "id": new_id(), "user": other}, user=other)
    assert message.startswith("42501")
