"""The console's ship step pages (发货) for warehouse operators.

``/console/shipments`` lists the newest shipments of every merchant the user reads stock for:
carrier, tracking number, delivery, the marketplace push (pending, pushed, failed with the
error) with a button sending a failed one again, and the label PDF. ``/console/carriers`` shows
each merchant's carrier rules (first match wins, per warehouse, destination province and
weight) with forms adding and removing them where the user manages stock. Staff only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from daiyun.platform.fulfillment import shipping
from daiyun.platform.fulfillment.shipping_schemas import PushStatus
from daiyun.platform.warehouse import service as warehouse
from daiyun.portal.console import access
from daiyun.portal.console import shipping as work
from daiyun.portal.views.console import Staff
from daiyun.portal.views.shipping import CARRIER_LABELS, PUSH_LABELS, SHIPMENT_LABELS
from daiyun.portal.web import PREFIX, PortalRoute, render
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission


@router.get("/console/shipments")
def console_shipments(request: Request, page: Staff) -> Response:
    """The newest shipments across the user's merchants, with their push state."""
    accesses = access.accessible(page.db, page.user)
    raw = request.query_params.get("push") or ""
    push = PushStatus(raw) if raw in PUSH_LABELS else None
    return render(
        request,
        "console/shipments.html",
        {
            "found": work.shipments(accesses, page.user.id, push),
            "may_see": bool(access.with_permission(accesses, P.warehouse_read)),
            "push": raw if push else "",
            "push_labels": PUSH_LABELS,
            "shipment_labels": SHIPMENT_LABELS,
            "carriers": CARRIER_LABELS,
            "here": request.url.path + (f"?push={raw}" if push else ""),
            "error": request.query_params.get("error", ""),
            "notice": request.query_params.get("notice", ""),
        },
        page=page,
    )


@router.get("/console/carriers")
def console_carriers(request: Request, page: Staff) -> Response:
    """Each merchant's carrier rules, with the forms changing them."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/carriers.html",
        {
            "merchants": work.carrier_rules(accesses, page.user.id),
            "may_see": bool(access.with_permission(accesses, P.warehouse_read)),
            "warehouses": warehouse.warehouse_names(page.db),
            "carriers": CARRIER_LABELS,
            "default_carrier": shipping.DEFAULT_CARRIER,
            "error": request.query_params.get("error", ""),
            "notice": request.query_params.get("notice", ""),
        },
        page=page,
    )
