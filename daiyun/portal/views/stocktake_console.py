"""The console's stocktake (盘点) and replenishment (补货) pages for warehouse operators.

``/console/stocktakes`` lists every assigned merchant's counts and starts new ones; a count's
page (``/t/{tenant}/stocktakes/{id}``) takes what is counted, typed or scanned (a SKU code or
barcode and a bin code; an empty quantity is one scanned unit), shows the differences after the
ledger's moves during the count, and hands it to an approver, who posts it there.
``/console/replenishment`` lists what to order and the stock alerts, and turns what to order
into a delivery expected in a warehouse (an ASN the receipts then take in). Staff only; each action
checks the user's role in the count's merchant, and every form carries the CSRF token.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core import periods
from daiyun.core.errors import Problem
from daiyun.core.idempotency import idempotent
from daiyun.platform.storefront import service as catalog
from daiyun.platform.warehouse import counts
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import (
    CountCreate,
    CountedLine,
    CountEntry,
    CountKind,
    CountSubmit,
    ExpectedLine,
    ReceiptCreate,
)
from daiyun.portal.console import access
from daiyun.portal.console.stock_work import stock_planning, stocktakes
from daiyun.portal.views.console import Staff, _back, _staff_only, _submit, _text
from daiyun.portal.web import (
    PREFIX,
    Page,
    PortalRoute,
    redirect,
    render,
    tenant_form,
    tenant_page,
)
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
LIST = f"{PREFIX}/console/stocktakes"
CountPage = Annotated[Page, Depends(tenant_page(P.warehouse_read))]
CountForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.warehouse_manage))]
ApproveForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.warehouse_approve))]


@router.get("/console/stocktakes")
def stocktake_list(request: Request, page: Staff) -> Response:
    """Every merchant's counts (open first) and, where the role manages stock, a start form."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/stocktakes.html",
        {
            "work": stocktakes(accesses, page.user.id),
            "may_see": bool(access.with_permission(accesses, P.warehouse_read)),
            "error": request.query_params.get("error", ""),
        },
        page=page,
    )


