"""Pull sync: windowed, incremental, resumable, and committed page by page.

A run covers ``[window_start, window_end)`` in windows no wider than the channel allows. Each
page is ingested and committed with the run's counters; when a window is done the run's
``resume_from`` and the shop's cursor move to its end. A run picked up again after a crash starts
at ``resume_from``, and pages re-read from an unfinished window change nothing (the order book
dedupes on the source's update time), so none is lost and none doubled.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from daiyun.connectors import repository
from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.base import Connector
from daiyun.connectors.errors import ConnectorError, ReauthorizationNeeded, for_display
from daiyun.connectors.http import ShopHttp
from daiyun.connectors.models import Shop, ShopStatus, SyncRun
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.service import Outcome

log = structlog.get_logger()
SYNCABLE = frozenset({ShopStatus.active})


def plan(
    session: Session,
    shop: Shop,
    trigger: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SyncRun:
    """Record a queued run for a shop; refuses while another run of the shop is alive, and for
    a shop not active or a tenant suspended or offboarded."""
    if shop.status not in SYNCABLE:
        raise Problem(409, "shop-not-active", f"The shop is {shop.status.value}")
    dormant = shop_service.dormant_tenant(session, shop.tenant_id)
    if dormant is not None:
        raise Problem(409, f"tenant-{dormant.value}", f"The tenant is {dormant.value}: no sync")
    settings = get_settings()
    active = repository.active_run(session, shop.id)
    lease = timedelta(seconds=settings.sync_lease_seconds)
    if active is not None and active.heartbeat_at > utcnow() - lease:
        raise Problem(409, "sync-running", "A sync of this shop is already running")
    connector = connector_for(shop.channel)
    now = utcnow()
    end = min(until or now, now - connector.lag)
    if since is not None:
        start = since
    elif shop.sync_cursor is not None:
        start = shop.sync_cursor - connector.overlap
    else:
        start = now - timedelta(days=settings.sync_initial_days)
    start = max(start, now - connector.history)
    if start >= end:
        raise Problem(422, "empty-window", "Nothing to pull: the window is empty")
    run = SyncRun(
        shop_id=shop.id, trigger=trigger, window_start=start, window_end=end, resume_from=start
    )
    session.add(run)
    shop.last_sync_at = now
    session.flush()
    return run


class Halted(Exception):
    """The shop was paused or its tenant suspended while a run was under way."""


def _halt_reason(session: Session, shop: Shop) -> str | None:
    """Why a run must not call the marketplace now, or None."""
    if shop.status not in SYNCABLE:
        return f"The shop is {shop.status.value}"
    dormant = shop_service.dormant_tenant(session, shop.tenant_id)
    return f"The tenant is {dormant.value}" if dormant is not None else None


def execute(tenant_id: uuid.UUID, run_id: uuid.UUID) -> str:
    """Carry a run out (or on, after a crash). Owns its transactions: one per page.

    A run whose shop is paused or whose tenant is suspended by the time it starts, or between
    two pages, stops there as ``cancelled`` (what was committed stays; no further call is made).
    """
    with unit_of_work(tenant_id) as session:
        run = repository.run(session, run_id, lock=True)
        if run is None or run.status not in repository.ACTIVE_RUN:
            return run.status if run else "missing"
        shop = shop_service.get(session, run.shop_id)
        halt = _halt_reason(session, shop)
        if halt is not None:
            run.status, run.error, run.finished_at = "cancelled", halt, utcnow()
            return "cancelled"
        run.status = "running"
        run.heartbeat_at = utcnow()
        shop_id, channel = shop.id, shop.channel
        access = shop_service.access(shop)
        start, end = run.resume_from, run.window_end
    connector_cls = connector_for(channel)
    connector: Connector | None = None
    try:
        with ShopHttp(str(shop_id)) as http:
            connector = connector_cls(access, http)
            while start < end:
                window_end = min(start + connector_cls.max_window, end)
                token: str | None = None
                while True:
                    page = connector.fetch_page(start, window_end, token)
                    with unit_of_work(tenant_id) as session:
                        results = order_service.ingest(session, shop_id, channel, page.orders)
                        _count(session, run_id, results, http.calls)
                        halt = _halt_reason(session, shop_service.get(session, shop_id))
                    if halt is not None:
                        raise Halted(halt)
                    token = page.next_token
                    if token is None:
                        break
                with unit_of_work(tenant_id) as session:
                    _advance(session, run_id, shop_id, window_end)
                    _keep_tokens(session, shop_id, connector)
                start = window_end
    except Halted as exc:
        with unit_of_work(tenant_id) as session:
            _keep_tokens(session, shop_id, connector)
            run = repository.run(session, run_id, lock=True)
            assert run is not None
            run.status, run.error, run.finished_at = "cancelled", str(exc), utcnow()
        return "cancelled"
    except ReauthorizationNeeded as exc:
        _fail(tenant_id, run_id, shop_id, str(exc), connector, reauthorize=True)
        return "failed"
    except ConnectorError as exc:
        # Tokens refreshed before the failure are still the shop's current ones.
        with unit_of_work(tenant_id) as session:
            _keep_tokens(session, shop_id, connector)
        _fail(tenant_id, run_id, shop_id, str(exc), connector)
        return "failed"
    with unit_of_work(tenant_id) as session:
        run = repository.run(session, run_id, lock=True)
        shop = shop_service.get(session, shop_id, lock=True)
        assert run is not None
        run.status = "succeeded"
        run.finished_at = shop.last_success_at = utcnow()
        shop.consecutive_failures = 0
        shop.last_error = None
    return "succeeded"


def _keep_tokens(session: Session, shop_id: uuid.UUID, connector: Connector | None) -> None:
    if connector is not None and connector.refreshed_credentials:
        shop = shop_service.get(session, shop_id, lock=True)
        shop_service.store_refreshed(session, shop, connector.refreshed_credentials)
        connector.refreshed_credentials = None


def _count(
    session: Session, run_id: uuid.UUID, results: Sequence[tuple[Outcome, object]], calls: int
) -> None:
    run = repository.run(session, run_id, lock=True)
    assert run is not None
    run.pages += 1
    run.requests = calls
    run.heartbeat_at = utcnow()
    for outcome, _ in results:
        if outcome == Outcome.created:
            run.orders_created += 1
        elif outcome == Outcome.updated:
            run.orders_updated += 1
        else:
            run.orders_unchanged += 1


def _advance(session: Session, run_id: uuid.UUID, shop_id: uuid.UUID, to: datetime) -> None:
    run = repository.run(session, run_id, lock=True)
    shop = shop_service.get(session, shop_id, lock=True)
    assert run is not None
    run.resume_from = to
    run.heartbeat_at = utcnow()
    # A backfill of old windows never moves the cursor backwards.
    if shop.sync_cursor is None or to > shop.sync_cursor:
        shop.sync_cursor = to


def _fail(
    tenant_id: uuid.UUID,
    run_id: uuid.UUID,
    shop_id: uuid.UUID,
    error: str,
    connector: Connector | None,
    *,
    reauthorize: bool = False,
) -> None:
    with unit_of_work(tenant_id) as session:
        run = repository.run(session, run_id, lock=True)
        shop = shop_service.get(session, shop_id, lock=True)
        assert run is not None
        # Staff read this on the shop's page: never a secret, never more than an excerpt of
        # what the far end answered (tokens renewed during the run are secrets too).
        refreshed = (connector.refreshed_credentials or {}) if connector is not None else {}
        shown = for_display(error, [*shop_service.secrets_of(shop), *refreshed.values()])
        log.warning("sync failed", run_id=str(run_id), error=shown)
        run.status = "failed"
        run.error = shown
        run.finished_at = shop.last_error_at = utcnow()
        shop.last_error = shown
        shop.consecutive_failures += 1
        if reauthorize:
            shop.status = ShopStatus.reauthorization_needed
