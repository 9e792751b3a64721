"""The outbox end to end through a real broker and worker (ARCHITECTURE.md rule 3).

An event exists if and only if the change that emitted it committed; the relay publishes it; each
handler runs once per event, however often ``deliver`` is redelivered, and a handler that fails
mid-way leaves nothing behind and runs again.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.worker import WorkController
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.core.events.service import REDELIVER_AFTER, emit, subscribe
from daiyun.core.events.tasks import deliver
from daiyun.core.ids import utcnow
from daiyun.core.tasks import celery_app
from daiyun.core.tenancy import current_tenant
from daiyun.tenants.tasks import relay
from tests.core.tasks_fixtures import new_tenant_id, result_of, running_worker, wait_for

PING, FLAKY, PONG = "test.ping", "test.flaky", "test.pong"

# Handler attempts by event id (the worker runs in this process).
ATTEMPTS: Counter[str] = Counter()


class Crash(RuntimeError):
    """A handler failing after it has written something."""


@subscribe(PING)
def answer_ping(session: Session, event: OutboxEvent) -> None:
    ATTEMPTS[str(event.id)] += 1
    emit(session, PONG, {"ping": str(event.id), "tenant": str(current_tenant(session))})


@subscribe(FLAKY)
def answer_flaky(session: Session, event: OutboxEvent) -> None:
    ATTEMPTS[str(event.id)] += 1
    emit(session, PONG, {"ping": str(event.id), "tenant": str(current_tenant(session))})
    if ATTEMPTS[str(event.id)] == 1:
        raise Crash("the first attempt dies after writing its side effect")


@pytest.fixture(scope="module")
def worker(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkController]:
    with running_worker(engine, tmp_path_factory.mktemp("celery")) as worker:
        yield worker


@pytest.fixture
def tenants(worker: WorkController) -> tuple[uuid.UUID, uuid.UUID]:
    return new_tenant_id(), new_tenant_id()


def _emit(tenant: uuid.UUID, topic: str) -> uuid.UUID:
    with db.unit_of_work(tenant) as session:
        return emit(session, topic, {"sent": True}).id


def _event(tenant: uuid.UUID, event_id: uuid.UUID) -> OutboxEvent | None:
    with db.unit_of_work(tenant) as session:
        return session.scalar(select(OutboxEvent).where(OutboxEvent.id == event_id))


def _marks(tenant: uuid.UUID, event_id: uuid.UUID) -> list[str]:
    with db.unit_of_work(tenant) as session:
        stmt = select(HandledEvent.handler).where(HandledEvent.event_id == event_id)
        return list(session.scalars(stmt))


def _pongs(tenant: uuid.UUID, event_id: uuid.UUID) -> list[dict[str, Any]]:
    """The handler's side effects for one event, as the tenant sees them."""
    with db.unit_of_work(tenant) as session:
        pongs = session.scalars(select(OutboxEvent).where(OutboxEvent.topic == PONG))
        return [
            {**p.payload, "tenant_id": str(p.tenant_id)}
            for p in pongs
            if p.payload.get("ping") == str(event_id)
        ]


def _deliver(tenant: object, event_id: object) -> Any:
    """Deliver through the broker and wait for the worker's answer."""
    return result_of(deliver.apply_async(args=[tenant, str(event_id)], ignore_result=False))


def _relay() -> int:
    sent: int = result_of(relay.apply_async(ignore_result=False))
    return sent


