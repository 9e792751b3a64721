"""Engine, sessions and the one unit of work that commits (ARCHITECTURE.md rule 1)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, MetaData, Uuid, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import DateTime, TypeDecorator

from daiyun.platform.config import get_settings

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


def utcnow() -> datetime:
    return datetime.now(UTC)


_last_id = 0
_id_lock = threading.Lock()


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7), so ids sort by creation and serve as cursors.

    Within one process ids are strictly increasing, even in the same millisecond (the random
    bits are then the previous id's plus one), so rows written together keep their order.
    """
    global _last_id
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    with _id_lock:
        if value <= _last_id:
            value = _next_after(_last_id)
        _last_id = value
    return uuid.UUID(int=value)


def _next_after(previous: int) -> int:
    """The next version-7 value after ``previous``: its 74 random bits plus one."""
    rand_a = (previous >> 64) & 0xFFF
    rand_b = previous & ((1 << 62) - 1)
    counter = ((rand_a << 62) | rand_b) + 1
    ms = previous >> 80
    if counter >> 74:  # the millisecond is exhausted: borrow the next one
        ms, counter = ms + 1, 0
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (counter >> 62) << 64
    value |= 0b10 << 62
    value |= counter & ((1 << 62) - 1)
    return value


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


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
    from daiyun.tenants.context import bind_tenant

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
