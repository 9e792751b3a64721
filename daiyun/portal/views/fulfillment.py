"""Fulfilment pages on a tenant: the merchant's parcels (发货) and the warehouse's pack station.

``/t/{tenant}/fulfillment`` lists the merchant's parcels by state with their open exceptions
(``warehouse:read``, a tab of the stock pages). The pack station (``/t/{tenant}/pack``, staff
only) works with a keyboard-wedge scanner: a parcel number typed or scanned opens the parcel,
then each barcode scanned into the focused input (the scanner ends it with Enter) is checked
against the parcel's lines; a wrong item or one too many is refused on the spot, shown in red
with a sound, and counted. Finishing records the weight. Exceptions are resolved from here too.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core.errors import Problem
from daiyun.platform.fulfillment import pack, service
from daiyun.platform.fulfillment.schemas import FoState, Resolution
from daiyun.platform.orders import service as orders
from daiyun.portal.navigation import tabs
from daiyun.portal.views.console import _back, _staff_only, _text
from daiyun.portal.views.merchant.common import N_, list_cursor, tenant_base, url, values
from daiyun.portal.views.shipping import CARRIER_LABELS
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
ReadPage = Annotated[Page, Depends(tenant_page(P.warehouse_read))]
WorkForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.warehouse_manage))]
PAGE_SIZE = 50

STATE_LABELS = {
    FoState.awaiting_stock: N_("Awaiting stock"),
    FoState.ready: N_("Ready"),
    FoState.in_wave: N_("In a wave"),
    FoState.picked: N_("Picked"),
    FoState.packed: N_("Packed"),
    FoState.shipped: N_("Shipped"),
    FoState.delivered: N_("Delivered"),
    FoState.exception: N_("Exception"),
    FoState.cancelled: N_("Cancelled"),
    FoState.merged: N_("Merged"),
}
KIND_LABELS = {
    "out_of_stock": N_("Out of stock"),
    "address_unserviceable": N_("Address not serviceable"),
    "intercepted": N_("Intercepted"),
    "deadline_near": N_("Shipping deadline near"),
}
ACTION_LABELS = {
    Resolution.retry: N_("Try again"),
    Resolution.cancel: N_("Give the parcel up"),
    Resolution.returned_to_shelf: N_("Goods back on their bins"),
    Resolution.acknowledge: N_("Seen"),
}
SCAN_NOTICES = {
    "ok": N_("Scanned."),
    "wrong-item": N_("Wrong item: it is not in this parcel."),
    "too-many": N_("Too many: every unit of this item is scanned already."),
}


@router.get("/t/{tenant}/fulfillment")
def parcels(request: Request, page: ReadPage) -> Response:
    """The merchant's parcels, by state, with the open exceptions."""
    assert page.tenant is not None and page.role is not None
    raw = request.query_params.get("state") or ""
    state = FoState(raw) if raw in {s.value for s in FoState} else None
    rows, next_cursor = service.find(
        page.db,
        state=state,
        warehouse_id=None,
        wave_id=None,
        order_id=None,
        cursor=list_cursor(request),
        limit=PAGE_SIZE,
    )
    problems, _ = service.find_exceptions(page.db, True, None, None, PAGE_SIZE)
    numbers = orders.order_numbers(page.db, {r.order_id for r in rows})
    base = tenant_base(page)
    return render(
        request,
        "merchant/fulfillment.html",
        values(
            page,
            tabs=tabs("stock", page.tenant.slug, page.role, request.url.path),
            tabs_label=N_("Stock"),
            rows=rows,
            state=state,
            states=STATE_LABELS,
            kinds=KIND_LABELS,
            problems=problems,
            numbers=numbers,
            next_url=url(f"{base}/fulfillment", {"state": raw or None, "cursor": next_cursor})
            if next_cursor
            else None,
        ),
        page=page,
    )


def _pack_url(page: Page, fo_id: uuid.UUID | None = None) -> str:
    here = f"{tenant_base(page)}/pack"
    return f"{here}?fo={fo_id}" if fo_id else here


@router.get("/t/{tenant}/pack")
def pack_station(request: Request, page: ReadPage) -> Response:
    """The pack station: open a picked parcel by its number, scan its items, weigh it."""
    _staff_only(page)
    params = request.query_params
    number = (params.get("number") or "").strip().upper()[:40]
    picked, _ = service.find(
        page.db,
        state=FoState.picked,
        warehouse_id=None,
        wave_id=None,
        order_id=None,
        cursor=None,
        limit=PAGE_SIZE,
    )
    packed, _ = service.find(
        page.db,
        state=FoState.packed,
        warehouse_id=None,
        wave_id=None,
        order_id=None,
        cursor=None,
        limit=PAGE_SIZE,
    )
    chosen = None
    wanted = params.get("fo") or next(
        (str(p.id) for p in [*picked, *packed] if p.number == number), ""
    )
    if wanted:
        try:
            chosen = service.read(page.db, service.get(page.db, uuid.UUID(wanted)))
        except (ValueError, Problem):
            chosen = None
    result = params.get("result") or ""
    problems = service.find_exceptions(page.db, True, None, None, 200)[0] if chosen is None else []
    return render(
        request,
        "console/pack.html",
        {
            "picked": picked,
            "packed": packed,
            "carriers": CARRIER_LABELS,
            "chosen": chosen,
            "number": number,
            "not_found": bool(number) and chosen is None,
            "result": result if result in SCAN_NOTICES else "",
            "notices": SCAN_NOTICES,
            "barcode": (params.get("barcode") or "")[:64],
            "error": params.get("error") or "",
            "can_pack": page.can(P.warehouse_manage),
            "here": _pack_url(page, chosen.id if chosen else None),
            "base": tenant_base(page),
            "states": STATE_LABELS,
            "kinds": KIND_LABELS,
            "actions": ACTION_LABELS,
            "problems": problems,
        },
        page=page,
    )


@router.post("/t/{tenant}/pack/{fo_id}/scan")
def scan(fo_id: uuid.UUID, submitted: WorkForm) -> Response:
    """One scanned barcode: back to the parcel with the verdict (a refusal is kept: counted)."""
    page, form = submitted
    _staff_only(page)
    here = _pack_url(page, fo_id)
    barcode = _text(form, "barcode", 64)
    if not barcode:
        return _back(form, here, error="bad-form")
    try:
        result = pack.scan(page.db, fo_id, barcode)
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    verdict = result.kind if isinstance(result, pack.Refusal) else "ok"
    return _back(form, here, result=verdict, barcode=barcode)


@router.post("/t/{tenant}/pack/{fo_id}/finish")
def finish(fo_id: uuid.UUID, submitted: WorkForm) -> Response:
    """Close the parcel with its weight in grams."""
    page, form = submitted
    _staff_only(page)
    here = _pack_url(page, fo_id)
    try:
        weight = int(_text(form, "weight", 7))
        if weight < 1:
            raise ValueError
        with page.db.begin_nested():
            pack.finish(page.db, fo_id, weight)
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, _pack_url(page), notice="packed")


@router.post("/t/{tenant}/fulfillment/exceptions/{exception_id}/resolve")
def resolve(exception_id: uuid.UUID, submitted: WorkForm) -> Response:
    """Resolve an exception with one of its actions."""
    page, form = submitted
    _staff_only(page)
    here = _pack_url(page)
    try:
        action = Resolution(_text(form, "action", 32))
        with page.db.begin_nested():
            service.resolve(page.db, exception_id, action)
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here, notice="resolved")
