"""Run the handlers of one outbox event (the relay that publishes them walks every tenant, so it
lives with the tenants: :mod:`daiyun.tenants.tasks`)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from daiyun.core.events import service
from daiyun.core.tasks import tenant_task


@tenant_task("daiyun.events.deliver", autoretry_for=(Exception,), retry_backoff=True, max_retries=8)
def deliver(session: Session, event_id: str) -> list[str]:
    """Run the handlers of one event (a no-op for handlers that already ran)."""
    return service.handle(session, uuid.UUID(event_id))
