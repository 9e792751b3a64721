"""The console's returns dock (退货入库): the returns the operator's merchants expect, each
received from its row line by line (how many came back, in what condition, into which bin:
scanned or typed, in the warehouse chosen), and a form per merchant to register a parcel that
no request announced. Receiving and registering need ``warehouse:manage`` in the merchant;
the rules (damaged goods only into quarantine, one warehouse, no more than the case names) are
the after-sales service's, and a refusal comes back as its kind.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from daiyun.core.errors import Problem
from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.schemas import (
    Condition,
    DockReturn,
    ReturnIn,
    ReturnLineIn,
)
from daiyun.platform.orders import service as orders
from daiyun.platform.warehouse import service as warehouse
from daiyun.portal.console import access
from daiyun.portal.console.returns import dock
from daiyun.portal.views.console import Staff, _staff_only, _submit, _text
from daiyun.portal.views.merchant.common import N_
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_form
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
DockForm = Annotated[tuple[Page, FormData], Depends(tenant_form(Permission.warehouse_manage))]
HERE = f"{PREFIX}/console/returns"
CONDITION_LABELS = {
    "resellable": N_("Resellable (back into stock)"),
    "damaged": N_("Damaged (into quarantine)"),
}


@router.get("/console/returns")
def returns_dock(request: Request, page: Staff) -> Response:
    """Expected returns of every merchant, the longest awaited first, and the forms to receive
    them or to register one nobody announced."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/returns.html",
        {
            "dock": dock(accesses, page.user.id),
            "may_see": bool(access.with_permission(accesses, Permission.warehouse_read)),
            "condition_labels": CONDITION_LABELS,
            "error": request.query_params.get("error", ""),
            "done": request.query_params.get("done", ""),
        },
        page=page,
    )


def _bin(session: Session, form: FormData, name: str) -> uuid.UUID:
    """The bin scanned or typed into ``name``, in the warehouse the form chose."""
    warehouse_id = uuid.UUID(_text(form, "warehouse_id"))
    code = _text(form, name, 64)
    found = warehouse.location_by_code(session, warehouse_id, code) if code else None
    if found is None:
        raise Problem(422, "unknown-bin", f"The warehouse has no bin {code or '(none)'}")
    return found.id


def _line(session: Session, form: FormData, suffix: str) -> ReturnLineIn | None:
    """One line of the form (None when nothing of it came back)."""
    quantity = int(_text(form, f"quantity{suffix}") or 0)
    if quantity <= 0:
        return None
    return ReturnLineIn(
        sku=_text(form, f"sku{suffix}", 100),
        quantity=quantity,
        condition=Condition(_text(form, f"condition{suffix}")),
        location_id=_bin(session, form, f"bin{suffix}"),
    )


@router.post("/t/{tenant}/returns/{return_id}")
def receive(submitted: DockForm, return_id: uuid.UUID) -> Response:
    """Receive an expected return (named by its case): the form's lines are numbered ``-0``,
    ``-1``…"""
    page, form = submitted
    _staff_only(page)

    def act() -> None:
        count = min(int(_text(form, "lines") or 0), 100)
        lines = [_line(page.db, form, f"-{i}") for i in range(count)]
        body = ReturnIn(lines=[line for line in lines if line is not None])
        service.receive(page.db, return_id, page.user.id, body)

    return _submit(page, form, HERE, act, done="received")


@router.post("/t/{tenant}/returns")
def register(submitted: DockForm) -> Response:
    """Register a parcel no request announced, found by its order number."""
    page, form = submitted
    _staff_only(page)

    def act() -> None:
        number = _text(form, "order", 64)
        found, _ = orders.find_orders(page.db, text=number, limit=20) if number else ([], None)
        matches = [o for o in found if o.external_id == number]
        if len(matches) != 1:
            kind = "unknown-order" if not matches else "ambiguous-order"
            raise Problem(422, kind, f"{len(matches)} orders are numbered {number}")
        line = _line(page.db, form, "")
        if line is None:
            raise ValueError("no units")
        body = DockReturn(order_id=matches[0].id, lines=[line], note=_text(form, "note") or None)
        service.register_return(page.db, body, page.user.id)

    return _submit(page, form, HERE, act, done="registered")
