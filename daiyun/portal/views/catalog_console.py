"""The console's catalog work page: every assigned merchant's catalog in one place.

Staff only (a merchant's user finds no console, 404); each merchant is read where the user's
role there grants ``catalog:read``, as :mod:`daiyun.portal.console.catalog` says.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from daiyun.portal.console import access
from daiyun.portal.console.catalog import catalog_work
from daiyun.portal.views.catalog import QUADRANT_LABELS, QUADRANT_MARKS
from daiyun.portal.views.console import Staff
from daiyun.portal.web import PREFIX, PortalRoute, render
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission


@router.get("/console/catalog")
def catalog(request: Request, page: Staff) -> Response:
    """Per merchant: SKUs in this month's portfolio, how many sit in each quadrant, and codes
    sold that the catalog does not know."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/catalog.html",
        {
            "work": catalog_work(accesses, page.user.id),
            "may_see": bool(access.with_permission(accesses, P.catalog_read)),
            "quadrant_labels": QUADRANT_LABELS,
            "quadrant_marks": QUADRANT_MARKS,
        },
        page=page,
    )
