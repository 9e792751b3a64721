"""A real broker and a real worker for task tests (no eager Celery).

The broker is the embedded kombu SQLAlchemy transport on a SQLite file in a temporary directory,
or ``DAIYUN_TEST_BROKER_URL`` when set (CI: ``redis://127.0.0.1:6379/15``). On a shared Redis,
every test process gets its own key prefix, so parallel runs (``pytest -n``) never take each
other's messages. The worker runs in this process, in a thread, on the solo pool: every task runs
one after another on the same thread, which is what the "no leftover tenant" test needs.

A worker on its own connection cannot see the uncommitted outer transaction of the usual
``connection`` fixture, so these tests commit: the application is pointed at the test engine and
tenants get unique slugs. Test modules declare their own fixtures with these helpers.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from celery.contrib.testing.worker import TestWorkController, start_worker
from celery.worker import WorkController
from kombu.transport.sqlalchemy import Transport as SqlaTransport
from sqlalchemy.engine import Engine

from daiyun.core import db
from daiyun.core.tasks import QUEUES
from daiyun.tenants import service as tenant_service
from daiyun.tenants.schemas import TenantCreate
from daiyun.tenants.tasks import relay
from daiyun.worker import celery_app

BROKER_ENV = "DAIYUN_TEST_BROKER_URL"
WAIT_SECONDS = 30.0

T = TypeVar("T")

_SETTINGS = (
    "broker_url",
    "result_backend",
    "broker_transport_options",
    "result_backend_transport_options",
    "worker_hijack_root_logger",
)


class BoundedTestWorker(TestWorkController):
    """A test worker whose start is awaited for a bounded time (a worker dying at start-up,
    on a bad broker option say, would otherwise leave the test session waiting forever)."""

    __test__ = False

    def ensure_started(self) -> None:
        if not self._on_started.wait(WAIT_SECONDS):
            raise RuntimeError("the test worker did not start: see its log above")


def _drop_cached_connections() -> None:
    """Forget pooled broker connections and the result backend, so new settings take effect."""
    pool = celery_app._pool
    if pool is not None:
        pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


def _purge_redis(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def celery_broker(tmp: Path) -> Iterator[str]:
    """Point ``celery_app`` at the test broker and a result backend; restore afterwards."""
    saved = {name: celery_app.conf[name] for name in _SETTINGS}
    redis_url = os.environ.get(BROKER_ENV)
    prefix = f"daiyun-test-{os.getpid()}-{uuid.uuid4().hex[:8]}:"
    if redis_url:
        broker, backend = redis_url, redis_url
        options = {**(saved["broker_transport_options"] or {}), "global_keyprefix": prefix}
        result_options = {
            **(saved["result_backend_transport_options"] or {}),
            "global_keyprefix": prefix,
        }
    else:
        broker = f"sqla+sqlite:///{tmp / 'broker.sqlite'}"
        backend = f"db+sqlite:///{tmp / 'results.sqlite'}"
        # No polling_interval here: the SQL transport hands its options to create_engine().
        options = {
            key: value
            for key, value in (saved["broker_transport_options"] or {}).items()
            if key != "polling_interval"
        }
        result_options = dict(saved["result_backend_transport_options"] or {})
    # Poll the SQLite broker more often than production does (tests wait on every task); the
    # transport reads this class attribute when no polling_interval option is given.
    polling = SqlaTransport.polling_interval
    SqlaTransport.polling_interval = 0.05
    _drop_cached_connections()
    celery_app.conf.update(
        broker_url=broker,
        result_backend=backend,
        broker_transport_options=options,
        result_backend_transport_options=result_options,
        # Leave pytest's logging handlers alone.
        worker_hijack_root_logger=False,
    )
    try:
        yield broker
    finally:
        _drop_cached_connections()
        celery_app.conf.update(saved)
        SqlaTransport.polling_interval = polling
        if redis_url:
            _purge_redis(redis_url, prefix)


@contextmanager
def committed_database(engine: Engine) -> Iterator[Engine]:
    """Sessions on the test engine itself (not the rolled-back outer transaction)."""
    db.configure(engine)
    try:
        yield engine
    finally:
        # The same state the ``connection`` fixture leaves behind.
        db.configure(engine)


@contextmanager
def running_worker(engine: Engine, tmp: Path) -> Iterator[WorkController]:
    """Committed data, the test broker and one solo-pool worker consuming every queue."""
    with (
        committed_database(engine),
        celery_broker(tmp),
        start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            queues=list(QUEUES),
            shutdown_timeout=WAIT_SECONDS,
            WorkController=BoundedTestWorker,
        ) as worker,
    ):
        yield worker
        # Publish whatever these tests left pending (events of tests that stopped half-way,
        # handlers' own events), so no other test's relay in this database meets them.
        relay.apply_async(ignore_result=False).get(timeout=WAIT_SECONDS, interval=0.05)


def new_tenant_id() -> uuid.UUID:
    """A committed tenant with a unique slug, created through the tenants service."""
    slug = f"task-{uuid.uuid4().hex[:12]}"
    with db.unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name=slug.title(), legal_name=f"{slug} Ltd")
        )
        return tenant.id


def wait_for(check: Callable[[], T], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last value {value!r})")
        time.sleep(0.05)


def result_of(async_result: Any, timeout: float = WAIT_SECONDS) -> Any:
    """The value of a task run by the worker (raises its error)."""
    return async_result.get(timeout=timeout, interval=0.05)
