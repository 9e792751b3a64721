"""Catalog work across the staff member's merchants (店铺/商品): each merchant's catalog at a
glance (SKUs on sale, this month's portfolio by quadrant), then what needs a person: order lines
that match no SKU, listings whose last push failed, and prices under the margin floor. Read in
one unit of work per tenant where the user's role there grants ``catalog:read``, through the
services the catalog's API uses; each list shows the first few of each merchant, with its count.

A merchant whose catalog cannot be read (its tenant refuses, say) shows no figures rather than
failing the page, as the other console pages do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.platform.storefront import listings, matching, portfolio, service
from daiyun.platform.storefront.listing_rules import SyncStatus
from daiyun.platform.storefront.listing_schemas import ListingRead
from daiyun.platform.storefront.portfolio import Quadrant
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
# Rows each list shows per merchant; the merchant's own pages list them all.
PER_MERCHANT = 10
# Listings read per merchant to find prices under the floor (the listings API has no filter
# for them): enough for the demo's and a mid-size merchant's, and the page says when it stopped.
FLOOR_SCAN = 1000


@dataclass(frozen=True)
class MerchantCatalog:
    """One merchant's catalog this month (its own calendar)."""

    tenant: TenantView
    period: str
    currency: str
    skus: int  # SKUs in the portfolio: on sale, or sold in the last seven months
    not_in_catalog: int  # codes sold that no catalog SKU has
    counts: dict[Quadrant, int]
    gmv_minor: int


@dataclass(frozen=True)
class UnmatchedRow:
    tenant: TenantView
    shop_name: str
    marketplace_sku: str
    example_title: str
    lines: int
    orders: int
    last_ordered_at: datetime


@dataclass(frozen=True)
class ListingRow:
    tenant: TenantView
    shop_name: str
    code: str
    title: str
    detail: str  # the marketplace's error, or the floor's verdict
    attempts: int
    when: datetime | None


@dataclass
class CatalogWork:
    merchants: list[MerchantCatalog] = field(default_factory=list)
    unmatched: list[UnmatchedRow] = field(default_factory=list)
    failed_syncs: list[ListingRow] = field(default_factory=list)
    floor_warnings: list[ListingRow] = field(default_factory=list)
    # Merchants whose catalog could not be read, and those with more than a list shows.
    unread: list[TenantView] = field(default_factory=list)
    more: set[tuple[str, str]] = field(default_factory=set)  # (list, tenant slug)
    scan_stopped: list[TenantView] = field(default_factory=list)


def catalog_work(accesses: list[Access], user_id: uuid.UUID) -> CatalogWork:
    """The catalog summary of every merchant where the user's role reads the catalog, by name."""
    work = CatalogWork()
    for access in with_permission(accesses, P.catalog_read):
        zone = ZoneInfo(access.tenant.time_zone)
        month = portfolio.month_of(datetime.now(UTC).astimezone(zone).date())
        with tenant_unit(access.tenant.id, user_id) as session:
            found = quietly(partial(portfolio.analyse, session, month))
            if found is not None:
                quietly(partial(_lists, session, access.tenant, work))
            session.rollback()
        if found is None:
            work.unread.append(access.tenant)
            continue
        work.merchants.append(
            MerchantCatalog(
                tenant=access.tenant,
                period=found.period,
                currency=found.currency,
                skus=len(found.skus),
                not_in_catalog=sum(1 for row in found.skus if not row.in_catalog),
                counts=found.counts,
                gmv_minor=found.gmv_minor,
            )
        )
    work.merchants.sort(key=lambda m: m.tenant.display_name.lower())
    work.unmatched.sort(key=lambda r: r.last_ordered_at, reverse=True)
    return work


def _lists(session: Session, tenant: TenantView, work: CatalogWork) -> None:
    """One merchant's unmatched lines, failed syncs and prices under the floor."""
    shops = {shop.id: shop.name for shop in shop_service.shops(session)}
    lines, more = matching.unmatched_lines(session, limit=PER_MERCHANT)
    if more:
        work.more.add(("unmatched", tenant.slug))
    for line in lines:
        work.unmatched.append(
            UnmatchedRow(
                tenant,
                shops.get(line.shop_id, str(line.shop_id)),
                line.marketplace_sku,
                line.example_title,
                line.lines,
                line.orders,
                line.last_ordered_at,
            )
        )
    failed, more = listings.find(session, sync_status=SyncStatus.failed, limit=PER_MERCHANT)
    if more:
        work.more.add(("failed", tenant.slug))
    codes: dict[uuid.UUID, str] = {}

    def row(listing: ListingRead, detail: str, when: datetime | None) -> ListingRow:
        if listing.sku_id not in codes:
            codes[listing.sku_id] = service.get_sku(session, listing.sku_id).code
        return ListingRow(
            tenant,
            shops.get(listing.shop_id, str(listing.shop_id)),
            codes[listing.sku_id],
            listing.title,
            detail,
            listing.sync_attempts,
            when,
        )

    work.failed_syncs += [row(f, f.sync_error or "", f.next_attempt_at) for f in failed]
    flagged: list[ListingRead] = []
    cursor, read = None, 0
    while read < FLOOR_SCAN:
        page, cursor = listings.find(session, cursor=cursor, limit=200)
        read += len(page)
        flagged += [listing for listing in page if listing.floor_flag]
        if cursor is None:
            break
    if cursor is not None:
        work.scan_stopped.append(tenant)
    if len(flagged) > PER_MERCHANT:
        work.more.add(("floor", tenant.slug))
    work.floor_warnings += [
        row(f, f.floor_flag or "", f.updated_at) for f in flagged[:PER_MERCHANT]
    ]
