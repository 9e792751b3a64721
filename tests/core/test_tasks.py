"""Tenant work through a real broker and worker (SECURITY.md item 15, ARCHITECTURE.md rule 3).

A task for tenant A sees only A's rows and finds nothing by B's ids; a task without a tenant id is
refused before its body runs; consecutive tasks on one worker carry no leftover tenant.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from celery.worker import WorkController
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.core.events import tasks as event_tasks  # noqa: F401  (registers deliver)
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import emit
from daiyun.core.tasks import (
    QUEUES,
    celery_app,
    enqueue_after_commit,
    platform_task,
    tenant_task,
)
from daiyun.core.tenancy import TenantContextMissing, current_tenant
from daiyun.tenants import tasks as tenant_tasks  # noqa: F401  (registers the relay)
from tests.core.tasks_fixtures import new_tenant_id, result_of, running_worker, wait_for

# Bodies that ran, by marker: the worker runs in this process, so the test can look.
BODY_RAN: list[str] = []


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _where_am_i(session: Session) -> dict[str, Any]:
    """What a task body can observe about the context it was given."""
    postgres = _is_postgres(session)
    setting = (
        session.scalar(text("select current_setting('app.tenant_id', true)")) if postgres else None
    )
    tenant = current_tenant(session)
    return {
        "postgres": postgres,
        "tenant": str(tenant) if tenant else None,
        "pg_setting": setting or None,
        "log_context": {k: str(v) for k, v in structlog.contextvars.get_contextvars().items()},
        "thread": threading.get_ident(),
    }


@tenant_task("tests.tasks.read_outbox", ignore_result=False)
def read_outbox(session: Session, event_id: str) -> dict[str, Any]:
    events = list(session.scalars(select(OutboxEvent)))
    by_id = session.scalar(select(OutboxEvent).where(OutboxEvent.id == uuid.UUID(event_id)))
    # Beneath the ORM guard: on PostgreSQL row security alone limits a raw read.
    raw = None
    if _is_postgres(session):
        raw = sorted({str(t) for t in session.scalars(text("select tenant_id from outbox_events"))})
    return {
        "ids": sorted(str(e.id) for e in events),
        "tenants": sorted({str(e.tenant_id) for e in events}),
        "by_id": str(by_id.id) if by_id else None,
        "raw_tenants": raw,
    }


@tenant_task("tests.tasks.record", queue="sync", ignore_result=False)
def record(session: Session, marker: str) -> str:
    BODY_RAN.append(marker)
    return marker


@tenant_task("tests.tasks.whoami", queue="webhooks", ignore_result=False)
def whoami(session: Session) -> dict[str, Any]:
    session.scalars(select(OutboxEvent).limit(1)).all()
    return _where_am_i(session)


@tenant_task("tests.tasks.find_event", queue="sync")
def find_event(session: Session, event_id: str) -> None:
    found = session.get(OutboxEvent, (current_tenant(session), uuid.UUID(event_id)))
    BODY_RAN.append(f"{event_id}:{'found' if found else 'missing'}")


@celery_app.task(name="tests.tasks.bare_probe", queue="billing", ignore_result=False)
def bare_probe() -> dict[str, Any]:
    """A plain task: sees whatever the previous task on this thread left behind."""
    return {
        "log_context": {k: str(v) for k, v in structlog.contextvars.get_contextvars().items()},
        "thread": threading.get_ident(),
    }


@platform_task("tests.tasks.platform_probe", ignore_result=False)
def platform_probe(session: Session) -> dict[str, Any]:
    seen = _where_am_i(session)
    try:
        session.scalars(select(OutboxEvent)).all()
        seen["guard"] = None
    except TenantContextMissing:
        seen["guard"] = "TenantContextMissing"
    if _is_postgres(session):
        # Row security with no tenant bound: a raw read of a tenant table returns nothing.
        seen["raw_rows"] = session.scalar(text("select count(*) from outbox_events"))
    return seen


@pytest.fixture(scope="module")
def worker(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkController]:
    with running_worker(engine, tmp_path_factory.mktemp("celery")) as worker:
        yield worker


@pytest.fixture
def tenants(worker: WorkController) -> tuple[uuid.UUID, uuid.UUID]:
    return new_tenant_id(), new_tenant_id()


def _emit(tenant: uuid.UUID, count: int) -> list[str]:
    with db.unit_of_work(tenant) as session:
        return [str(emit(session, "test.noop", {"n": n}).id) for n in range(count)]


def test_worker_consumes_every_queue(worker: WorkController) -> None:
    consumed = {queue.name for queue in worker.consumer.task_consumer.queues}
    assert consumed == set(QUEUES)
    assert {read_outbox.queue, record.queue, whoami.queue, bare_probe.queue} == set(QUEUES)


def test_task_for_a_sees_only_a(tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    a, b = tenants
    a_ids, b_ids = _emit(a, 2), _emit(b, 1)

    seen = result_of(read_outbox.delay(str(a), a_ids[0]))
    assert set(a_ids) <= set(seen["ids"])
    assert not set(b_ids) & set(seen["ids"])
    assert seen["tenants"] == [str(a)]
    assert seen["by_id"] == a_ids[0]
    if seen["raw_tenants"] is not None:  # PostgreSQL
        assert seen["raw_tenants"] == [str(a)]

    # Given B's object id, A's task finds nothing.
    assert result_of(read_outbox.delay(str(a), b_ids[0]))["by_id"] is None
    # And B's own task does find it (the id is real).
    assert result_of(read_outbox.delay(str(b), b_ids[0]))["by_id"] == b_ids[0]


@pytest.mark.parametrize("tenant", [None, "", "not-a-tenant", 42])
def test_task_without_tenant_is_refused(worker: WorkController, tenant: object) -> None:
    marker = uuid.uuid4().hex
    outcome = record.apply_async(args=[tenant, marker])
    outcome.get(timeout=30, interval=0.05, propagate=False)
    assert outcome.state == "FAILURE"
    assert type(outcome.result).__name__ == "TenantRequired"
    assert marker not in BODY_RAN


def test_task_with_tenant_runs_its_body(tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    """The control for the refusal test: the same task with a tenant does run."""
    marker = uuid.uuid4().hex
    assert result_of(record.delay(str(tenants[0]), marker)) == marker
    assert marker in BODY_RAN


def test_task_without_any_arguments_is_refused_at_the_caller(worker: WorkController) -> None:
    with pytest.raises(TypeError):
        record.delay()


def test_consecutive_tasks_carry_no_leftover_tenant(tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    a, b = tenants
    on_a = result_of(whoami.delay(str(a)))
    on_b = result_of(whoami.delay(str(b)))
    bare = result_of(bare_probe.delay())
    platform = result_of(platform_probe.delay())

    # One worker thread ran all four, one after another.
    assert on_a["thread"] == on_b["thread"] == bare["thread"] == platform["thread"]

    assert on_a["tenant"] == str(a)
    assert on_a["log_context"]["tenant_id"] == str(a)
    assert on_b["tenant"] == str(b)
    assert on_b["log_context"]["tenant_id"] == str(b)
    if on_a["postgres"]:
        # The transaction-local setting row security reads.
        assert (on_a["pg_setting"], on_b["pg_setting"]) == (str(a), str(b))

    # Nothing of B's task survives it: no log context, no bound tenant, no database setting.
    assert bare["log_context"] == {}
    assert platform["tenant"] is None
    assert platform["pg_setting"] is None
    assert platform["log_context"] == {}
    assert platform["guard"] == "TenantContextMissing"
    if platform["postgres"]:
        assert platform["raw_rows"] == 0


def test_tasks_are_acknowledged_late() -> None:
    """A worker that dies mid-task leaves the message to be redelivered (tasks are idempotent)."""
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    celery_app.finalize()
    ours = [t for name, t in celery_app.tasks.items() if not name.startswith("celery.")]
    assert {"daiyun.events.relay", "daiyun.events.deliver", "tests.tasks.record"} <= {
        t.name for t in ours
    }
    assert all(t.acks_late for t in ours), [t.name for t in ours if not t.acks_late]


def test_work_enqueued_with_a_change_leaves_after_its_commit(
    tenants: tuple[uuid.UUID, uuid.UUID],
) -> None:
    """The task is sent once the unit of work commits, so it finds the row it was sent for."""
    tenant = tenants[0]
    with db.unit_of_work(tenant) as session:
        event = emit(session, "test.noop", {})
        session.flush()
        enqueue_after_commit(session, find_event, str(tenant), str(event.id))
        assert not any(m.startswith(str(event.id)) for m in BODY_RAN)  # not before the commit
    wait_for(lambda: f"{event.id}:found" in BODY_RAN, "the task sent after commit")


def test_work_enqueued_with_a_change_that_rolls_back_is_never_sent(
    tenants: tuple[uuid.UUID, uuid.UUID],
) -> None:
    tenant = tenants[0]
    dropped, control = uuid.uuid4().hex, uuid.uuid4().hex
    with pytest.raises(RuntimeError), db.unit_of_work(tenant) as session:
        enqueue_after_commit(session, record, str(tenant), dropped)
        raise RuntimeError("the change fails")
    with db.unit_of_work(tenant) as session:
        enqueue_after_commit(session, record, str(tenant), control)
    # One queue, one worker thread: once the later task has run, the earlier one would have too.
    wait_for(lambda: control in BODY_RAN, "the control task")
    assert dropped not in BODY_RAN
