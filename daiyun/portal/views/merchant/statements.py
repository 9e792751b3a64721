"""Statements (结算单): list, detail, the orders behind a line, CSV and PDF."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from daiyun.billing import exports as billing_exports
from daiyun.billing import pdf as billing_pdf
from daiyun.billing import service as billing_service
from daiyun.billing.schemas import StatementDetail, StatementRead
from daiyun.core.errors import Problem
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.schemas import OrderRead
from daiyun.portal.views.merchant.common import (
    BOM,
    PAGE_SIZE,
    BillingPage,
    P,
    list_cursor,
    path_id,
    shop_names,
    tenant_base,
    url,
    uuid_or_none,
    values,
)
from daiyun.portal.web import PREFIX, SECURITY_HEADERS, Page, PortalRoute, render
from daiyun.tenants import service as tenant_service

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)


@router.get("/t/{tenant}/statements")
def statements(request: Request, page: BillingPage) -> Response:
    """The tenant's statements (结算单) with status, payment state and total."""
    found, next_cursor = billing_service.list_statements(page.db, list_cursor(request), PAGE_SIZE)
    rows = [StatementRead.model_validate(s) for s in found]
    base = tenant_base(page)
    return render(
        request,
        "merchant/statements.html",
        values(
            page,
            rows=rows,
            next_url=url(f"{base}/statements", {"cursor": next_cursor}) if next_cursor else None,
        ),
        page=page,
    )


def _download(page: Page, period: str, suffix: str) -> dict[str, str]:
    assert page.tenant is not None
    name = f"statement-{page.tenant.slug}-{period}.{suffix}"
    return {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/t/{tenant}/statements/{statement_id}.csv")
def statement_csv(page: BillingPage, statement_id: str) -> Response:
    """The statement's lines as CSV (the billing export)."""
    statement = billing_service.get_statement(page.db, path_id(statement_id, "statement"))
    return Response(
        BOM + billing_exports.to_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers=_download(page, statement.period, "csv"),
    )


@router.get("/t/{tenant}/statements/{statement_id}.pdf")
def statement_pdf(page: BillingPage, statement_id: str) -> Response:
    """The statement as a PDF (billing's), in the reader's language."""
    assert page.tenant is not None
    statement = billing_service.get_statement(page.db, path_id(statement_id, "statement"))
    # The bill-to names the merchant's legal entity: the tenant's row, not the page's view of it.
    merchant = tenant_service.get_tenant(page.db, page.tenant.id)
    assert merchant is not None
    return Response(
        # Lines are said in the reader's language through the portal's catalog.
        billing_pdf.to_pdf(statement, merchant, page.fmt.locale, describe=page.fmt.statement_line),
        media_type="application/pdf",
        headers={
            **_download(page, statement.period, "pdf"),
            "Content-Language": page.fmt.locale.replace("_", "-"),
        },
    )


@router.get("/t/{tenant}/statements/{statement_id}")
def statement_detail(request: Request, page: BillingPage, statement_id: str) -> Response:
    """One statement: its lines (description, basis, quantity, rate, amount) and downloads."""
    statement = billing_service.get_statement(page.db, path_id(statement_id, "statement"))
    return render(
        request,
        "merchant/statement.html",
        values(page, statement=StatementDetail.model_validate(statement)),
        page=page,
    )


@dataclass(frozen=True)
class LineSources:
    """A page of what a statement line was computed from: its orders, and other facts."""

    order_ids: list[uuid.UUID]
    other_keys: list[str]
    next_cursor: str | None


def line_sources(
    db: Session, statement_id: uuid.UUID, position: int, after: str | None, limit: int
) -> LineSources:
    """The facts behind one statement line, a page at a time, as billing's drill-down gives them.

    Billing answers fact keys (``order:<id>``, ``refund:<id>``, ``service:<id>``) in key order
    with the cursor of the next page, exactly as its API's ``.../sources`` does. This is the one
    place that knows how, so a change in how a line records its sources changes only this.
    """
    keys, next_key = billing_service.line_sources(db, statement_id, position, after, limit)
    order_ids: list[uuid.UUID] = []
    others: list[str] = []
    for key in keys:
        kind, _, raw = key.partition(":")
        order_id = uuid_or_none(raw) if kind == "order" else None
        if order_id is None:
            others.append(key)
        else:
            order_ids.append(order_id)
    return LineSources(order_ids, others, next_key)


@router.get("/t/{tenant}/statements/{statement_id}/lines/{position}")
def statement_line(
    request: Request, page: BillingPage, statement_id: str, position: str
) -> Response:
    """The orders behind one statement line, paged (order details need ``orders:read``)."""
    statement = billing_service.get_statement(page.db, path_id(statement_id, "statement"))
    if not position.isdigit():
        raise Problem(404, "not-found", "No such line")
    number = int(position)
    line = next((line for line in statement.lines if line.position == number), None)
    if line is None:
        raise Problem(404, "not-found", "No such line")
    after = request.query_params.get("after") or None
    found = line_sources(page.db, statement.id, number, after, PAGE_SIZE)
    pii = page.can(P.buyers_read)
    rows = []
    for order_id in found.order_ids:
        order = order_service.get_order(page.db, order_id)
        if order is not None:
            rows.append(OrderRead.of(order, pii=pii))
    base = tenant_base(page)
    return render(
        request,
        "merchant/statement_line.html",
        values(
            page,
            statement=StatementRead.model_validate(statement),
            line=line,
            rows=rows,
            others=found.other_keys,
            shops=shop_names(page.db),
            can_open_orders=page.can(P.orders_read),
            next_url=(
                url(
                    f"{base}/statements/{statement.id}/lines/{number}", {"after": found.next_cursor}
                )
                if found.next_cursor
                else None
            ),
        ),
        page=page,
    )
