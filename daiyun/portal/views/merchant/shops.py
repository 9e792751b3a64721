"""Shops: connection and sync health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from daiyun.connectors import service as shop_service
from daiyun.connectors.schemas import ShopRead, ShopStatus
from daiyun.portal.i18n import Formatter
from daiyun.portal.views.merchant.common import ShopsPage, values
from daiyun.portal.web import PREFIX, PortalRoute, render

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)


def lag_text(fmt: Formatter, seconds: int | None) -> str:
    """How far the order book trails a shop, in the largest fitting unit."""
    if seconds is None:
        return fmt.gettext("Never synced")
    if seconds < 120:
        return fmt.gettext("%(count)s seconds", count=fmt.number(seconds))
    if seconds < 7200:
        return fmt.gettext("%(count)s minutes", count=fmt.number(seconds // 60))
    if seconds < 172800:
        return fmt.gettext("%(count)s hours", count=fmt.number(seconds // 3600))
    return fmt.gettext("%(count)s days", count=fmt.number(seconds // 86400))


@router.get("/t/{tenant}/shops")
def shops(request: Request, page: ShopsPage) -> Response:
    """The tenant's shops: connection state and sync health."""
    rows: list[ShopRead] = [shop_service.read(s) for s in shop_service.shops(page.db)]
    rows.sort(key=lambda s: (s.channel, s.name.lower()))
    attention = sum(
        1
        for s in rows
        if s.status == ShopStatus.reauthorization_needed or s.consecutive_failures > 0
    )
    return render(
        request,
        "merchant/shops.html",
        values(page, rows=rows, attention=attention, lag_text=lag_text),
        page=page,
    )
