"""Connector work: process webhook deliveries, run pull syncs, and the beat that schedules both.

Webhook deliveries reach the ``webhooks`` queue through a relay, not from the request that stored
them: every worker consuming that queue runs :class:`DeliveryRelay`, a thread that every
:data:`RELAY_SECONDS` publishes each tenant's stored deliveries not yet queued and marks them
``queued``. Beat's schedule re-queues any delivery still not applied after
``DAIYUN_WEBHOOK_SWEEP_SECONDS`` (a message lost by the broker, a relay that died between
publishing and marking). A delivery sent twice is harmless: ``process`` applies it once.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import structlog
from celery import bootsteps
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from daiyun.connectors import repository, sync, webhooks
from daiyun.connectors import service as shop_service
from daiyun.connectors.errors import ConnectorError
from daiyun.connectors.models import ShopStatus
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.tasks import (
    celery_app,
    enqueue_after_commit,
    parse_tenant,
    platform_task,
    tenant_task,
)
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


# How often a webhooks worker's relay looks for deliveries to queue (seconds), and how many it
# publishes per tenant and transaction.
RELAY_SECONDS = 0.5
RELAY_BATCH = 200
# After a failed pass (database or broker down) the relay waits longer, up to this.
RELAY_MAX_BACKOFF_SECONDS = 15.0

SCHEDULE = {"sync-schedule": {"task": "daiyun.sync.schedule", "schedule": 30.0}}


def relay_deliveries(tenant_id: uuid.UUID) -> int:
    """Publish the tenant's stored deliveries not queued yet (up to :data:`RELAY_BATCH`) and
    mark them ``queued``; returns how many. A publish that fails stops the batch: what was
    published is marked, the rest waits for the next pass, and the error is raised."""
    failure: Exception | None = None
    with unit_of_work(tenant_id) as session:
        published: list[uuid.UUID] = []
        for delivery_id in repository.deliveries_to_queue(session, RELAY_BATCH):
            try:
                process_delivery.delay(str(tenant_id), str(delivery_id))
            except Exception as exc:
                failure = exc
                break
            published.append(delivery_id)
        repository.mark_queued(session, published)
    if failure is not None:
        raise failure
    return len(published)


def relay_all() -> int:
    """One relay pass over every tenant; returns how many deliveries were queued."""
    with unit_of_work() as session:
        tenants = list(session.scalars(select(Tenant.id)))
    queued = 0
    for tenant_id in tenants:
        while True:
            sent = relay_deliveries(tenant_id)
            queued += sent
            if sent < RELAY_BATCH:
                break
    return queued


class RelayThread:
    """Runs :func:`relay_all` every :data:`RELAY_SECONDS` until stopped."""

    def __init__(self, interval: float = RELAY_SECONDS) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="webhook-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.is_set():
            try:
                queued = relay_all()
            except Exception:
                log.exception("webhook relay pass failed", retry_in=wait)
                wait = min(RELAY_MAX_BACKOFF_SECONDS, max(wait, self.interval) * 2)
            else:
                if queued:
                    log.debug("webhook deliveries queued", count=queued)
                wait = self.interval
            self._stop.wait(wait)


class DeliveryRelay(bootsteps.StartStopStep):
    """Worker component: the relay thread, in every worker that consumes the webhooks queue
    (in the worker's main process; pool processes only run tasks)."""

    label = "webhook relay"

    def include_if(self, parent: Any) -> bool:
        return "webhooks" in parent.app.amqp.queues.consume_from

    def create(self, parent: Any) -> RelayThread:
        return RelayThread()


celery_app.steps["worker"].add(DeliveryRelay)


@celery_app.task(name="daiyun.sync.run", queue="sync")
def run_sync(tenant_id: str, run_id: str) -> str:
    """Carry out a planned sync run; it commits page by page, so it opens its own units."""
    tenant = parse_tenant(tenant_id)
    structlog.contextvars.bind_contextvars(task="daiyun.sync.run", tenant_id=str(tenant))
    return sync.execute(tenant, uuid.UUID(run_id))


@platform_task("daiyun.sync.schedule")
def schedule(session: Session) -> dict[str, int]:
    """Every tenant: plan pulls for shops due, pick up stalled runs, re-queue stuck deliveries.

    A suspended or offboarded tenant is skipped whole (no pull, no call out). For the others,
    deliveries held while a shop was paused or the tenant suspended are handed back to the
    relay: this is how a tenant made active again gets its stored pushes applied.
    """
    settings = get_settings()
    now = utcnow()
    due_before = now - timedelta(seconds=settings.sync_interval_seconds)
    stalled_before = now - timedelta(seconds=settings.sync_lease_seconds)
    stuck_before = now - timedelta(seconds=settings.webhook_sweep_seconds)
    counts = {"planned": 0, "resumed": 0, "requeued": 0, "released": 0}
    for tenant_id in list(session.scalars(select(Tenant.id))):
        tenant = str(tenant_id)
        with unit_of_work(tenant_id) as tenant_session:
            if shop_service.dormant_tenant(tenant_session, tenant_id) is not None:
                continue
            counts["released"] += repository.release_held(tenant_session)
            for shop in repository.due_shops(tenant_session, due_before):
                try:
                    run = sync.plan(tenant_session, shop, "schedule")
                except Problem:
                    continue  # a run is alive or the window is empty: next time
                enqueue_after_commit(tenant_session, run_sync, tenant, str(run.id))
                counts["planned"] += 1
            for run in repository.stalled_runs(tenant_session, stalled_before):
                run.heartbeat_at = now  # one pick-up per lease, not one per beat
                enqueue_after_commit(tenant_session, run_sync, tenant, str(run.id))
                counts["resumed"] += 1
            for delivery_id in repository.unprocessed_deliveries(tenant_session, stuck_before):
                enqueue_after_commit(tenant_session, process_delivery, tenant, str(delivery_id))
                counts["requeued"] += 1
    return counts


@tenant_task(
    "daiyun.connectors.refetch",
    queue="webhooks",
    autoretry_for=(ConnectorError, OperationalError),
    retry_backoff=True,
    max_retries=6,
)
def refetch_orders(session: Session, shop_id: str, external_ids: list[str]) -> int:
    """Read orders a push named from the marketplace and apply them. A shop paused meanwhile,
    or a tenant suspended, calls nothing: the hint is dropped, the pull after resuming reads
    those orders anyway (a push is a hint; the pull is the source of truth)."""
    shop = shop_service.get(session, uuid.UUID(shop_id))
    if shop.status != ShopStatus.active or shop_service.dormant_tenant(session, shop.tenant_id):
        return 0
    return len(webhooks.refetch(session, shop, external_ids))
