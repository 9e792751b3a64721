"""Emitting domain events into the outbox, and subscribing handlers to them.

``emit`` adds the event to the caller's transaction, so the event exists if and only if the
change does. The relay task publishes pending events to Celery; ``deliver`` runs each subscribed
handler once per event (a redelivery finds the handler's mark and skips it).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.core.ids import new_id, utcnow

Handler = Callable[[Session, OutboxEvent], None]
_handlers: dict[str, list[tuple[str, Handler]]] = defaultdict(list)


def emit(session: Session, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """Record a domain event in the current tenant's outbox, in the current transaction."""
    # The id is set here rather than at flush, so a bulk import emits without a flush per event.
    event = OutboxEvent(id=new_id(), topic=topic, payload=payload)
    session.add(event)
    return event


def pending_event(
    tenant_id: uuid.UUID, topic: str, payload: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """An outbox row for :func:`emit_many`; its id is taken now, so ids keep the events' order."""
    return {
        "tenant_id": tenant_id,
        "id": new_id(),
        "topic": topic,
        "payload": payload,
        "created_at": at,
        "published_at": None,
        "delivered_at": None,
    }


def emit_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Record many events at once (rows from :func:`pending_event`), in the current transaction.

    One executemany, outside the ORM: each row carries its tenant explicitly (PostgreSQL's
    row-level security checks it).
    """
    if rows:
        session.execute(insert(OutboxEvent), list(rows))


def subscribe(topic: str) -> Callable[[Handler], Handler]:
    """Register ``handler(session, event)`` for a topic; its qualified name marks it handled."""

    def register(handler: Handler) -> Handler:
        name = f"{handler.__module__}.{handler.__qualname__}"
        if all(existing != name for existing, _ in _handlers[topic]):
            _handlers[topic].append((name, handler))
        return handler

    return register


# A published event not delivered after this long is published again: some brokers (the
# embedded SQL transport) lose a message whose worker was killed before acknowledging it.
REDELIVER_AFTER = timedelta(minutes=5)


def pending(session: Session, limit: int) -> list[OutboxEvent]:
    """The bound tenant's events never published, or published long ago and not delivered."""
    stale = utcnow() - REDELIVER_AFTER
    stmt = (
        select(OutboxEvent)
        .where(
            OutboxEvent.delivered_at.is_(None),
            or_(OutboxEvent.published_at.is_(None), OutboxEvent.published_at < stale),
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def mark_published(events: list[OutboxEvent]) -> None:
    now = utcnow()
    for event in events:
        event.published_at = now


def handle(session: Session, event_id: uuid.UUID) -> list[str]:
    """Run every handler of the event that has not run yet; returns the names that ran."""
    # Not ``session.get``: the key is (tenant_id, id); the ORM guard adds the bound tenant.
    event = session.scalar(select(OutboxEvent).where(OutboxEvent.id == event_id))
    if event is None:
        return []
    done = set(
        session.scalars(select(HandledEvent.handler).where(HandledEvent.event_id == event.id))
    )
    ran = []
    for name, handler in _handlers.get(event.topic, []):
        if name in done:
            continue
        handler(session, event)
        session.add(HandledEvent(event_id=event.id, handler=name))
        ran.append(name)
    event.delivered_at = event.delivered_at or utcnow()
    session.flush()
    return ran
