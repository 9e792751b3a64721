"""The merchant's stock pages (仓储): what is on hand, held for orders and sellable, per SKU and
warehouse with its batches; the ledger (库存流水) of a SKU; orders waiting for stock.

Each page asks for ``warehouse:read``, as the ``/stock`` API does, and reads the warehouse
through the functions that API uses. Filters are GET forms, so every view can be bookmarked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from daiyun.platform.orders import service as orders
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront.schemas import SkuRead
from daiyun.platform.warehouse import replenishment, reservations
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import AlertRead, MoveKind, MoveRead, StockRead
from daiyun.portal.navigation import STOCK_PAGES, tabs
from daiyun.portal.views.merchant.common import N_, list_cursor, tenant_base, url, values
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_page

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
_permission = STOCK_PAGES["stock"].permission
assert _permission is not None
StockPage = Annotated[Page, Depends(tenant_page(_permission))]

PAGE_SIZE = 50
MOVE_LABELS = {
    MoveKind.receipt: N_("Received"),
    MoveKind.reservation: N_("Reserved for an order"),
    MoveKind.release: N_("Released"),
    MoveKind.adjustment: N_("Adjusted"),
    MoveKind.transfer_out: N_("Transferred out"),
    MoveKind.transfer_in: N_("Transferred in"),
    MoveKind.transfer_difference: N_("Transfer difference"),
    MoveKind.pick: N_("Picked"),
    MoveKind.shipment: N_("Shipped"),
    MoveKind.return_: N_("Returned"),
}


def _values(page: Page, path: str, **more: object) -> dict[str, object]:
    assert page.tenant is not None and page.role is not None
    return values(
        page,
        tabs=tabs("stock", page.tenant.slug, page.role, path),
        tabs_label=N_("Stock"),
        move_labels=MOVE_LABELS,
        **more,
    )


def stock_tone(row: StockRead) -> str:
    """How a row reads at a glance: nothing left to sell is bad, at or under safety stock warns."""
    if row.sellable <= 0:
        return "bad"
    return "warn" if row.on_hand - row.reserved <= row.safety_stock else "good"


@router.get("/t/{tenant}/stock")
def stock(request: Request, page: StockPage) -> Response:
    """Each SKU (its code searched) in each warehouse: on hand, reserved, safety stock,
    sellable, and the batches and bins that make it up."""
    params = request.query_params
    q = (params.get("q") or "").strip()[:64] or None
    names = warehouse.warehouse_names(page.db)
    chosen = next((w for w in names if str(w) == params.get("warehouse")), None)
    rows, next_cursor = warehouse.find_stock(
        page.db,
        sku_id=None,
        warehouse_id=chosen,
        text=q,
        cursor=list_cursor(request),
        limit=PAGE_SIZE,
    )
    bins = warehouse.location_codes(page.db, {b.location_id for r in rows for b in r.batches})
    waiting, _ = reservations.find_exceptions(page.db, True, None, PAGE_SIZE)
    query = {"q": q, "warehouse": str(chosen) if chosen else None}
    return render(
        request,
        "merchant/stock.html",
        _values(
            page,
            request.url.path,
            rows=rows,
            q=q,
            names=names,
            chosen=chosen,
            bins=bins,
            tone=stock_tone,
            waiting=len(waiting),
            next_url=url(f"{tenant_base(page)}/stock", {**query, "cursor": next_cursor})
            if next_cursor
            else None,
        ),
        page=page,
    )


@router.get("/t/{tenant}/stock/ledger")
def ledger(request: Request, page: StockPage) -> Response:
    """The ledger of one SKU (by code), oldest first, filtered by kind: every receipt,
    reservation, shipment and adjustment with its reason, document and who made it."""
    params = request.query_params
    code = (params.get("sku") or "").strip()[:64]
    raw_kind = params.get("kind") or ""
    kind = MoveKind(raw_kind) if raw_kind in {k.value for k in MoveKind} else None
    sku = _sku_with_code(page.db, code) if code else None
    moves: list[MoveRead] = []
    totals: list[StockRead] = []
    next_cursor = None
    if sku is not None:
        rows, next_cursor = warehouse.find_moves(
            page.db,
            sku_id=sku.id,
            kind=kind,
            since=None,
            until=None,
            cursor=list_cursor(request),
            limit=PAGE_SIZE,
        )
        moves = [MoveRead.model_validate(r) for r in rows]
        totals, _ = warehouse.find_stock(
            page.db, sku_id=sku.id, warehouse_id=None, cursor=None, limit=1
        )
    query = {"sku": code or None, "kind": kind.value if kind else None}
    return render(
        request,
        "merchant/stock_ledger.html",
        _values(
            page,
            request.url.path,
            code=code,
            sku=sku,
            kind=kind,
            kinds=list(MoveKind),
            moves=moves,
            totals=totals,
            names=warehouse.warehouse_names(page.db),
            next_url=url(f"{tenant_base(page)}/stock/ledger", {**query, "cursor": next_cursor})
            if next_cursor
            else None,
        ),
        page=page,
    )


@router.get("/t/{tenant}/stock/exceptions")
def exceptions(request: Request, page: StockPage) -> Response:
    """Orders that could not be fully reserved (缺货), with the SKUs short and by how much; they
    leave the list when a receipt lets the order reserve or the order is cancelled."""
    show_all = request.query_params.get("all") == "1"
    rows, next_cursor = reservations.find_exceptions(
        page.db, not show_all, list_cursor(request), PAGE_SIZE
    )
    numbers = orders.order_numbers(page.db, (row.order_id for row in rows))
    query = {"all": "1" if show_all else None}
    return render(
        request,
        "merchant/stock_exceptions.html",
        _values(
            page,
            request.url.path,
            rows=rows,
            numbers=numbers,
            show_all=show_all,
            next_url=url(f"{tenant_base(page)}/stock/exceptions", {**query, "cursor": next_cursor})
            if next_cursor
            else None,
        ),
        page=page,
    )


@dataclass(frozen=True)
class _Row:
    alert: AlertRead
    warehouse: str


@router.get("/t/{tenant}/stock/alerts")
def alerts(request: Request, page: StockPage) -> Response:
    """Stock at or under its safety stock or minimum, batches expiring within 30 days or
    expired, and SKUs with stock and no sale in 60 days."""
    names = warehouse.warehouse_names(page.db)
    rows = [
        _Row(a, names.get(a.warehouse_id, str(a.warehouse_id)))
        for a in replenishment.alerts(page.db)
    ]
    return render(
        request, "merchant/stock_alerts.html", _values(page, request.url.path, rows=rows), page=page
    )


@router.get("/t/{tenant}/stock/replenishment")
def replenishment_page(request: Request, page: StockPage) -> Response:
    """Each SKU with a min/max rule: what is available and coming, sales per day, days of
    cover, and what to order."""
    names = warehouse.warehouse_names(page.db)
    rows = replenishment.suggestions(page.db, all_rules=True)
    return render(
        request,
        "merchant/stock_replenishment.html",
        _values(page, request.url.path, rows=rows, names=names),
        page=page,
    )


def _sku_with_code(db: Session, code: str) -> SkuRead | None:
    found, _ = catalog.find_skus(db, code=code, limit=1)
    return found[0] if found else None
