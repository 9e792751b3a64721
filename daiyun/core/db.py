"""Engine, sessions and the one unit of work that commits (ARCHITECTURE.md rule 1)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, MetaData, Uuid, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import DateTime, TypeDecorator

from daiyun.core.config import get_settings
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import bind_tenant

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps naive text, so we normalise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid(), dict[str, Any]: JSON()}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# Tries at BEGIN IMMEDIATE, each waiting up to the busy timeout (10 s).
WRITE_LOCK_ATTEMPTS = 6


def take_write_lock(session: Session) -> None:
    """Serialize writers before they read what they will change (stock, a limit's count, who
    works when).

    PostgreSQL locks the rows themselves (``FOR UPDATE``). SQLite has one writer at a time: a
    transaction that reads first and writes later may find, at its first write, that another
    writer committed meanwhile, and write over a stale read. ``BEGIN IMMEDIATE`` takes the write
    lock up front (waiting up to the busy timeout), so what is read is what is written over.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw: Any = connection.connection.dbapi_connection
    if raw is None or raw.in_transaction:
        return
    # The busy timeout is not a queue: a writer may lose the race for the lock to others again
    # and again. Nothing has begun when BEGIN IMMEDIATE fails, so it is simply tried again.
    for attempt in range(WRITE_LOCK_ATTEMPTS):
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == WRITE_LOCK_ATTEMPTS - 1:
                raise


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the pragmas and pool settings this project relies on."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", get_settings().db_pool_size)
    kwargs.setdefault("pool_pre_ping", True)
    # PostgreSQL's JIT compiles a query when its estimated cost is high, which for these short
    # queries takes longer than running them (seen: 150-230 ms of compiling for 20 ms of work).
    kwargs.setdefault("connect_args", {"options": "-c jit=off"})
    return create_engine(url, **kwargs)


class _Database:
    engine: Engine | None = None
    sessions: sessionmaker[Session] | None = None


_db = _Database()


def configure(engine: Engine, sessions: sessionmaker[Session] | None = None) -> None:
    """Point the application at an engine (tests and the CLI call this)."""
    _db.engine = engine
    _db.sessions = sessions or sessionmaker(bind=engine, expire_on_commit=False)


def get_engine() -> Engine:
    if _db.engine is None:
        configure(make_engine(get_settings().database_url))
    assert _db.engine is not None
    return _db.engine


def new_session() -> Session:
    get_engine()
    assert _db.sessions is not None
    return _db.sessions()


@contextmanager
def unit_of_work(tenant_id: uuid.UUID | None = None) -> Iterator[Session]:
    """Open a session, bind the tenant, commit on success, roll back on any error."""
    session = new_session()
    try:
        if tenant_id is not None:
            bind_tenant(session, tenant_id)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
