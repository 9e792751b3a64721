"""The outbox relay: publish every tenant's pending events to the broker; and the sweep of
expired sign-in failures."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.events import service
from daiyun.core.events.tasks import deliver
from daiyun.core.tasks import platform_task
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.models import Tenant

BATCH = 500

SCHEDULE = {
    "outbox-relay": {
        "task": "daiyun.events.relay",
        "schedule": get_settings().outbox_relay_seconds,
    },
    # Failures older than the window no longer count; sign-in prunes the keys it touches, this
    # sweeps the rest (addresses that never came back) so the table stays small.
    "prune-login-failures": {
        "task": "daiyun.auth.prune_login_failures",
        "schedule": float(get_settings().login_window_seconds),
    },
}


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


@platform_task("daiyun.auth.prune_login_failures")
def prune_login_failures(session: Session) -> int:
    """Delete sign-in failures that have left the throttling window."""
    return auth_service.prune_login_failures(session)
