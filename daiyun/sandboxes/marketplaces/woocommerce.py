"""Sandbox WooCommerce: the WC REST v3 orders endpoint and the WooCommerce order JSON shape.

Served under ``/woocommerce/{store}``, which stands for the store's own URL. Authentication is
HTTP Basic with the REST API key and secret; pagination is by page number with the totals in
``X-WP-Total`` and ``X-WP-TotalPages``. As in WordPress, the defaults are ``orderby=date`` and
``order=desc``: a connector that wants a stable walk must ask for ``orderby=modified&order=asc``.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
import zlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from daiyun.sandboxes.marketplaces.generator import format_minor, minor_digits
from daiyun.sandboxes.marketplaces.state import (
    Order,
    SandboxState,
    Shop,
    lower_bound,
    parse_time,
    upper_bound,
)

MAX_PER_PAGE = 100
STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
_OPEN_ENDED = 2**62

router = APIRouter(prefix="/woocommerce/{store}", tags=["sandbox: woocommerce"])


# -- rendering ---------------------------------------------------------------------------------


def order_status(order: Order) -> str:
    if order.cancelled_at:
        return "cancelled"
    if order.paid_at and order.refunded >= order.total > 0:
        return "refunded"
    if order.fulfilled_at or order.delivered_at:
        return "completed"
    if order.paid_at:
        return "processing"
    # Orders paid by bank transfer wait on-hold until the money arrives.
    return "on-hold" if _payment_method(order) == "bacs" else "pending"


def _payment_method(order: Order) -> str:
    return ("bacs", "stripe", "stripe", "paypal", "stripe", "paypal", "alipay")[order.id % 7]


def _number(amount: int, currency: str) -> int | float:
    """WooCommerce sends a line's ``price`` as a JSON number, not a string."""
    value = Decimal(amount).scaleb(-minor_digits(currency))
    return int(value) if value == value.to_integral_value() else float(value)


def render_order(shop: Shop, order: Order) -> dict[str, Any]:
    """The order as WC REST v3 returns it: ``date_*`` in site time, ``date_*_gmt`` in UTC."""
    currency = order.currency
    offset = timedelta(minutes=shop.utc_offset_minutes)

    def money(amount: int) -> str:
        return format_minor(amount, currency)

    def site(moment: datetime | None) -> str | None:
        return (moment + offset).replace(tzinfo=None).isoformat() if moment else None

    def gmt(moment: datetime | None) -> str | None:
        return moment.replace(tzinfo=None).isoformat() if moment else None

    buyer, address = order.buyer, order.address
    state_code = address.province_code or address.province
    completed = order.fulfilled_at if order.fulfilled_at else order.delivered_at
    method = _payment_method(order)
    return {
        "id": order.id,
        "parent_id": 0,
        "number": str(order.id),
        "order_key": f"wc_order_{order.id * 7919 % 10**13:013d}",
        "created_via": "checkout",
        "status": order_status(order),
        "currency": currency,
        "date_created": site(order.created_at),
        "date_created_gmt": gmt(order.created_at),
        "date_modified": site(order.updated_at),
        "date_modified_gmt": gmt(order.updated_at),
        "discount_total": money(order.discounts),
        "discount_tax": money(0),
        "shipping_total": money(order.shipping),
        "shipping_tax": money(0),
        "cart_tax": money(order.tax),
        "total": money(order.total),
        "total_tax": money(order.tax),
        "prices_include_tax": False,
        "customer_id": buyer.customer_id,
        "customer_note": order.note,
        "billing": {
            "first_name": buyer.first_name,
            "last_name": buyer.last_name,
            "company": "",
            "address_1": address.address1,
            "address_2": address.address2,
            "city": address.city,
            "state": state_code,
            "postcode": address.zip,
            "country": address.country_code,
            "email": buyer.email,
            "phone": buyer.phone or "",
        },
        "shipping": {
            "first_name": address.first_name,
            "last_name": address.last_name,
            "company": "",
            "address_1": address.address1,
            "address_2": address.address2,
            "city": address.city,
            "state": state_code,
            "postcode": address.zip,
            "country": address.country_code,
            "phone": address.phone or "",
        },
        "payment_method": method,
        "payment_method_title": {
            "bacs": "Direct bank transfer",
            "stripe": "Credit card",
            "paypal": "PayPal",
            "alipay": "Alipay",
        }[method],
        "transaction_id": f"txn_{order.id:010d}" if order.paid_at else "",
        "date_paid": site(order.paid_at),
        "date_paid_gmt": gmt(order.paid_at),
        "date_completed": site(completed),
        "date_completed_gmt": gmt(completed),
        "line_items": [
            {
                "id": line.id,
                "name": line.title,
                "product_id": 100 + zlib.crc32(line.sku.encode()) % 900,
                "variation_id": 0,
                "quantity": line.quantity,
                "tax_class": "",
                "subtotal": money(line.gross),
                "subtotal_tax": money(line.tax),
                "total": money(line.net),
                "total_tax": money(line.tax),
                "taxes": [],
                "sku": line.sku,
                "price": _number(line.unit_price, currency),
            }
            for line in order.lines
        ],
        "shipping_lines": [
            {
                "id": order.id * 10 + 1,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "total": money(order.shipping),
                "total_tax": money(0),
            }
        ],
        "refunds": [
            {"id": refund.id, "reason": refund.note, "total": money(-refund.amount)}
            for refund in order.refunds
        ],
    }


