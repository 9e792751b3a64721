"""Sandbox Shopify: the REST Admin orders endpoint, its leaky bucket, and the order JSON shape.

Served under ``/shopify/{shop_domain}``, so a shop's ``api_base_url`` replaces
``https://{shop_domain}`` and the connector appends the real paths. Pagination is Shopify's
cursor style: a ``Link`` header with ``page_info`` tokens, after which only ``limit`` may be
sent. The token is opaque to clients; inside it carries the window, the status filter and the
last ``(updated_at, id)`` seen, so every page is a bisection into the shop's sorted orders.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from daiyun.sandboxes.marketplaces.generator import format_minor
from daiyun.sandboxes.marketplaces.state import (
    Order,
    Refund,
    SandboxState,
    Shop,
    lower_bound,
    parse_time,
    upper_bound,
)

API_VERSION = "2024-10"
MAX_LIMIT = 250
THROTTLED = {
    "errors": "Exceeded 2 calls per second for api client. "
    "Reduce request rates to resume uninterrupted service."
}
UNAUTHORIZED = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
_OPEN_ENDED = 2**62
_STATUSES = ("open", "closed", "cancelled", "any")

router = APIRouter(prefix="/shopify/{shop_domain}", tags=["sandbox: shopify"])


# -- rendering ---------------------------------------------------------------------------------


def _clock(shop: Shop) -> timezone:
    return timezone(timedelta(minutes=shop.utc_offset_minutes))


def _time(moment: datetime | None, zone: timezone) -> str | None:
    return moment.astimezone(zone).isoformat() if moment else None


def financial_status(order: Order) -> str:
    if order.paid_at is None:
        return "voided" if order.cancelled_at else "pending"
    refunded = order.refunded
    if refunded >= order.total > 0:
        return "refunded"
    return "partially_refunded" if refunded else "paid"


def fulfillment_status(order: Order) -> str | None:
    shipped = order.items_shipped
    if not shipped:
        return None
    return "fulfilled" if shipped >= order.items else "partial"


def render_refund(shop: Shop, order: Order, refund: Refund) -> dict[str, Any]:
    zone = _clock(shop)
    lines = {line.id: line for line in order.lines}
    refund_lines = []
    for position, (line_id, quantity) in enumerate(refund.lines):
        line = lines[line_id]
        refund_lines.append(
            {
                "id": refund.id * 100 + position,
                "line_item_id": line_id,
                "quantity": quantity,
                "restock_type": "return",
                "subtotal": format_minor(line.net * quantity // line.quantity, order.currency),
                "total_tax": format_minor(line.tax * quantity // line.quantity, order.currency),
                "line_item": {"id": line.id, "sku": line.sku, "title": line.title},
            }
        )
    return {
        "id": refund.id,
        "order_id": order.id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund.id}",
        "created_at": _time(refund.created_at, zone),
        "processed_at": _time(refund.created_at, zone),
        "note": refund.note,
        "transactions": [
            {
                "id": refund.id + 1_000_000_000_000,
                "order_id": order.id,
                "amount": format_minor(refund.amount, order.currency),
                "currency": order.currency,
                "kind": "refund",
                "status": "success",
                "gateway": "shopify_payments",
            }
        ],
        "refund_line_items": refund_lines,
    }


def render_order(shop: Shop, order: Order) -> dict[str, Any]:
    """The order as Shopify's REST Admin API returns it, times in the shop's offset."""
    zone = _clock(shop)
    currency = order.currency

    def money(amount: int) -> str:
        return format_minor(amount, currency)

    def money_set(amount: int) -> dict[str, Any]:
        value = {"amount": money(amount), "currency_code": currency}
        return {"shop_money": value, "presentment_money": dict(value)}

    buyer, address = order.buyer, order.address
    shipping_address = {
        "first_name": address.first_name,
        "last_name": address.last_name,
        "name": address.name,
        "address1": address.address1,
        "address2": address.address2 or None,
        "city": address.city,
        "province": address.province or None,
        "province_code": address.province_code or None,
        "country_code": address.country_code,
        "zip": address.zip,
        "phone": address.phone,
        "company": None,
    }
    line_items = []
    for line in order.lines:
        left = line.quantity - line.shipped
        line_items.append(
            {
                "id": line.id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line.id}",
                "sku": line.sku,
                "title": line.title,
                "name": line.title,
                "quantity": line.quantity,
                "fulfillable_quantity": 0 if order.cancelled_at else left,
                "fulfillment_status": None
                if not line.shipped
                else ("partial" if left else "fulfilled"),
                "price": money(line.unit_price),
                "price_set": money_set(line.unit_price),
                "total_discount": money(line.discount),
                "requires_shipping": True,
                "taxable": line.tax_rate_bp > 0,
                "tax_lines": [
                    {
                        "price": money(line.tax),
                        "rate": line.tax_rate_bp / 10000,
                        "title": order.tax_title,
                    }
                ]
                if line.tax_rate_bp
                else [],
            }
        )
    paid = order.paid_at is not None
    return {
        "id": order.id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order.id}",
        "name": f"#{order.number}",
        "order_number": order.number,
        "number": order.number - 1000,
        "email": buyer.email,
        "contact_email": buyer.email,
        "phone": buyer.phone,
        "created_at": _time(order.created_at, zone),
        "updated_at": _time(order.updated_at, zone),
        "processed_at": _time(order.created_at, zone),
        "cancelled_at": _time(order.cancelled_at, zone),
        "cancel_reason": order.cancel_reason,
        "closed_at": _time(order.delivered_at, zone),
        "currency": currency,
        "presentment_currency": currency,
        "total_price": money(order.total),
        "subtotal_price": money(order.subtotal),
        "total_line_items_price": money(order.gross),
        "total_discounts": money(order.discounts),
        "total_tax": money(order.tax),
        "taxes_included": False,
        "total_price_set": money_set(order.total),
        "total_shipping_price_set": money_set(order.shipping),
        "total_outstanding": money(0 if paid or order.cancelled_at else order.total),
        "financial_status": financial_status(order),
        "fulfillment_status": fulfillment_status(order),
        # Tracking pushed through the fulfillments endpoint (fulfillments.py).
        "fulfillments": [
            {
                "id": entry["id"],
                "status": "success",
                "tracking_company": entry["company"],
                "tracking_number": entry["number"],
            }
            for entry in order.tracking
        ],
        "confirmed": True,
        "test": False,
        "note": order.note or None,
        "tags": "",
        "source_name": "web",
        "customer": {
            "id": buyer.customer_id,
            "first_name": buyer.first_name,
            "last_name": buyer.last_name,
            "email": buyer.email,
            "phone": buyer.phone,
        },
        "shipping_address": shipping_address,
        "billing_address": dict(shipping_address),
        "shipping_lines": [
            {
                "id": order.id + 1,
                "title": "Standard Shipping",
                "code": "Standard",
                "price": money(order.shipping),
            }
        ],
        "line_items": line_items,
        "refunds": [render_refund(shop, order, refund) for refund in order.refunds],
    }


# -- the orders endpoint -------------------------------------------------------------------------


def _encode(cursor: dict[str, Any]) -> str:
    raw = json.dumps(cursor, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> tuple[int, int, str, tuple[int, int], bool]:
    """A page_info token as (window start, window end, status, anchor key, backwards)."""
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if cursor["d"] not in ("n", "p") or cursor["st"] not in _STATUSES:
            raise ValueError("not a page_info token")
        anchor = (int(cursor["k"][0]), int(cursor["k"][1]))
        return int(cursor["lo"]), int(cursor["hi"]), str(cursor["st"]), anchor, cursor["d"] == "p"
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise ValueError("page_info is not a valid token") from exc


def _keeps(status: str, order: Order) -> bool:
    if status == "any":
        return True
    if status == "cancelled":
        return order.cancelled_at is not None
    closed = order.delivered_at is not None
    if status == "closed":
        return closed
    return order.cancelled_at is None and not closed


def _error(status: int, body: dict[str, Any], headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def _admit(request: Request, shop_domain: str) -> tuple[Shop, dict[str, str]] | JSONResponse:
    """Everything a call goes through before it is answered: faults, auth, the leaky bucket."""
    state: SandboxState = request.app.state.sandbox
    shop = state.shop("shopify", shop_domain)
    verdict = state.open_call(shop, f"shopify/{shop_domain}")
    if verdict.delay:
        time.sleep(verdict.delay)
    if shop is None:
        return _error(404, {"errors": "Not Found"}, {})
    headers = {"X-Shopify-API-Version": API_VERSION}
    if verdict.fault == "throttle":
        state.throttled(shop, verdict.retry_after)
        headers["Retry-After"] = f"{verdict.retry_after:.1f}"
        headers["X-Shopify-Shop-Api-Call-Limit"] = f"{shop.capacity}/{shop.capacity}"
        return _error(429, THROTTLED, headers)
    headers["X-Shopify-Shop-Api-Call-Limit"] = state.call_limit(shop)
    if verdict.fault == "fail":
        return _error(500, {"errors": "Internal Server Error"}, headers)
    token = request.headers.get("X-Shopify-Access-Token", "")
    expected = str(shop.credentials.get("access_token", ""))
    if not expected or not secrets.compare_digest(token.encode(), expected.encode()):
        return _error(401, UNAUTHORIZED, headers)
    slot = state.take_slot(shop)
    if not slot.allowed:
        state.throttled(shop, slot.retry_after)
        headers["Retry-After"] = f"{slot.retry_after:.1f}"
        headers["X-Shopify-Shop-Api-Call-Limit"] = f"{shop.capacity}/{shop.capacity}"
        return _error(429, THROTTLED, headers)
    headers["X-Shopify-Shop-Api-Call-Limit"] = state.call_limit(shop)
    return shop, headers


@router.get("/admin/api/{version}/orders.json")
def list_orders(request: Request, shop_domain: str, version: str) -> Response:
    admitted = _admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    state: SandboxState = request.app.state.sandbox
    params = request.query_params

    raw_limit = params.get("limit", "50")
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        return _error(400, {"errors": {"limit": f"must be between 1 and {MAX_LIMIT}"}}, headers)

    page_info = params.get("page_info")
    if page_info is not None:
        extra = sorted(set(params.keys()) - {"limit", "page_info"})
        if extra:
            message = f"page_info cannot be combined with other parameters: {', '.join(extra)}"
            return _error(400, {"errors": {"page_info": message}}, headers)
        anchor: tuple[int, int] | None
        try:
            lo, hi, status, anchor, backwards = _decode(page_info)
        except ValueError:
            return _error(400, {"errors": {"page_info": "Invalid value."}}, headers)
    else:
        status = params.get("status", "open")
        if status not in _STATUSES:
            return _error(400, {"errors": {"status": "Invalid value."}}, headers)
        lo, hi = -_OPEN_ENDED, _OPEN_ENDED
        try:
            if params.get("updated_at_min"):
                lo = lower_bound(parse_time(params["updated_at_min"]))
            if params.get("updated_at_max"):
                hi = upper_bound(parse_time(params["updated_at_max"]))
        except ValueError:
            return _error(400, {"errors": {"updated_at": "Invalid date."}}, headers)
        anchor, backwards = None, False

    def keep(order: Order) -> bool:
        return _keeps(status, order)

    predicate = None if status == "any" else keep
    with state.lock:
        start, end = shop.window(lo, hi)
        if anchor is not None and backwards:
            end = min(end, bisect_left(shop.keys, anchor))
            page = shop.scan(start, end, limit + 1, predicate, backwards=True)
            has_previous, has_next = len(page) > limit, True
            page = page[-limit:]
        else:
            if anchor is not None:
                start = max(start, bisect_right(shop.keys, anchor))
            page = shop.scan(start, end, limit + 1, predicate)
            has_next = len(page) > limit
            page = page[:limit]
            has_previous = False
            if anchor is not None and page:
                before = min(end, bisect_left(shop.keys, page[0].key))
                first = bisect_left(shop.keys, (lo, -1))
                has_previous = bool(shop.scan(first, before, 1, predicate, backwards=True))
        body = {"orders": [render_order(shop, order) for order in page]}

    links = []
    base = str(request.url.replace(query=""))
    window = {"lo": lo, "hi": hi, "st": status}
    if page and has_previous:
        token = _encode({**window, "d": "p", "k": list(page[0].key)})
        links.append(f'<{base}?{urlencode({"limit": limit, "page_info": token})}>; rel="previous"')
    if page and has_next:
        token = _encode({**window, "d": "n", "k": list(page[-1].key)})
        links.append(f'<{base}?{urlencode({"limit": limit, "page_info": token})}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return JSONResponse(body, headers=headers)


@router.get("/admin/api/{version}/orders/{order_id}.json")
def get_order(request: Request, shop_domain: str, version: str, order_id: str) -> Response:
    admitted = _admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    state: SandboxState = request.app.state.sandbox
    with state.lock:
        order = shop.orders.get(order_id)
        if order is None:
            return _error(404, {"errors": "Not Found"}, headers)
        return JSONResponse({"order": render_order(shop, order)}, headers=headers)