def test_event_is_relayed_and_handled_exactly_once(tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    a, b = tenants
    event_id = _emit(a, PING)
    pending = _event(a, event_id)
    assert pending is not None and pending.published_at is None

    relay.delay()
    wait_for(lambda: _marks(a, event_id), "the handler's mark")
    handler = f"{answer_ping.__module__}.{answer_ping.__qualname__}"
    assert _marks(a, event_id) == [handler]
    published = _event(a, event_id)
    assert published is not None and published.published_at is not None
    assert _pongs(a, event_id) == [{"ping": str(event_id), "tenant": str(a), "tenant_id": str(a)}]
    assert _pongs(b, event_id) == []

    # The same event delivered again (a redelivered message): nothing runs twice.
    assert _deliver(str(a), event_id) == []
    # Relaying again does not send it again either (it is published).
    _relay()
    assert _deliver(str(a), event_id) == []
    assert _marks(a, event_id) == [handler]
    assert len(_pongs(a, event_id)) == 1
    assert ATTEMPTS[str(event_id)] == 1


def test_deliver_for_another_tenant_finds_nothing(tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    a, b = tenants
    event_id = _emit(a, PING)
    # B's deliver, given A's event id, runs nothing and writes nothing into either tenant.
    assert _deliver(str(b), event_id) == []
    assert _marks(a, event_id) == []
    assert _marks(b, event_id) == []
    assert _pongs(a, event_id) == _pongs(b, event_id) == []
    assert ATTEMPTS[str(event_id)] == 0
    # A's own deliver handles it.
    assert _deliver(str(a), event_id) == [f"{answer_ping.__module__}.{answer_ping.__qualname__}"]
    assert len(_pongs(a, event_id)) == 1


def test_event_of_a_rolled_back_change_never_exists(tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    a, _ = tenants
    with pytest.raises(Crash), db.unit_of_work(a) as session:
        event_id = emit(session, PING, {"sent": True}).id
        raise Crash("the change fails after emitting")
    assert _event(a, event_id) is None

    # A committed event alongside, so the relay demonstrably ran and delivered.
    control = _emit(a, PING)
    _relay()
    wait_for(lambda: _marks(a, control), "the control event's mark")
    assert _deliver(str(a), event_id) == []
    assert _event(a, event_id) is None
    assert _marks(a, event_id) == []
    assert _pongs(a, event_id) == []
    assert ATTEMPTS[str(event_id)] == 0


def test_handler_crash_leaves_nothing_and_runs_again(tenants: tuple[uuid.UUID, uuid.UUID]) -> None:
    """A deliver that dies mid-way rolls back its side effect; the retry runs the handler once."""
    a, _ = tenants
    event_id = _emit(a, FLAKY)
    relay.delay()
    wait_for(lambda: _marks(a, event_id), "the retried handler's mark")
    assert ATTEMPTS[str(event_id)] == 2
    assert len(_pongs(a, event_id)) == 1
    assert _marks(a, event_id) == [f"{answer_flaky.__module__}.{answer_flaky.__qualname__}"]
    assert _deliver(str(a), event_id) == []
    assert ATTEMPTS[str(event_id)] == 2


@pytest.mark.parametrize("tenant", [None, "", "not-a-tenant"])
def test_deliver_without_tenant_is_refused_not_retried(
    worker: WorkController, tenant: object
) -> None:
    """A refusal is final: retrying it could never succeed."""
    outcome = deliver.apply_async(args=[tenant, str(uuid.uuid4())], ignore_result=False)
    outcome.get(timeout=30, interval=0.05, propagate=False)
    assert outcome.state == "FAILURE"
    assert type(outcome.result).__name__ == "TenantRequired"


def test_outbox_tasks_survive_a_worker_crash() -> None:
    """Acknowledged only after the work (a crash redelivers), one message at a time."""
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.worker_prefetch_multiplier == 1
    for task in (deliver, relay):
        assert task.acks_late is True, task.name
        assert task.reject_on_worker_lost is True, task.name


def test_published_but_never_delivered_event_is_published_again(
    tenants: tuple[uuid.UUID, uuid.UUID],
) -> None:
    """A message lost with a killed worker (the embedded broker does not redeliver it) is sent
    again by the relay once it is older than the redelivery window, and handled once."""
    a, _ = tenants
    event_id = _emit(a, PING)
    with db.unit_of_work(a) as session:
        lost = session.scalar(select(OutboxEvent).where(OutboxEvent.id == event_id))
        assert lost is not None
        lost.published_at = utcnow() - REDELIVER_AFTER - timedelta(seconds=1)
    relay.delay()
    wait_for(lambda: _marks(a, event_id), "the handler's mark")
    delivered = _event(a, event_id)
    assert delivered is not None and delivered.delivered_at is not None
    # Delivered now: further relays leave it alone.
    _relay()
    assert len(_pongs(a, event_id)) == 1
    assert ATTEMPTS[str(event_id)] == 1
