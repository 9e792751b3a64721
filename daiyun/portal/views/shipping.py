"""The ship step's pages on a tenant (发货).

``/t/{tenant}/shipments`` (``warehouse:read``, a tab of the stock pages) lists the merchant's
shipments with their carrier, tracking number and delivery, where telling the marketplace stands
(pending, pushed, failed with the marketplace's error), and the order-to-ship figures (发货时效:
the share shipped by the deadline and the median hours, per shop). Staff also get the label PDF
and, where they manage stock, a button sending a failed push again.

The pack station ships a packed parcel (``POST /t/{tenant}/parcels/{parcel_id}/ship``): the
carrier's waybill is requested and the shipments page opens with the label to print. The
carrier rules are changed from the console (``/console/carriers``) through the forms here.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from daiyun.connectors.carriers import CARRIER_CODES
from daiyun.core.errors import Problem
from daiyun.platform.fulfillment import metrics, shipping
from daiyun.platform.fulfillment.shipping_schemas import CarrierRuleIn, PushStatus, ShipmentRead
from daiyun.platform.orders import service as orders
from daiyun.portal.navigation import tabs
from daiyun.portal.views.console import _back, _staff_only, _text
from daiyun.portal.views.merchant.common import N_, shop_names, tenant_base, values
from daiyun.portal.web import PREFIX, Page, PortalRoute, redirect, render, tenant_form, tenant_page
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
ReadPage = Annotated[Page, Depends(tenant_page(P.warehouse_read))]
WorkForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.warehouse_manage))]
SHOWN = 100
CARRIERS_PAGE = f"{PREFIX}/console/carriers"

PUSH_LABELS = {
    "pending": N_("Pending"),
    "pushed": N_("Pushed"),
    "refused": N_("Failed"),
    "unsupported": N_("No ship API"),
}
SHIPMENT_LABELS = {
    "shipped": N_("On its way"),
    "delivered": N_("Delivered"),
    "exception": N_("Delivery problem"),
}
CARRIER_LABELS = {
    "sf": N_("SF Express"),
    "zto": N_("ZTO Express"),
    "yto": N_("YTO Express"),
    "jd": N_("JD Logistics"),
}


@router.get("/t/{tenant}/shipments")
def shipments(request: Request, page: ReadPage) -> Response:
    """The merchant's newest shipments with tracking, push state and the 发货时效 figures."""
    assert page.tenant is not None and page.role is not None
    raw = request.query_params.get("push") or ""
    push = PushStatus(raw) if raw in PUSH_LABELS else None
    rows = [ShipmentRead.of(s) for s in shipping.recent(page.db, push, SHOWN)]
    numbers = orders.order_numbers(page.db, {o for s in rows for o in s.order_ids})
    shipped = _shipped(request, page, rows)
    floor = metrics.floor(page.db)
    return render(
        request,
        "merchant/shipments.html",
        values(
            page,
            tabs=tabs("stock", page.tenant.slug, page.role, request.url.path),
            tabs_label=N_("Stock"),
            rows=rows,
            push=raw if push else "",
            push_labels=PUSH_LABELS,
            shipment_labels=SHIPMENT_LABELS,
            carriers=CARRIER_LABELS,
            numbers=numbers,
            shops=shop_names(page.db),
            figures=metrics.ship_times(page.db),
            floor=floor,
            packers=_packer_names(page.db, floor.packers) if page.is_staff else {},
            window=metrics.WINDOW_DAYS,
            staff=page.is_staff,
            can_push=page.is_staff and page.can(P.warehouse_manage),
            shipped=shipped,
            here=request.url.path + (f"?push={raw}" if push else ""),
            error=request.query_params.get("error", ""),
            notice=request.query_params.get("notice", ""),
        ),
        page=page,
    )


def _packer_names(db: Session, packers: list[metrics.Packer]) -> dict[str, str]:
    """Each packer's name: staff pack as "user:{id}"; anything else (the demo's operator) is
    shown as it is."""
    names = {}
    for packer in packers:
        kind, _, hex_id = packer.who.partition(":")
        user = db.get(User, uuid.UUID(hex_id)) if kind == "user" and len(hex_id) == 32 else None
        names[packer.who] = user.name if user is not None else packer.who
    return names


