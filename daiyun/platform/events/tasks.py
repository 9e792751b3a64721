"""Relay outbox events to Celery and run their handlers."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.platform.db import unit_of_work
from daiyun.platform.events import service
from daiyun.platform.tasks import platform_task, tenant_task
from daiyun.tenants.models import Tenant

BATCH = 500


@tenant_task("daiyun.events.deliver", autoretry_for=(Exception,), retry_backoff=True, max_retries=8)
def deliver(session: Session, event_id: str) -> list[str]:
    """Run the handlers of one event (a no-op for handlers that already ran)."""
    return service.handle(session, uuid.UUID(event_id))


@platform_task("daiyun.events.relay")
def relay(session: Session) -> int:
    """Publish every tenant's pending events. An event is marked published only after the
    broker accepted it; if marking fails it is sent again, which ``deliver`` tolerates."""
    sent = 0
    for tenant_id in session.scalars(select(Tenant.id)):
        while True:
            with unit_of_work(tenant_id) as tenant_session:
                events = service.pending(tenant_session, BATCH)
                for event in events:
                    deliver.delay(str(tenant_id), str(event.id))
                service.mark_published(events)
            sent += len(events)
            if len(events) < BATCH:
                break
    return sent