# -- the orders endpoint -------------------------------------------------------------------------


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "data": {"status": status, **extra}},
        status_code=status,
    )


def _invalid(name: str, reason: str) -> JSONResponse:
    return _error(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: reason})


def _credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        key, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return key, secret


def _admit(request: Request, store: str) -> Shop | JSONResponse:
    state: SandboxState = request.app.state.sandbox
    shop = state.shop("woocommerce", store)
    verdict = state.open_call(shop, f"woocommerce/{store}")
    if verdict.delay:
        time.sleep(verdict.delay)
    if shop is None:
        return _error(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )
    if verdict.fault == "throttle":
        seconds = max(1, math.ceil(verdict.retry_after))
        state.throttled(shop, seconds)
        response = _error(
            429,
            "woocommerce_rest_too_many_requests",
            "Too many requests. Please wait and try again.",
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    if verdict.fault == "fail":
        return _error(
            500, "internal_server_error", "There has been a critical error on this website."
        )
    key, secret = _credentials(request)
    want_key = str(shop.credentials.get("consumer_key", ""))
    want_secret = str(shop.credentials.get("consumer_secret", ""))
    if not (
        want_key
        and secrets.compare_digest(key.encode(), want_key.encode())
        and secrets.compare_digest(secret.encode(), want_secret.encode())
    ):
        return _error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    return shop


def _positive(params: Any, name: str, default: int, ceiling: int | None = None) -> int:
    raw = params.get(name)
    value = default if raw is None else int(raw)
    if value < 1 or (ceiling is not None and value > ceiling):
        raise ValueError(name)
    return value


@router.get("/wp-json/wc/v3/orders")
def list_orders(request: Request, store: str) -> Response:
    admitted = _admit(request, store)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop = admitted
    state: SandboxState = request.app.state.sandbox
    params = request.query_params
    try:
        page = _positive(params, "page", 1)
    except ValueError:
        return _invalid("page", "page must be greater than or equal to 1")
    try:
        per_page = _positive(params, "per_page", 10, MAX_PER_PAGE)
    except ValueError:
        return _invalid(
            "per_page", f"per_page must be between 1 (inclusive) and {MAX_PER_PAGE} (inclusive)"
        )
    orderby = params.get("orderby", "date")
    if orderby not in ("date", "modified", "id"):
        return _invalid("orderby", "orderby is not one of date, modified, id.")
    direction = params.get("order", "desc")
    if direction not in ("asc", "desc"):
        return _invalid("order", "order is not one of asc, desc.")
    wanted = [one for one in params.get("status", "any").split(",") if one]
    if any(one not in (*STATUSES, "any") for one in wanted):
        return _invalid("status", f"status is not one of {', '.join(STATUSES)}, any.")
    statuses = None if "any" in wanted or not wanted else set(wanted)

    gmt = params.get("dates_are_gmt", "false").lower() in ("1", "true")
    offset = 0 if gmt else shop.utc_offset_minutes
    bounds: dict[str, int] = {}
    for name in ("modified_after", "modified_before", "after", "before"):
        if params.get(name):
            try:
                moment = parse_time(params[name], naive_offset_minutes=offset)
            except ValueError:
                return _invalid(name, f"Invalid date for {name}.")
            bounds[name] = lower_bound(moment) if name.endswith("after") else upper_bound(moment)
    lo = bounds.get("modified_after", -_OPEN_ENDED)
    hi = bounds.get("modified_before", _OPEN_ENDED)
    created_lo = bounds.get("after", -_OPEN_ENDED)
    created_hi = bounds.get("before", _OPEN_ENDED)
    filtered = statuses is not None or "after" in bounds or "before" in bounds

    def keep(order: Order) -> bool:
        created = int(order.created_at.timestamp())
        if not created_lo <= created <= created_hi:
            return False
        return statuses is None or order_status(order) in statuses

    offset_rows = (page - 1) * per_page
    with state.lock:
        start, end = shop.window(lo, hi)
        if orderby == "modified" and not filtered:
            # The common path of an incremental pull: a slice of the sorted index.
            total = end - start
            if direction == "asc":
                keys = shop.keys[start + offset_rows : min(end, start + offset_rows + per_page)]
            else:
                stop = end - offset_rows
                keys = shop.keys[max(start, stop - per_page) : max(start, stop)][::-1]
            chosen = [shop.by_id[key[1]] for key in keys]
        else:
            matched = [shop.by_id[key[1]] for key in shop.keys[start:end]]
            matched = [order for order in matched if keep(order)] if filtered else matched
            if orderby == "date":
                matched.sort(key=lambda order: (order.created_at, order.id))
            elif orderby == "id":
                matched.sort(key=lambda order: order.id)
            if direction == "desc":
                matched.reverse()
            total = len(matched)
            chosen = matched[offset_rows : offset_rows + per_page]
        body = [render_order(shop, order) for order in chosen]
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(math.ceil(total / per_page))}
    return JSONResponse(body, headers=headers)


@router.get("/wp-json/wc/v3/orders/{order_id}")
def get_order(request: Request, store: str, order_id: str) -> Response:
    admitted = _admit(request, store)
    if isinstance(admitted, JSONResponse):
        return admitted
    state: SandboxState = request.app.state.sandbox
    with state.lock:
        order = admitted.orders.get(order_id)
        if order is None:
            return _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return JSONResponse(render_order(admitted, order))