def _shipped(request: Request, page: Page, rows: list[ShipmentRead]) -> Any:
    """The shipment just shipped from the pack station, whose label the page opens (staff)."""
    wanted = request.query_params.get("shipped") or ""
    if not page.is_staff or not wanted:
        return None
    try:
        return ShipmentRead.of(shipping.get(page.db, uuid.UUID(wanted)))
    except (ValueError, Problem):
        return None


@router.get("/t/{tenant}/shipments/{shipment_id}/label.pdf")
def label(page: ReadPage, shipment_id: uuid.UUID) -> Response:
    """The shipment's 100 x 150 mm label, as printed when it shipped (opened inline to print)."""
    _staff_only(page)
    shipment, pdf = shipping.label(page.db, shipment_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="label-{shipment.waybill_no}.pdf"'},
    )


@router.post("/t/{tenant}/shipments/{shipment_id}/push")
def push_again(shipment_id: uuid.UUID, submitted: WorkForm) -> Response:
    """Send the tracking number to the marketplace again (after a failure was looked at)."""
    page, form = submitted
    _staff_only(page)
    here = f"{tenant_base(page)}/shipments"
    try:
        with page.db.begin_nested():
            shipping.repush(page.db, shipment_id)
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here, notice="push-queued")


@router.post("/t/{tenant}/parcels/{parcel_id}/ship")
def ship(parcel_id: uuid.UUID, submitted: WorkForm) -> Response:
    """Ship a packed parcel: the waybill is requested, then the label opens to print."""
    page, form = submitted
    _staff_only(page)
    here = f"{tenant_base(page)}/pack?fo={parcel_id}"
    carrier = _text(form, "carrier", 8) or None
    if carrier is not None and carrier not in CARRIER_CODES:
        return _back(form, here, error="bad-form")
    try:
        shipment = shipping.ship(page.db, parcel_id, carrier=carrier)
    except shipping.Unserviceable:
        # Not rolled back: the parcel's exception is what the floor works from now.
        return _back(form, here, error="address-unserviceable")
    except Problem as refused:
        # A carrier out of reach (503) changed nothing: the operator tries again later.
        return _back(form, here, error=refused.kind)
    return redirect(f"{tenant_base(page)}/shipments?shipped={shipment.id}")


def _rule_rows(page: Page) -> list[dict[str, Any]]:
    return [
        {
            "carrier": r.carrier,
            "warehouse_id": r.warehouse_id,
            "provinces": list(r.provinces),
            "max_weight_grams": r.max_weight_grams,
        }
        for r in shipping.carrier_rules(page.db)
    ]


def _provinces(text: str) -> list[str]:
    for comma in ("，", "、", ";", "；"):
        text = text.replace(comma, ",")
    return [p.strip() for p in text.split(",") if p.strip()]


@router.post("/t/{tenant}/carriers")
def add_rule(submitted: WorkForm) -> Response:
    """A carrier rule after the others (the first match wins)."""
    page, form = submitted
    _staff_only(page)
    try:
        weight = _text(form, "max_weight_grams", 7)
        rule = CarrierRuleIn.model_validate(
            {
                "carrier": _text(form, "carrier", 8),
                "warehouse_id": _text(form, "warehouse_id", 40) or None,
                "provinces": _provinces(_text(form, "provinces", 2000)),
                "max_weight_grams": int(weight) if weight else None,
            }
        )
        with page.db.begin_nested():
            shipping.set_carrier_rules(page.db, [*_rule_rows(page), rule.model_dump()])
    except (ValueError, ValidationError):
        return _back(form, CARRIERS_PAGE, error="bad-form")
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, CARRIERS_PAGE, error=refused.kind)
    return _back(form, CARRIERS_PAGE, notice="rule-added")


@router.post("/t/{tenant}/carriers/{priority}/remove")
def remove_rule(priority: int, submitted: WorkForm) -> Response:
    """Remove the rule at this place; the ones after it move up."""
    page, form = submitted
    _staff_only(page)
    rows = _rule_rows(page)
    if not 1 <= priority <= len(rows):
        return _back(form, CARRIERS_PAGE, error="not-found")
    del rows[priority - 1]
    with page.db.begin_nested():
        shipping.set_carrier_rules(page.db, rows)
    return _back(form, CARRIERS_PAGE, notice="rule-removed")
