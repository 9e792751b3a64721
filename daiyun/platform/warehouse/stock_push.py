"""Pushing stock to a shop's marketplace (库存同步): what is pending on the shop, each listing's
quantity computed at the moment of the push, batched as the marketplace allows, through the
shop's shared rate limit, each batch's outcome committed on its own.

A push claims the listings it sends (their next attempt moves a lease ahead) and clears the
shop's queued push, so a change arriving meanwhile queues the next one. A listing whose
quantity is what the marketplace already holds is settled without a call (unless a full resync
forced it). A call that cannot get through (5xx or 429 after the client's bounded retries)
marks its listings failed with the error and their next attempt backed off; a refusal of one
listing is kept on it until a person asks again (a resync). Like the listing push, no call is
made for a shop that is not active or a tenant suspended: the listings stay pending.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.outbound import CapabilityMissing
from daiyun.connectors.channels.stock import StockPush, StockResult, set_stock, wire_for
from daiyun.connectors.errors import ConnectorError, ReauthorizationNeeded, for_display
from daiyun.connectors.http import ShopHttp
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.storefront import stock_targets
from daiyun.platform.storefront.listing_rules import next_attempt
from daiyun.platform.storefront.sync import halt_reason
from daiyun.platform.warehouse import sync_marks
from daiyun.platform.warehouse.models import StockSyncListing, StockSyncShop, StockSyncStatus

log = structlog.get_logger()

MAX_PER_PUSH = 10_000
CLAIM_LEASE = timedelta(minutes=10)
PUSH_ATTEMPTS = 4

HttpFactory = Callable[[str], ShopHttp]


@dataclass
class StockReport:
    sent: int = 0
    synced: int = 0
    unchanged: int = 0
    failed: int = 0
    rejected: int = 0
    calls: int = 0
    halted: str | None = None
    more: bool = False
    errors: list[str] = field(default_factory=list)


def due(session: Session, shop_id: uuid.UUID, now: datetime, limit: int) -> list[StockSyncListing]:
    """The shop's listings a push should send now: pending ones not claimed, failed ones whose
    next attempt has come."""
    stmt = (
        select(StockSyncListing)
        .where(
            StockSyncListing.shop_id == shop_id,
            (
                (StockSyncListing.status == StockSyncStatus.pending)
                & (
                    StockSyncListing.next_attempt_at.is_(None)
                    | (StockSyncListing.next_attempt_at <= now)
                )
            )
            | (
                (StockSyncListing.status == StockSyncStatus.failed)
                & (StockSyncListing.next_attempt_at <= now)
            ),
        )
        .order_by(StockSyncListing.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _claim(
    tenant_id: uuid.UUID, shop_id: uuid.UUID, now: datetime, limit: int
) -> tuple[str | None, str, list[StockPush], dict[str, int], bool, int]:
    """(halt, channel, pushes, versions, more, settled without a call)."""
    with unit_of_work(tenant_id) as session:
        halt = halt_reason(session, shop_id)
        if halt is not None:
            return halt, "", [], {}, False, 0
        channel = shop_service.get(session, shop_id).channel
        session.execute(
            update(StockSyncShop)
            .where(StockSyncShop.shop_id == shop_id)
            .values(push_due_at=None, last_push_at=now)
            .execution_options(synchronize_session=False)
        )
        rows = due(session, shop_id, now, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        found = {
            t.listing_id: t
            for t in stock_targets.targets(session, listing_ids={r.listing_id for r in rows})
        }
        wanted = sync_marks.desired_quantities(
            session, {(r.shop_id, r.sku_id) for r in rows if r.listing_id in found}
        )
        pushes: list[StockPush] = []
        versions: dict[str, int] = {}
        claimed: list[uuid.UUID] = []
        settled = 0
        for row in rows:
            target = found.get(row.listing_id)
            if target is None:
                # No longer on the marketplace (unlisted): nothing to set.
                row.status, row.next_attempt_at, row.pushed_version = (
                    StockSyncStatus.synced,
                    None,
                    row.version,
                )
                continue
            row.desired = wanted[(row.shop_id, row.sku_id)]
            if row.desired == row.pushed_quantity and not row.forced:
                row.status, row.next_attempt_at = StockSyncStatus.synced, None
                row.pushed_version, row.error = row.version, None
                settled += 1
                continue
            claimed.append(row.id)
            versions[str(row.id)] = row.version
            pushes.append(
                StockPush(
                    key=str(row.id),
                    sku_code=target.sku_code,
                    quantity=row.desired,
                    product_id=target.product_id,
                    sku_id=target.external_sku_id,
                    inventory_item_id=target.inventory_item_id,
                )
            )
        session.flush()
        for first in range(0, len(claimed), 1000):
            session.execute(
                update(StockSyncListing)
                .where(StockSyncListing.id.in_(claimed[first : first + 1000]))
                .values(next_attempt_at=now + CLAIM_LEASE)
                .execution_options(synchronize_session=False)
            )
        return None, channel, pushes, versions, more, settled


def push_shop(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    *,
    now: datetime | None = None,
    http_factory: HttpFactory | None = None,
    limit: int = MAX_PER_PUSH,
) -> StockReport:
    """Send the shop's due quantities to its marketplace. Owns its transactions."""
    now = now or utcnow()
    report = StockReport()
    halt, channel, pushes, versions, report.more, report.unchanged = _claim(
        tenant_id, shop_id, now, limit
    )
    if halt is not None:
        report.halted = halt
        return report
    if not pushes:
        return report
    try:
        wire = wire_for(channel)
    except CapabilityMissing as exc:
        _record_failure(tenant_id, shop_id, pushes, versions, str(exc), now, final=True)
        report.failed = len(pushes)
        return report
    with unit_of_work(tenant_id) as session:
        access = shop_service.access(shop_service.get(session, shop_id))
    make_http = http_factory or (lambda key: ShopHttp(key, max_attempts=PUSH_ATTEMPTS))
    # The shop's key as a pull uses it: pushes and pulls of one shop share its rate bucket.
    with make_http(str(shop_id)) as http:
        connector = connector_for(channel)(access, http)
        batches = [pushes[i : i + wire.batch] for i in range(0, len(pushes), wire.batch)]
        for index, batch in enumerate(batches):
            report.sent += len(batch)
            try:
                results = set_stock(connector, batch)
            except ConnectorError as exc:
                final = isinstance(exc, ReauthorizationNeeded)
                _record_failure(tenant_id, shop_id, batch, versions, str(exc), now, final=final)
                report.failed += len(batch)
                report.errors.append(str(exc))
                _release(tenant_id, [p for b in batches[index + 1 :] for p in b])
                break
            finally:
                report.calls = http.calls
            halt = _record_results(tenant_id, shop_id, results, batch, versions, now, report)
            if connector.refreshed_credentials:
                with unit_of_work(tenant_id) as session:
                    shop = shop_service.get(session, shop_id)
                    shop_service.store_refreshed(session, shop, connector.refreshed_credentials)
                connector.refreshed_credentials = None
            if halt is not None:
                report.halted = halt
                _release(tenant_id, [p for b in batches[index + 1 :] for p in b])
                break
    log.info(
        "stock pushed",
        shop_id=str(shop_id),
        sent=report.sent,
        synced=report.synced,
        failed=report.failed,
        calls=report.calls,
    )
    return report


