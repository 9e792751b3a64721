"""The console's warehouse work page: every assigned merchant's receipts, orders waiting for
stock and low stock in one place.

Staff only (a merchant's user finds no console, 404); each merchant is read where the user's
role there grants ``warehouse:read``, as :mod:`daiyun.portal.console.warehouse` says.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from daiyun.portal.console import access
from daiyun.portal.console.warehouse import warehouse_work
from daiyun.portal.views.console import Staff
from daiyun.portal.web import PREFIX, PortalRoute, render
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)


@router.get("/console/warehouse")
def warehouse(request: Request, page: Staff) -> Response:
    """Per merchant: receipts to receive, orders short of stock, stock under its safety stock."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/warehouse.html",
        {
            "work": warehouse_work(accesses, page.user.id),
            "may_see": bool(access.with_permission(accesses, Permission.warehouse_read)),
        },
        page=page,
    )
