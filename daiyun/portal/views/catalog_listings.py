"""The merchant's listings (商品上架): each SKU on each shop, its state, prices and sync state,
the marketplace's error of a failed push shown in full. Read through the listings service the
``/listings`` API uses, with the same permission (``catalog:read``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from daiyun.connectors import service as shop_service
from daiyun.platform.storefront import listings, service
from daiyun.platform.storefront.listing_rules import ListingState, SyncStatus
from daiyun.portal.navigation import CATALOG_PAGES
from daiyun.portal.views.catalog import catalog_values
from daiyun.portal.views.merchant.common import N_, list_cursor, tenant_base, url, uuid_or_none
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_page

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
_permission = CATALOG_PAGES["listings"].permission
assert _permission is not None
ListingsPage = Annotated[Page, Depends(tenant_page(_permission))]

PAGE_SIZE = 50
LISTING_STATE_LABELS = {
    ListingState.draft: N_("Draft"),
    ListingState.in_review: N_("In review"),
    ListingState.published: N_("Published"),
    ListingState.rejected: N_("Rejected"),
    ListingState.unlisted: N_("Unlisted"),
}
SYNC_LABELS = {
    SyncStatus.pending: N_("Waiting to sync"),
    SyncStatus.synced: N_("Synced"),
    SyncStatus.failed: N_("Sync failed"),
}
LISTING_TONES = {
    "published": "good",
    "synced": "good",
    "in_review": "warn",
    "pending": "warn",
    "rejected": "bad",
    "failed": "bad",
}


@router.get("/t/{tenant}/listings")
def listings_page(request: Request, page: ListingsPage) -> Response:
    """Listings of one shop (or all), filtered by sync state: failures first to see."""
    params = request.query_params
    shops = sorted(shop_service.shops(page.db), key=lambda s: (s.channel, s.name.lower()))
    shop_id = uuid_or_none(params.get("shop") or "")
    shop = next((s for s in shops if s.id == shop_id), None)
    raw_sync = params.get("sync") or ""
    sync = SyncStatus(raw_sync) if raw_sync in SyncStatus.__members__ else None
    rows, next_cursor = listings.find(
        page.db,
        shop_id=shop.id if shop else None,
        sync_status=sync,
        cursor=list_cursor(request),
        limit=PAGE_SIZE,
    )
    codes = _codes(page, {row.sku_id for row in rows})
    query = {"shop": str(shop.id) if shop else None, "sync": sync.value if sync else None}
    base = tenant_base(page)
    failed, _ = listings.find(
        page.db, shop_id=shop.id if shop else None, sync_status=SyncStatus.failed, limit=PAGE_SIZE
    )
    return render(
        request,
        "merchant/listings.html",
        catalog_values(
            page,
            request.url.path,
            rows=rows,
            codes=codes,
            shops=shops,
            shop_names={s.id: s.name for s in shops},
            shop_channels={s.id: s.channel for s in shops},
            shop=shop,
            sync=sync,
            syncs=list(SyncStatus),
            failed_count=len(failed),
            listing_state_labels=LISTING_STATE_LABELS,
            sync_labels=SYNC_LABELS,
            listing_tones=LISTING_TONES,
            next_url=url(f"{base}/listings", {**query, "cursor": next_cursor})
            if next_cursor
            else None,
        ),
        page=page,
    )


def _codes(page: Page, sku_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The SKU code of each listed SKU (one read per SKU of the page, at most a page's)."""
    return {sku_id: service.get_sku(page.db, sku_id).code for sku_id in sku_ids}
