"""Pushing listings to their marketplace: what is pending on one shop, batched as the connector
allows, through the shop's shared rate limit, each batch's outcome committed on its own.

A push claims the listings it sends (their next attempt moves a lease ahead), so a second push
of the same shop running at once leaves them alone. A listing changed while its push was on the
wire keeps its newer version pending and is sent again. A push that cannot get through marks its
listings failed with the marketplace's error (shortened, secrets masked, as a shop's last error)
and their next attempt backed off; one the marketplace refused is not retried until a person
asks. Like a pull, a push makes no call for a shop that is not active or a tenant suspended or
offboarded: its listings stay pending until the shop resumes.
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
from daiyun.connectors.channels.base import Connector
from daiyun.connectors.channels.outbound import (
    LISTINGS,
    CapabilityMissing,
    ListingPush,
    ListingResult,
    chunks,
)
from daiyun.connectors.errors import ConnectorError, ReauthorizationNeeded, for_display
from daiyun.connectors.http import ShopHttp
from daiyun.connectors.sync import SYNCABLE
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.storefront.listing_rules import (
    ListingState,
    PushAction,
    SyncStatus,
    action_for,
    next_attempt,
)
from daiyun.platform.storefront.listings import due
from daiyun.platform.storefront.models import Listing
from daiyun.platform.storefront.repository import skus_by_id

log = structlog.get_logger()

# A push sends at most this many listings of a shop; the rest wait for the next push (queued
# at its end). Claimed listings are left alone by other pushes for the lease.
MAX_PER_PUSH = 10_000
CLAIM_LEASE = timedelta(minutes=10)
# Requests per marketplace call before a push gives up on it (5xx and 429, each waited out).
PUSH_ATTEMPTS = 4

HttpFactory = Callable[[str], ShopHttp]


@dataclass
class PushReport:
    sent: int = 0
    synced: int = 0
    failed: int = 0
    rejected: int = 0
    calls: int = 0
    halted: str | None = None
    more: bool = False
    errors: list[str] = field(default_factory=list)


def halt_reason(session: Session, shop_id: uuid.UUID) -> str | None:
    """Why no call may be made to the shop now (as a pull would be refused), or None."""
    shop = shop_service.get(session, shop_id)
    if shop.status not in SYNCABLE:
        return f"The shop is {shop.status.value}"
    dormant = shop_service.dormant_tenant(session, shop.tenant_id)
    return f"The tenant is {dormant.value}" if dormant is not None else None


def _push_of(listing: Listing, sku_code: str) -> ListingPush:
    action = action_for(listing.state, listing.pushed.get("state"))
    assert action is not None
    return ListingPush(
        key=str(listing.id),
        action=action.value,
        sku_code=sku_code,
        title=listing.title,
        currency=listing.currency,
        list_price_minor=listing.list_price_minor,
        sale_price_minor=listing.sale_price_minor,
        product_id=listing.external_product_id,
        sku_id=listing.external_sku_id,
        inventory_item_id=listing.external_inventory_item_id,
    )


def _claim(
    tenant_id: uuid.UUID, shop_id: uuid.UUID, now: datetime, limit: int
) -> tuple[str | None, str, list[ListingPush], dict[str, int], bool]:
    """Read and claim what is due on the shop: (halt reason, channel, pushes, versions, more)."""
    with unit_of_work(tenant_id) as session:
        halt = halt_reason(session, shop_id)
        if halt is not None:
            return halt, "", [], {}, False
        channel = shop_service.get(session, shop_id).channel
        rows = due(session, shop_id, now, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        codes = {s.id: s.code for s in skus_by_id(session, {r.sku_id for r in rows}).values()}
        pushes: list[ListingPush] = []
        versions: dict[str, int] = {}
        claimed: list[uuid.UUID] = []
        for listing in rows:
            if action_for(listing.state, listing.pushed.get("state")) is None:
                listing.sync_status = listing.next_attempt_at = None
                continue
            claimed.append(listing.id)
            pushes.append(_push_of(listing, codes[listing.sku_id]))
            versions[str(listing.id)] = listing.version
        # One UPDATE per thousand rather than one per listing: a push may claim ten thousand.
        for first in range(0, len(claimed), 1000):
            session.execute(
                update(Listing)
                .where(Listing.id.in_(claimed[first : first + 1000]))
                .values(next_attempt_at=now + CLAIM_LEASE)
                .execution_options(synchronize_session=False)
            )
        return None, channel, pushes, versions, more


def push_shop(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    *,
    now: datetime | None = None,
    http_factory: HttpFactory | None = None,
    limit: int = MAX_PER_PUSH,
) -> PushReport:
    """Send the shop's due listings to its marketplace. Owns its transactions (one per batch)."""
    now = now or utcnow()
    report = PushReport()
    halt, channel, pushes, versions, report.more = _claim(tenant_id, shop_id, now, limit)
    if halt is not None:
        report.halted = halt
        return report
    if not pushes:
        return report
    connector_cls = connector_for(channel)
    if LISTINGS not in connector_cls.outbound:
        missing = CapabilityMissing(f"{channel} has no listing API ({LISTINGS})")
        _record_failure(tenant_id, shop_id, pushes, versions, str(missing), now, final=True)
        report.failed = len(pushes)
        return report
    with unit_of_work(tenant_id) as session:
        access = shop_service.access(shop_service.get(session, shop_id))
    make_http = http_factory or (lambda key: ShopHttp(key, max_attempts=PUSH_ATTEMPTS))
    # The shop's key as a pull uses it: pushes and pulls of one shop share its rate bucket.
    with make_http(str(shop_id)) as http:
        connector = connector_cls(access, http)
        batches = chunks(pushes, connector_cls.listing_batch_size)
        for index, batch in enumerate(batches):
            report.sent += len(batch)
            try:
                results = connector.push_listings(batch)
            except ConnectorError as exc:
                final = isinstance(exc, ReauthorizationNeeded | CapabilityMissing)
                _record_failure(tenant_id, shop_id, batch, versions, str(exc), now, final=final)
                report.failed += len(batch)
                report.errors.append(str(exc))
                # The rest were claimed but not sent: they are due again at once.
                _release(tenant_id, [p for b in batches[index + 1 :] for p in b])
                break
            finally:
                report.calls = http.calls
            halt = _record_results(tenant_id, shop_id, results, versions, now, connector, report)
            if halt is not None:
                report.halted = halt
                _release(tenant_id, [p for b in batches[index + 1 :] for p in b])
                break
    log.info(
        "listings pushed",
        shop_id=str(shop_id),
        sent=report.sent,
        synced=report.synced,
        failed=report.failed,
        calls=report.calls,
    )
    return report


