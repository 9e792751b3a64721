"""The merchant's shop stock sync (库存同步): for each listing, the quantity the shop should
show, the one last sent and when, and the marketplace's refusal when a push failed, so an
overselling risk is seen before a buyer finds it. Staff who manage stock send a shop's
quantities again from here.

Reads and writes through the functions the ``/stock-sync`` API uses.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core.errors import Problem
from daiyun.platform.warehouse import stock_sync
from daiyun.platform.warehouse.sync_schemas import StockSyncStatus
from daiyun.portal.navigation import STOCK_PAGES, tabs
from daiyun.portal.views.console import _back, _staff_only
from daiyun.portal.views.merchant.common import (
    N_,
    list_cursor,
    shop_names,
    tenant_base,
    url,
    values,
)
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
_permission = STOCK_PAGES["sync"].permission
assert _permission is not None
ReadPage = Annotated[Page, Depends(tenant_page(_permission))]
WorkForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.warehouse_manage))]

PAGE_SIZE = 50
ALL = "all"  # the filter's "every state", kept in links so it is not taken for a first visit
STATUS_LABELS = {
    StockSyncStatus.failed: N_("Failed"),
    StockSyncStatus.pending: N_("Waiting to be sent"),
    StockSyncStatus.synced: N_("In step"),
}


@router.get("/t/{tenant}/stock/sync")
def sync_page(request: Request, page: ReadPage) -> Response:
    """Each listing's stock sync, filtered by shop and state (failed ones are the default view
    when there are any)."""
    assert page.tenant is not None and page.role is not None
    params = request.query_params
    shops = shop_names(page.db)
    shop = next((s for s in shops if str(s) == params.get("shop")), None)
    raw = params.get("status")
    if raw is None:  # first visit: the failures if there are any, else everything
        failing, _ = stock_sync.find_listings(page.db, status=StockSyncStatus.failed, limit=1)
        raw = StockSyncStatus.failed.value if failing else ALL
    status = StockSyncStatus(raw) if raw in set(StockSyncStatus) else None
    rows, next_cursor = stock_sync.find_listings(
        page.db, shop_id=shop, status=status, cursor=list_cursor(request), limit=PAGE_SIZE
    )
    query = {"shop": str(shop) if shop else None, "status": status.value if status else ALL}
    here = url(f"{tenant_base(page)}/stock/sync", query)
    return render(
        request,
        "merchant/stock_sync.html",
        values(
            page,
            tabs=tabs("stock", page.tenant.slug, page.role, request.url.path),
            tabs_label=N_("Stock"),
            rows=rows,
            shops=shops,
            shop=shop,
            status=status.value if status else ALL,
            status_labels_sync=STATUS_LABELS,
            can_resync=page.is_staff and page.can(P.warehouse_manage),
            here=here,
            error=params.get("error", ""),
            notice=params.get("notice", ""),
            listings=params.get("listings", ""),
            next_url=url(f"{tenant_base(page)}/stock/sync", {**query, "cursor": next_cursor})
            if next_cursor
            else None,
        ),
        page=page,
    )


@router.post("/t/{tenant}/stock/sync/resync")
def resync(submitted: WorkForm) -> Response:
    """Send every listing of one shop its quantity again (queued for the shop's push)."""
    page, form = submitted
    _staff_only(page)
    here = f"{tenant_base(page)}/stock/sync"
    try:
        shop_id = uuid.UUID(str(form.get("shop_id") or ""))
    except ValueError:
        return _back(form, here, error="bad-form")
    try:
        with page.db.begin_nested():
            done = stock_sync.resync(page.db, shop_id)
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here, notice="resync-queued", listings=done.listings)