def _rows(session: Session, keys: Sequence[str]) -> dict[str, StockSyncListing]:
    ids = [uuid.UUID(k) for k in keys]
    stmt = select(StockSyncListing).where(StockSyncListing.id.in_(ids)).with_for_update()
    return {str(row.id): row for row in session.scalars(stmt)}


def _settle(row: StockSyncListing, version: int) -> None:
    row.pushed_version = version
    row.forced = False
    # A change while on the wire: the newer quantity goes with the next push.
    if row.version == version:
        row.status, row.next_attempt_at = StockSyncStatus.synced, None
    else:
        row.status, row.next_attempt_at = StockSyncStatus.pending, None


def _record_results(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    results: Sequence[StockResult],
    batch: Sequence[StockPush],
    versions: dict[str, int],
    now: datetime,
    report: StockReport,
) -> str | None:
    """Store one batch's outcome; returns why the push must stop before the next batch."""
    sent = {p.key: p for p in batch}
    with unit_of_work(tenant_id) as session:
        rows = _rows(session, [r.key for r in results])
        secrets = shop_service.secrets_of(shop_service.get(session, shop_id))
        for result in results:
            row = rows.get(result.key)
            if row is None:
                continue
            if result.ok:
                row.pushed_quantity = sent[result.key].quantity
                row.pushed_at = now
                row.error = None
                row.attempts = 0
                _settle(row, versions[result.key])
                report.synced += 1
            else:
                row.status = StockSyncStatus.failed
                row.error = for_display(result.error or "refused", secrets)[:500]
                row.attempts += 1
                row.next_attempt_at = None  # refused as it is: a resync asks again
                report.rejected += 1
        return halt_reason(session, shop_id)


def _record_failure(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    pushes: Sequence[StockPush],
    versions: dict[str, int],
    error: str,
    now: datetime,
    *,
    final: bool,
) -> None:
    with unit_of_work(tenant_id) as session:
        shown = for_display(error, shop_service.secrets_of(shop_service.get(session, shop_id)))
        log.warning("stock push failed", shop_id=str(shop_id), error=shown)
        for row in _rows(session, [p.key for p in pushes]).values():
            row.attempts += 1
            row.error = shown[:500]
            row.status = StockSyncStatus.failed
            row.next_attempt_at = None if final else next_attempt(row.attempts, now)


def _release(tenant_id: uuid.UUID, pushes: Sequence[StockPush]) -> None:
    """Claimed but not sent: due again at once."""
    if not pushes:
        return
    with unit_of_work(tenant_id) as session:
        for row in _rows(session, [p.key for p in pushes]).values():
            row.next_attempt_at = None if row.status is StockSyncStatus.pending else utcnow()


def shops_with_due(session: Session, now: datetime) -> list[uuid.UUID]:
    """The bound tenant's shops with stock to push now whose push is not queued."""
    stmt = (
        select(StockSyncListing.shop_id)
        .where(
            (
                (StockSyncListing.status == StockSyncStatus.pending)
                & (
                    StockSyncListing.next_attempt_at.is_(None)
                    | (StockSyncListing.next_attempt_at <= now)
                )
            )
            | (
                (StockSyncListing.status == StockSyncStatus.failed)
                & (StockSyncListing.next_attempt_at <= now)
            )
        )
        .distinct()
    )
    return list(session.scalars(stmt))