def _record_results(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    results: Sequence[ListingResult],
    versions: dict[str, int],
    now: datetime,
    connector: Connector,
    report: PushReport,
) -> str | None:
    """Store one batch's outcome; returns why the push must stop before the next batch."""
    with unit_of_work(tenant_id) as session:
        rows = _listings(session, [r.key for r in results])
        shop = shop_service.get(session, shop_id)
        secrets = shop_service.secrets_of(shop)
        for result in results:
            listing = rows.get(result.key)
            if listing is None:
                continue
            if result.ok:
                _synced(listing, result, versions[result.key], now)
                report.synced += 1
            else:
                _rejected(listing, for_display(result.error or "refused", secrets), now)
                report.rejected += 1
        if connector.refreshed_credentials:
            shop_service.store_refreshed(session, shop, connector.refreshed_credentials)
            connector.refreshed_credentials = None
        return halt_reason(session, shop_id)


def _listings(session: Session, keys: Sequence[str]) -> dict[str, Listing]:
    ids = [uuid.UUID(k) for k in keys]
    rows = session.scalars(select(Listing).where(Listing.id.in_(ids)).with_for_update())
    return {str(row.id): row for row in rows}


def _synced(listing: Listing, result: ListingResult, version: int, now: datetime) -> None:
    action = action_for(listing.state, listing.pushed.get("state"))
    # Ids are the marketplace's once it answered them: kept from the first publish on.
    listing.external_product_id = listing.external_product_id or result.product_id
    listing.external_sku_id = listing.external_sku_id or result.sku_id
    listing.external_inventory_item_id = (
        listing.external_inventory_item_id or result.inventory_item_id
    )
    sent_state = ListingState.unlisted if action is PushAction.unlist else ListingState.published
    if listing.version == version and listing.state is ListingState.in_review:
        listing.state = ListingState.published
    if sent_state is ListingState.published and listing.published_at is None:
        listing.published_at = now
    listing.pushed = {
        "state": sent_state.value,
        "list_price_minor": listing.list_price_minor,
        "sale_price_minor": listing.sale_price_minor,
        "title": listing.title,
        "version": version,
        "at": now.isoformat(),
    }
    listing.pushed_version = version
    listing.synced_at = now
    listing.sync_error = None
    listing.sync_attempts = 0
    if listing.version == version:
        listing.sync_status, listing.next_attempt_at = SyncStatus.synced, None
    else:
        # Changed while on the wire: the newer version is due at once.
        listing.sync_status, listing.next_attempt_at = SyncStatus.pending, None


def _rejected(listing: Listing, error: str, now: datetime) -> None:
    if listing.state is ListingState.in_review:
        listing.state = ListingState.rejected
    listing.sync_status = SyncStatus.failed
    listing.sync_error = error
    listing.sync_attempts += 1
    listing.next_attempt_at = None  # refused as it is: a person changes it and retries


def _record_failure(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    pushes: Sequence[ListingPush],
    versions: dict[str, int],
    error: str,
    now: datetime,
    *,
    final: bool,
) -> None:
    with unit_of_work(tenant_id) as session:
        shop = shop_service.get(session, shop_id)
        shown = for_display(error, shop_service.secrets_of(shop))
        log.warning("listing push failed", shop_id=str(shop_id), error=shown)
        for listing in _listings(session, [p.key for p in pushes]).values():
            listing.sync_attempts += 1
            listing.sync_error = shown
            if listing.version != versions.get(str(listing.id)) and not final:
                # Changed while on the wire: the newer version is due at once.
                listing.sync_status, listing.next_attempt_at = SyncStatus.pending, None
                continue
            listing.sync_status = SyncStatus.failed
            listing.next_attempt_at = None if final else next_attempt(listing.sync_attempts, now)


def _release(tenant_id: uuid.UUID, pushes: Sequence[ListingPush]) -> None:
    if not pushes:
        return
    with unit_of_work(tenant_id) as session:
        for listing in _listings(session, [p.key for p in pushes]).values():
            pending = listing.sync_status is SyncStatus.pending
            listing.next_attempt_at = None if pending else utcnow()
