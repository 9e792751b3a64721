"""A database whose transactions really commit, and the whole app served from it over HTTP.

The shared test database wraps every test in a transaction that is rolled back; a browser talks to
a separate server process, and refusals are audited (and failed sign-ins counted) in their own
transactions, so these tests need a database of their own, built from the migrations like the
shared one (a SQLite file, or a PostgreSQL database reached as the app role under row security).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from daiyun.core import db
from daiyun.core.config import get_settings
from tests.conftest import ROOT, TestDatabase, migrate

READY_SECONDS = 60.0


@dataclass(frozen=True)
class CommittedDatabase:
    backend: str
    app_url: str
    owner_url: str


@contextmanager
def committed_database(
    test_database: TestDatabase, label: str, directory: Path
) -> Iterator[CommittedDatabase]:
    """A freshly migrated database next to the shared test database, dropped afterwards."""
    if test_database.backend != "postgresql":
        url = f"sqlite:///{directory / f'{label}.sqlite'}"
        migrate(url, url)
        yield CommittedDatabase("sqlite", url, url)
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"daiyun_{label}_{worker}_{os.getpid()}"
    owner = make_url(test_database.owner_url).set(database=name)
    app = make_url(test_database.app_url).set(database=name)
    admin = db.make_engine(
        owner.set(database="postgres").render_as_string(False), isolation_level="AUTOCOMMIT"
    )
    drop = text(f'drop database if exists "{name}" with (force)')
    with admin.connect() as connection:
        connection.execute(drop)
        connection.execute(text(f'create database "{name}"'))
    try:
        database = CommittedDatabase(
            "postgresql", app.render_as_string(False), owner.render_as_string(False)
        )
        migrate(database.owner_url, database.app_url)
        yield database
    finally:
        with admin.connect() as connection:
            connection.execute(drop)
        admin.dispose()


@contextmanager
def app_database(url: str) -> Iterator[Engine]:
    """Point this process's units of work (and an in-process app) at ``url`` for a while."""
    engine = db.make_engine(url)
    saved = (db._db.engine, db._db.sessions)
    db.configure(engine)
    try:
        yield engine
    finally:
        db._db.engine, db._db.sessions = saved
        engine.dispose()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """``daiyun api`` in a child process, on a free loopback port."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def live_server(
    database: CommittedDatabase, workdir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Serve the real app (API and portal) from ``database``; ready when this yields."""
    port = free_port()
    settings = get_settings()
    env = {
        **os.environ,
        "DAIYUN_DATABASE_URL": database.app_url,
        "DAIYUN_MIGRATION_DATABASE_URL": database.owner_url,
        "DAIYUN_BROKER_URL": f"sqla+sqlite:///{workdir / 'broker.sqlite'}",
        # The same keys as this process, which seeds encrypted shop credentials.
        "DAIYUN_SECRET_KEY": settings.secret_key,
        "DAIYUN_ENCRYPTION_KEYS": settings.encryption_keys,
        "DAIYUN_BASE_URL": f"http://127.0.0.1:{port}",
        "DAIYUN_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **(extra_env or {}),
    }
    log = workdir / f"api-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "daiyun.cli", "api", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the app exited early:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not answer in time:\n{server.output()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
