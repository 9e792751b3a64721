"""The dashboard: sales figures of a period from the daily rollups."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from daiyun.connectors import service as shop_service
from daiyun.core.errors import Problem
from daiyun.platform.reports import service as reports_service
from daiyun.portal.charts import daily_bars
from daiyun.portal.i18n import Formatter
from daiyun.portal.views.merchant.common import (
    N_,
    OrdersPage,
    day,
    tenant_base,
    tenant_zone,
    url,
    values,
)
from daiyun.portal.web import PREFIX, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclass(frozen=True)
class DashboardQuery:
    """The period (a month, or from/to days), channel and currency a dashboard is asked for."""

    start: date
    end: date
    month: str | None = None
    channel: str | None = None
    currency: str | None = None


def _dashboard_query(request: Request, today: date) -> tuple[DashboardQuery, str | None]:
    """The dashboard's query, or this month so far and what was wrong with the one given."""
    params = request.query_params
    channel = (params.get("channel") or "").strip()[:20] or None
    currency = (params.get("currency") or "").strip().upper()[:3] or None
    default = DashboardQuery(today.replace(day=1), today, None, channel, currency)
    try:
        start, end = day(params.get("from")), day(params.get("to"))
        if start or end:
            if start is None or end is None:
                return default, N_("Give both the first and the last day.")
            if end < start:
                return default, N_("The period ends before it starts.")
            return DashboardQuery(start, end, None, channel, currency), None
        month = (params.get("period") or "").strip()
        if month:
            first = date.fromisoformat(f"{month}-01")
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
            return DashboardQuery(first, last, first.strftime("%Y-%m"), channel, currency), None
    except ValueError:
        return default, N_("The period is not valid: use a month (YYYY-MM) or days (YYYY-MM-DD).")
    return default, None


def signed_change(fmt: Formatter, value: Decimal | None) -> str:
    """A relative change as ``+12.5%`` / ``-3.0%`` (``-`` when there is nothing to compare)."""
    if value is None:
        return "-"
    return ("+" if value > 0 else "") + fmt.percent(value)


def signed_points(fmt: Formatter, value: Decimal | None) -> str:
    """A difference of two rates in percentage points, e.g. ``+1.25 pp``."""
    if value is None:
        return "-"
    return fmt.gettext(
        "%(value)s pp", value=("+" if value > 0 else "") + fmt.number(value * 100, 2)
    )


@router.get("/t/{tenant}/dashboard")
def dashboard(request: Request, page: OrdersPage) -> Response:
    """Sales of a period and channel: KPIs against the previous period, daily trend, channels,
    shops and best sellers (from the reports rollups)."""
    assert page.tenant is not None
    today = datetime.now(UTC).astimezone(tenant_zone(page)).date()
    query, error = _dashboard_query(request, today)
    # Order changes the worker has not counted yet are counted now: the figures match the
    # order list they link to, even while a backfill keeps the worker busy.
    freshness = reports_service.catch_up(page.db)
    try:
        board = reports_service.bound_dashboard(
            page.db, query.start, query.end, query.channel, query.currency
        )
    except Problem as refused:
        if refused.status >= 500:
            raise
        query = DashboardQuery(today.replace(day=1), today)
        error = N_("This period cannot be shown (at most two years); here is this month so far.")
        board = reports_service.bound_dashboard(page.db, query.start, query.end)
    channels = sorted(
        {shop.channel for shop in shop_service.shops(page.db)}
        | {c.channel for c in board.by_channel}
        | ({query.channel} if query.channel else set())
    )
    base = tenant_base(page)
    fmt = page.fmt
    chart = daily_bars(
        [(d.day, d.figures.gmv_minor) for d in board.daily],
        board.currency,
        fmt,
        fmt.gettext("Daily GMV (%(currency)s)", currency=board.currency),
    )
    shop_orders = {
        s.shop_id: url(
            f"{base}/orders",
            {
                "shop": str(s.shop_id),
                "from": board.period.start.isoformat(),
                "to": board.period.end.isoformat(),
            },
        )
        for s in board.by_shop
    }
    return render(
        request,
        "merchant/dashboard.html",
        values(
            page,
            board=board,
            chart=chart,
            freshness=freshness,
            query=query,
            error=error,
            channels=channels,
            shop_orders=shop_orders,
            signed_change=signed_change,
            signed_points=signed_points,
            orders_url=url(
                f"{base}/orders",
                {
                    "channel": query.channel,
                    "from": board.period.start.isoformat(),
                    "to": board.period.end.isoformat(),
                },
            ),
        ),
        page=page,
    )
