"""Orders: the filtered list, its CSV export and one order's detail."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core import csv_export
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.money import to_major
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.orders.schemas import OrderRead
from daiyun.portal.views.merchant.common import (
    BOM,
    CSV_PAGE,
    N_,
    PAGE_SIZE,
    OrdersPage,
    P,
    day,
    day_start,
    path_id,
    shop_names,
    tenant_base,
    tenant_zone,
    url,
    values,
)
from daiyun.portal.web import PREFIX, SECURITY_HEADERS, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# The list's sorts as the page names them (``?sort=total&dir=asc``): column -> (desc, asc).
SORTS = {
    "placed": (order_service.OrderSort.placed_newest, order_service.OrderSort.placed_oldest),
    "total": (order_service.OrderSort.total_largest, order_service.OrderSort.total_smallest),
}
# Newest first: the orders that just came in are the ones a merchant looks for.
DEFAULT_SORT = ("placed", "desc")


@dataclass(frozen=True)
class OrderQuery:
    """The order list's filters as the page takes them: days are the tenant's local days, both
    included (the API's ``placed_to`` is the start of the day after ``to``)."""

    status: OrderStatus | None = None
    channel: str | None = None
    shop_id: uuid.UUID | None = None
    placed_from: date | None = None
    placed_to: date | None = None
    q: str | None = None
    sort: str = DEFAULT_SORT[0]
    direction: str = DEFAULT_SORT[1]
    errors: list[str] = field(default_factory=list)

    @property
    def order(self) -> order_service.OrderSort:
        descending, ascending = SORTS[self.sort]
        return descending if self.direction == "desc" else ascending

    def _filters(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "status": self.status,
            "channel": self.channel,
            "shop_id": self.shop_id,
            "placed_from": day_start(self.placed_from, zone) if self.placed_from else None,
            "placed_to": (
                day_start(self.placed_to + timedelta(days=1), zone) if self.placed_to else None
            ),
            "text": self.q,
        }

    def count(self, db: Session, zone: ZoneInfo) -> int:
        """How many orders the query finds, on every page."""
        return order_service.count_orders(db, **self._filters(zone))

    def orders(
        self, db: Session, zone: ZoneInfo, cursor: str | None, limit: int, *, pii: bool
    ) -> tuple[list[OrderRead], str | None]:
        """A page of the orders the query finds (as the order API lists them), buyers masked
        unless ``pii``, and the cursor of the next page."""
        found, next_cursor = order_service.find_orders(
            db, **self._filters(zone), sort=self.order, cursor=cursor, limit=limit
        )
        return [OrderRead.of(order, pii=pii) for order in found], next_cursor

    def params(self) -> dict[str, str | None]:
        return {
            "status": self.status.value if self.status else None,
            "channel": self.channel,
            "shop": str(self.shop_id) if self.shop_id else None,
            "from": self.placed_from.isoformat() if self.placed_from else None,
            "to": self.placed_to.isoformat() if self.placed_to else None,
            "q": self.q,
            # The sort is in every link (next page, CSV, filters), the default one included.
            "sort": self.sort,
            "dir": self.direction,
        }

    def sorted_by(self, path: str, column: str) -> str:
        """The list's URL sorted by ``column``: the other way if it is the sort already, else
        largest or newest first. A new order starts at its first page."""
        if column == self.sort:
            direction = "asc" if self.direction == "desc" else "desc"
        else:
            direction = "desc"
        return url(path, {**self.params(), "sort": column, "dir": direction})


def _order_query(request: Request) -> OrderQuery:
    """The filters of the order list from its GET form; what cannot be read is reported."""
    params = request.query_params
    errors: list[str] = []
    status = None
    if raw_status := (params.get("status") or "").strip():
        try:
            status = OrderStatus(raw_status)
        except ValueError:
            errors.append(N_("Choose a status from the list."))
    shop_id = None
    if raw_shop := (params.get("shop") or "").strip():
        try:
            shop_id = uuid.UUID(raw_shop)
        except ValueError:
            errors.append(N_("Choose a shop from the list."))
    days: list[date | None] = []
    for name in ("from", "to"):
        try:
            days.append(day(params.get(name)))
        except ValueError:
            days.append(None)
            errors.append(N_("Dates are written YYYY-MM-DD."))
    if days[0] and days[1] and days[1] < days[0]:
        errors.append(N_("The last day is before the first day."))
    # A sort the page does not offer (an edited URL) falls back to the default, as the console's.
    sort = params.get("sort") or ""
    sort = sort if sort in SORTS else DEFAULT_SORT[0]
    direction = params.get("dir") or ""
    direction = direction if direction in ("asc", "desc") else "desc"
    return OrderQuery(
        status=status,
        channel=(params.get("channel") or "").strip()[:20] or None,
        shop_id=shop_id,
        placed_from=days[0],
        placed_to=days[1],
        q=(params.get("q") or "").strip()[:200] or None,
        sort=sort,
        direction=direction,
        errors=sorted(set(errors), key=errors.index),
    )


def _cursor(request: Request) -> str | None:
    return (request.query_params.get("cursor") or "").strip() or None


def _first_or_cursor_page(
    request: Request, page: OrdersPage, query: OrderQuery, zone: ZoneInfo
) -> tuple[list[OrderRead], str | None]:
    """The page the link's cursor points at; the first page for a cursor the list did not
    issue (an edited link, or one of another sort): a link is no reason for an error page."""
    pii = page.can(P.buyers_read)
    cursor = _cursor(request)
    if cursor is not None:
        try:
            return query.orders(page.db, zone, cursor, PAGE_SIZE, pii=pii)
        except Problem as refused:
            if refused.status != 400:
                raise
    return query.orders(page.db, zone, None, PAGE_SIZE, pii=pii)


@router.get("/t/{tenant}/orders")
def orders(request: Request, page: OrdersPage) -> Response:
    """The tenant's orders, filtered by status, channel, shop, placed days and text, paged."""
    query = _order_query(request)
    base = tenant_base(page)
    rows: list[OrderRead] = []
    next_url = None
    total = 0
    if not query.errors:
        zone = tenant_zone(page)
        rows, next_cursor = _first_or_cursor_page(request, page, query, zone)
        total = query.count(page.db, zone)
        if next_cursor:
            next_url = url(f"{base}/orders", {**query.params(), "cursor": next_cursor})
    shops = shop_names(page.db)
    return render(
        request,
        "merchant/orders.html",
        values(
            page,
            query=query,
            rows=rows,
            total=total,
            shops=shops,
            channels=sorted({s.channel for s in shop_service.shops(page.db)}),
            statuses=list(OrderStatus),
            next_url=next_url,
            first_url=url(f"{base}/orders", query.params()) if _cursor(request) else None,
            csv_url=url(f"{base}/orders.csv", query.params()),
        ),
        page=page,
        status_code=400 if query.errors else 200,
    )


CSV_COLUMNS = (
    "order_id",
    "external_id",
    "channel",
    "shop",
    "status",
    "channel_status",
    "review_state",
    "currency",
    "total",
    "refunded",
    "items",
    "buyer_name",
    "buyer_email",
    "placed_at",
    "paid_at",
)


def _local_iso(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""


def _csv_rows(tenant_id: uuid.UUID, query: OrderQuery, zone: ZoneInfo, pii: bool) -> Iterator[str]:
    """The filtered orders as CSV text, one chunk per page of rows.

    The response streams after the request's own session has closed, so the export reads in a
    unit of work of its own, bound to the same tenant (the guard and row security apply to it as
    to the page). Buyer names, ids and statuses come from outside: the writer neutralizes any
    that a spreadsheet would run as a formula.
    """
    out = io.StringIO()
    writer = csv_export.writer(out)
    writer.writerow(CSV_COLUMNS)
    yield BOM + out.getvalue()
    with unit_of_work(tenant_id) as db:
        shops = shop_names(db)
        cursor: str | None = None
        while True:
            rows, next_id = query.orders(db, zone, cursor, CSV_PAGE, pii=pii)
            out.seek(0)
            out.truncate()
            for row in rows:
                writer.writerow(
                    (
                        row.id,
                        row.external_id,
                        row.channel,
                        shops.get(row.shop_id, ""),
                        row.status.value,
                        row.channel_status,
                        row.review_state,
                        row.currency,
                        to_major(row.total_minor, row.currency),
                        to_major(row.refunded_minor, row.currency),
                        row.item_count,
                        row.buyer_name or "",
                        row.buyer_email or "",
                        _local_iso(row.placed_at, zone),
                        _local_iso(row.paid_at, zone),
                    )
                )
            db.expunge_all()
            yield out.getvalue()
            if next_id is None:
                return
            cursor = next_id


@router.get("/t/{tenant}/orders.csv")
def orders_csv(request: Request, page: OrdersPage) -> Response:
    """The filtered order list as CSV, every page of it: amounts as decimals, times in the
    tenant's time zone, buyers masked as on the page."""
    assert page.tenant is not None
    query = _order_query(request)
    if query.errors:
        raise Problem(400, "invalid-filter", query.errors[0])
    zone = tenant_zone(page)
    stamp = datetime.now(UTC).astimezone(zone).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        _csv_rows(page.tenant.id, query, zone, page.can(P.buyers_read)),
        media_type="text/csv; charset=utf-8",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="orders-{page.tenant.slug}-{stamp}.csv"',
        },
    )


@router.get("/t/{tenant}/orders/{order_id}")
def order_detail(request: Request, page: OrdersPage, order_id: str) -> Response:
    """One order: amounts, lines, refunds, review reasons and history."""
    detail = order_service.order_detail(
        page.db, path_id(order_id, "order"), pii=page.can(P.buyers_read)
    )
    return render(
        request,
        "merchant/order.html",
        values(page, order=detail, shop_name=shop_names(page.db).get(detail.shop_id, "")),
        page=page,
    )
