"""Connector work: process webhook deliveries, run pull syncs, and the beat that schedules both."""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from daiyun.connectors import repository, sync, webhooks
from daiyun.connectors import service as shop_service
from daiyun.connectors.errors import ConnectorError
from daiyun.platform.config import get_settings
from daiyun.platform.db import unit_of_work, utcnow
from daiyun.platform.errors import Problem
from daiyun.platform.tasks import celery_app, parse_tenant, platform_task, tenant_task
from daiyun.tenants.models import Tenant

log = structlog.get_logger()


@tenant_task(
    "daiyun.webhooks.process",
    queue="webhooks",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=8,
)
def process_delivery(session: Session, delivery_id: str) -> str | None:
    """Apply one stored webhook delivery to the order book (a no-op once processed)."""
    status = webhooks.process(session, uuid.UUID(delivery_id))
    return status.value if status else None


@celery_app.task(name="daiyun.sync.run", queue="sync")
def run_sync(tenant_id: str, run_id: str) -> str:
    """Carry out a planned sync run; it commits page by page, so it opens its own units."""
    tenant = parse_tenant(tenant_id)
    structlog.contextvars.bind_contextvars(task="daiyun.sync.run", tenant_id=str(tenant))
    return sync.execute(tenant, uuid.UUID(run_id))


@platform_task("daiyun.sync.schedule")
def schedule(session: Session) -> dict[str, int]:
    """Every tenant: plan pulls for shops due, pick up stalled runs, re-queue stuck deliveries."""
    settings = get_settings()
    now = utcnow()
    due_before = now - timedelta(seconds=settings.sync_interval_seconds)
    stalled_before = now - timedelta(seconds=settings.sync_lease_seconds)
    stuck_before = now - timedelta(seconds=settings.webhook_sweep_seconds)
    counts = {"planned": 0, "resumed": 0, "requeued": 0}
    for tenant_id in list(session.scalars(select(Tenant.id))):
        runs: list[uuid.UUID] = []
        with unit_of_work(tenant_id) as tenant_session:
            for shop in repository.due_shops(tenant_session, due_before):
                try:
                    runs.append(sync.plan(tenant_session, shop, "schedule").id)
                    counts["planned"] += 1
                except Problem:
                    continue  # a run is alive or the window is empty: next time
            for run in repository.stalled_runs(tenant_session, stalled_before):
                run.heartbeat_at = now  # one pick-up per lease, not one per beat
                runs.append(run.id)
                counts["resumed"] += 1
            stuck = repository.unprocessed_deliveries(tenant_session, stuck_before)
        for run_id in runs:
            run_sync.delay(str(tenant_id), str(run_id))
        for delivery_id in stuck:
            process_delivery.delay(str(tenant_id), str(delivery_id))
        counts["requeued"] += len(stuck)
    return counts


@tenant_task(
    "daiyun.connectors.refetch",
    queue="webhooks",
    autoretry_for=(ConnectorError, OperationalError),
    retry_backoff=True,
    max_retries=6,
)
def refetch_orders(session: Session, shop_id: str, external_ids: list[str]) -> int:
    """Read orders a push named from the marketplace and apply them."""
    shop = shop_service.get(session, uuid.UUID(shop_id))
    return len(webhooks.refetch(session, shop, external_ids))
