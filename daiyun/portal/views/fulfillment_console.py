"""The console's fulfilment pages (发货) for warehouse operators.

``/console/fulfillment`` is the warehouse's day: per merchant the parcels awaiting stock, ready,
in waves, picked and packed; the open exceptions; the parcels due within twelve hours; the waves
and a form planning the next one over every merchant the user manages stock for. A wave's page
(``/console/waves/{id}``) shows its pick list in walk order, downloads it as a PDF and confirms
the pick. Staff only; each merchant's part follows the user's role there.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from daiyun.core.errors import Problem
from daiyun.platform.fulfillment.pdf import pick_list_pdf
from daiyun.platform.fulfillment.schemas import WaveRuleIn
from daiyun.platform.warehouse import service as warehouse
from daiyun.portal.console import access
from daiyun.portal.console import fulfillment as work
from daiyun.portal.views.console import Staff, StaffForm, _back, _text
from daiyun.portal.views.fulfillment import ACTION_LABELS, KIND_LABELS, STATE_LABELS
from daiyun.portal.web import PREFIX, PortalRoute, redirect, render
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
DAY = f"{PREFIX}/console/fulfillment"


@router.get("/console/fulfillment")
def fulfillment_day(request: Request, page: Staff) -> Response:
    """The warehouse's day across the user's merchants."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/fulfillment.html",
        {
            "day": work.day(accesses, page.user.id),
            "may_see": bool(access.with_permission(accesses, P.warehouse_read)),
            "may_plan": bool(access.with_permission(accesses, P.warehouse_manage)),
            "warehouses": warehouse.warehouse_names(page.db),
            "states": STATE_LABELS,
            "kinds": KIND_LABELS,
            "actions": ACTION_LABELS,
            "error": request.query_params.get("error", ""),
        },
        page=page,
    )


@router.post("/console/waves")
def plan_wave(submitted: StaffForm) -> Response:
    """Plan a wave in a warehouse by the rule the form gives."""
    page, form = submitted
    accesses = access.accessible(page.db, page.user)
    try:
        warehouse_id = uuid.UUID(_text(form, "warehouse_id"))
        zone = _text(form, "zone", 16) or None
        rule = WaveRuleIn(
            single_item=form.get("single_item") == "1",
            zone=zone,
            max_orders=int(_text(form, "max_orders", 4) or "100"),
        )
        made = work.plan(accesses, page.user.id, warehouse_id, rule)
    except ValueError:
        return _back(form, DAY, error="bad-form")
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, DAY, error=refused.kind)
    return redirect(f"{PREFIX}/console/waves/{made.id}")


@router.get("/console/waves/{wave_id}")
def wave_page(request: Request, page: Staff, wave_id: uuid.UUID) -> Response:
    """A wave: its pick list in walk order, the PDF, and the pick confirmation."""
    accesses = access.accessible(page.db, page.user)
    found = work.wave(accesses, page.user.id, wave_id)
    return render(
        request,
        "console/wave.html",
        {
            "wave": found,
            "warehouse": warehouse.warehouse_names(page.db).get(found.warehouse_id, ""),
            "may_pick": bool(access.with_permission(accesses, P.warehouse_manage)),
            "here": request.url.path,
            "notice": request.query_params.get("notice", ""),
        },
        page=page,
    )


@router.get("/console/waves/{wave_id}/pick-list.pdf")
def wave_pdf(page: Staff, wave_id: uuid.UUID) -> Response:
    """The wave's pick list as a PDF (拣货单)."""
    accesses = access.accessible(page.db, page.user)
    found = work.wave(accesses, page.user.id, wave_id)
    name = warehouse.warehouse_names(page.db).get(found.warehouse_id, "")
    return Response(
        pick_list_pdf(found, name),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="pick-list-{found.number}.pdf"'},
    )


@router.post("/console/waves/{wave_id}/pick")
def confirm_pick(wave_id: uuid.UUID, submitted: StaffForm) -> Response:
    """The picker has the wave's parcels."""
    page, form = submitted
    here = f"{PREFIX}/console/waves/{wave_id}"
    try:
        work.confirm(access.accessible(page.db, page.user), page.user.id, wave_id)
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here, notice="picked")