@router.get("/console/replenishment")
def replenishment_list(request: Request, page: Staff) -> Response:
    """Every merchant's replenishment suggestions and stock alerts; where the user keeps stock,
    each merchant's and warehouse's suggestions as a delivery to expect."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/replenishment.html",
        {
            "work": stock_planning(accesses, page.user.id),
            "may_see": bool(access.with_permission(accesses, P.warehouse_read)),
            "form_key": uuid.uuid4().hex,
            "error": request.query_params.get("error", ""),
            "done": request.query_params.get("done", ""),
        },
        page=page,
    )


@router.post("/t/{tenant}/replenishment/expect")
def expect_delivery(submitted: CountForm) -> Response:
    """The quantities to order, as typed, expected in a warehouse (an ASN, 预到货): the stock
    coming that the suggestions count from then on. The form's key makes a second send of the
    same form (a double click, a reload) create nothing more."""
    page, form = submitted
    _staff_only(page)
    here = f"{PREFIX}/console/replenishment"

    def act() -> None:
        lines = [
            ExpectedLine(sku_id=uuid.UUID(sku), quantity=int(quantity))
            for sku, quantity in zip(form.getlist("sku_id"), form.getlist("quantity"), strict=True)
            if isinstance(sku, str)
            and isinstance(quantity, str)
            and quantity.strip() not in ("", "0")
        ]
        body = ReceiptCreate(
            warehouse_id=uuid.UUID(_text(form, "warehouse_id")),
            reference=f"补货 {periods.today(page.tenant.time_zone if page.tenant else 'UTC')}",
            expected=lines,
        )
        key = f"replenishment:{_text(form, 'key', 64)}"
        payload = {
            "tenant": page.tenant.slug if page.tenant else "",
            **body.model_dump(mode="json"),
        }
        idempotent(
            page.db, page.user.id, key, payload, lambda: warehouse.create_receipt(page.db, body)
        )

    return _submit(page, form, here, act, done="expected")


def _count_url(page: Page, count_id: uuid.UUID) -> str:
    assert page.tenant is not None
    return f"{PREFIX}/t/{page.tenant.slug}/stocktakes/{count_id}"


def _refused(form: FormData, default: str, refused: Problem) -> Response:
    if refused.status >= 500:
        raise refused
    return _back(form, default, error=refused.kind)


@router.post("/t/{tenant}/stocktakes")
def start_count(submitted: CountForm) -> Response:
    """Start a full count of a warehouse, or a cycle count of the bins typed (codes)."""
    page, form = submitted
    _staff_only(page)
    try:
        with page.db.begin_nested():
            warehouse_id = uuid.UUID(_text(form, "warehouse_id"))
            kind = CountKind.cycle if _text(form, "kind") == "cycle" else CountKind.full
            bins = []
            for code in re.split(r"[\s,]+", _text(form, "bins")):
                if code and kind == CountKind.cycle:
                    found = warehouse.location_by_code(page.db, warehouse_id, code)
                    if found is None:
                        raise Problem(422, "unknown-location", code)
                    bins.append(found.id)
            body = CountCreate(warehouse_id=warehouse_id, kind=kind, location_ids=bins)
            started = counts.start(page.db, body)
    except ValueError:
        return _back(form, LIST, error="bad-form")
    except Problem as refused:
        return _refused(form, LIST, refused)
    return redirect(_count_url(page, started.id))


@router.get("/t/{tenant}/stocktakes/{count_id}")
def count_page(request: Request, page: CountPage, count_id: uuid.UUID) -> Response:
    """One count: its lines with expected, counted, moved meanwhile and the difference."""
    _staff_only(page)
    count = counts.get(page.db, count_id)
    names = warehouse.warehouse_names(page.db)
    bins = warehouse.location_codes(page.db, set(count.location_ids))
    return render(
        request,
        "console/stocktake.html",
        {
            "count": count,
            "warehouse": names.get(count.warehouse_id, str(count.warehouse_id)),
            "bins": sorted(bins.values()),
            "here": request.url.path,
            "can_manage": page.can(P.warehouse_manage),
            "can_approve": page.can(P.warehouse_approve),
            "error": request.query_params.get("error", ""),
            "notice": request.query_params.get("notice", ""),
            "last_bin": request.query_params.get("bin", ""),
        },
        page=page,
    )


@router.post("/t/{tenant}/stocktakes/{count_id}/lines")
def count_line(count_id: uuid.UUID, submitted: CountForm) -> Response:
    """One counted line: a SKU code or barcode, a bin code, a lot, and the quantity counted
    (empty: one unit scanned, added to the line)."""
    page, form = submitted
    _staff_only(page)
    here = _count_url(page, count_id)
    try:
        with page.db.begin_nested():
            count = counts.get(page.db, count_id)
            code = _text(form, "sku", 100)
            skus, _ = catalog.find_skus(page.db, code=code, limit=1)
            if not skus:
                skus, _ = catalog.find_skus(page.db, barcode=code, limit=1)
            if not skus:
                raise Problem(422, "unknown-sku", code)
            bin_code = _text(form, "bin", 64)
            location = warehouse.location_by_code(page.db, count.warehouse_id, bin_code)
            if location is None:
                raise Problem(422, "unknown-location", bin_code)
            typed = _text(form, "quantity", 12)
            line = CountedLine(
                sku_id=skus[0].id,
                location_id=location.id,
                lot=_text(form, "lot", 64) or None,
                quantity=int(typed) if typed else 1,
            )
            counts.record(page.db, count_id, CountEntry(lines=[line], add=not typed))
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        return _refused(form, here, refused)
    return _back(form, here, notice="counted", bin=bin_code)


def _act(
    page: Page, form: FormData, count_id: uuid.UUID, action: Callable[[], object], notice: str
) -> Response:
    """Run one step of a count in a savepoint: back to the count with ``notice``, or with the
    refusal (nothing of the step kept)."""
    here = _count_url(page, count_id)
    try:
        with page.db.begin_nested():
            action()
    except Problem as refused:
        return _refused(form, here, refused)
    return _back(form, here, notice=notice)


@router.post("/t/{tenant}/stocktakes/{count_id}/submit")
def submit_count(count_id: uuid.UUID, submitted: CountForm) -> Response:
    """Hand the count to an approver (lines not counted as empty when the box is ticked)."""
    page, form = submitted
    _staff_only(page)
    body = CountSubmit(missing_as_zero=form.get("missing_as_zero") == "1")
    return _act(page, form, count_id, lambda: counts.submit(page.db, count_id, body), "submitted")


@router.post("/t/{tenant}/stocktakes/{count_id}/approve")
def approve_count(count_id: uuid.UUID, submitted: ApproveForm) -> Response:
    """Post the count's differences (warehouse:approve)."""
    page, form = submitted
    _staff_only(page)
    return _act(page, form, count_id, lambda: counts.approve(page.db, count_id), "approved")


@router.post("/t/{tenant}/stocktakes/{count_id}/cancel")
def cancel_count(count_id: uuid.UUID, submitted: CountForm) -> Response:
    """Drop an open count; nothing is posted."""
    page, form = submitted
    _staff_only(page)
    return _act(page, form, count_id, lambda: counts.cancel(page.db, count_id), "cancelled")
