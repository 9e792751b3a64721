"""Sandbox Amazon SP-API: the Login with Amazon token exchange and the Orders API v0.

Served under ``/amazon``, which replaces both real hosts (``api.amazon.com`` for tokens and the
regional SP-API endpoint for orders). The seller is not in the URL: the token exchange finds it
by its LWA client and refresh token, and every orders call by its access token. Rate limiting is
a token bucket per seller; there is no HTTP push, so a connector for this channel only pulls.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from daiyun.sandboxes.marketplaces.generator import format_minor
from daiyun.sandboxes.marketplaces.state import (
    AccessToken,
    Order,
    SandboxState,
    Shop,
    lower_bound,
    parse_time,
    upper_bound,
)

MAX_RESULTS = 100
# Orders updated in the last two minutes may still change: SP-API refuses to list them.
MIN_AGE = timedelta(minutes=2)
STATUSES = (
    "PendingAvailability",
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
    "Unfulfillable",
)
DENIED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "The access token you provided has expired.",
        }
    ]
}
QUOTA = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
        }
    ]
}
SALES_CHANNELS = {
    "ATVPDKIKX0DER": "Amazon.com",
    "A2EUQ1WTGCTBG2": "Amazon.ca",
    "A1F83G8C2ARO7P": "Amazon.co.uk",
    "A1PA6795UKMFR9": "Amazon.de",
    "A13V1IB3VIYZZH": "Amazon.fr",
    "A1VC38T7YXB528": "Amazon.co.jp",
    "AAHKV2X7AFYLW": "Amazon.cn",
}

router = APIRouter(prefix="/amazon", tags=["sandbox: amazon"])


# -- rendering ---------------------------------------------------------------------------------


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_status(order: Order) -> str:
    if order.cancelled_at:
        return "Canceled"
    if order.paid_at is None:
        return "Pending"
    shipped = order.items_shipped
    if shipped >= order.items:
        return "Shipped"
    return "PartiallyShipped" if shipped else "Unshipped"


def _money(amount: int, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": format_minor(amount, currency)}


def render_order(shop: Shop, order: Order) -> dict[str, Any]:
    address = order.address
    shipped = order.items_shipped
    return {
        "AmazonOrderId": order.external_id,
        "SellerOrderId": str(order.number),
        "PurchaseDate": _utc(order.created_at),
        "LastUpdateDate": _utc(order.updated_at),
        "OrderStatus": order_status(order),
        "FulfillmentChannel": "MFN",
        "SalesChannel": SALES_CHANNELS.get(order.marketplace_id, "Amazon.com"),
        "OrderType": "StandardOrder",
        "ShipServiceLevel": "Std US D2D Dom",
        "ShipmentServiceLevelCategory": "Standard",
        "OrderTotal": _money(order.total, order.currency),
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": 0 if order.cancelled_at else order.items - shipped,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": order.marketplace_id,
        "IsBusinessOrder": False,
        "IsPrime": order.id % 3 == 0,
        "IsReplacementOrder": False,
        "BuyerInfo": {
            # Amazon hands sellers a relay address, never the buyer's own.
            "BuyerEmail": f"{order.id * 2_654_435_761 % 16**14:014x}@marketplace.amazon.com",
            "BuyerName": order.buyer.full_name,
        },
        "ShippingAddress": {
            "Name": address.name,
            "AddressLine1": address.address1,
            "AddressLine2": address.address2 or None,
            "City": address.city,
            "StateOrRegion": address.province_code or address.province,
            "PostalCode": address.zip,
            "CountryCode": address.country_code,
            "Phone": address.phone,
        },
    }


def render_items(order: Order) -> list[dict[str, Any]]:
    currency = order.currency
    return [
        {
            "ASIN": line.asin,
            "SellerSKU": line.sku,
            "OrderItemId": f"{line.id:014d}",
            "Title": line.title,
            "QuantityOrdered": line.quantity,
            "QuantityShipped": line.shipped,
            "ItemPrice": _money(line.gross, currency),
            "ItemTax": _money(line.tax, currency),
            "PromotionDiscount": _money(line.discount, currency),
            "PromotionDiscountTax": _money(0, currency),
            # The whole order's shipping is charged on its first item.
            "ShippingPrice": _money(order.shipping if position == 0 else 0, currency),
            "ShippingTax": _money(0, currency),
            "ProductInfo": {"NumberOfItems": "1"},
        }
        for position, line in enumerate(order.lines)
    ]


# -- token exchange ------------------------------------------------------------------------------


def _issue(
    state: SandboxState, client_id: str, client_secret: str, refresh: str
) -> AccessToken | None:
    """An access token for the seller whose LWA client and refresh token these are."""
    offered = (client_id, client_secret, refresh)
    with state.lock:
        for shop in state.shops.values():
            creds = shop.credentials
            expected = (
                creds.get("lwa_client_id"),
                creds.get("lwa_client_secret"),
                creds.get("refresh_token"),
            )
            if shop.channel == "amazon" and all(
                want is not None and secrets.compare_digest(str(want).encode(), got.encode())
                for want, got in zip(expected, offered, strict=True)
            ):
                token = AccessToken(
                    token="Atza|" + secrets.token_urlsafe(48),
                    shop=shop,
                    expires_at=time.monotonic() + state.token_lifetime,
                )
                state.tokens[token.token] = token
                return token
    return None


def token_shop(state: SandboxState, token: str | None) -> tuple[Shop | None, bool]:
    """The seller a token was issued to (None if unknown) and whether it is still valid."""
    with state.lock:
        found = state.tokens.get(token or "")
        if found is None:
            return None, False
        return found.shop, time.monotonic() < found.expires_at


@router.post("/auth/o2/token")
async def exchange_token(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    body = await request.body()
    form: dict[str, str]
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(body or b"{}")
            form = {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
        except ValueError:
            form = {}
    else:
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    # The state's lock can be held for a while (a bulk load): wait for it off the event loop.
    return await run_in_threadpool(_grant, state, form)


def _grant(state: SandboxState, form: dict[str, str]) -> Response:
    if form.get("grant_type") != "refresh_token":
        state.open_call(None, "amazon/unknown", inject=False)
        return JSONResponse(
            {
                "error": "unsupported_grant_type",
                "error_description": "Only refresh_token is supported",
            },
            status_code=400,
        )
    token = _issue(
        state,
        form.get("client_id", ""),
        form.get("client_secret", ""),
        form.get("refresh_token", ""),
    )
    state.open_call(token.shop if token else None, "amazon/unknown", inject=False)
    if token is None:
        return JSONResponse(
            {
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter : refresh_token",
            },
            status_code=400,
        )
    return JSONResponse(
        {
            "access_token": token.token,
            "token_type": "bearer",
            "expires_in": round(state.token_lifetime),
            "refresh_token": form["refresh_token"],
        }
    )


# -- orders --------------------------------------------------------------------------------------


def _invalid(message: str, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"code": "InvalidInput", "message": message}]}, status_code=400, headers=headers
    )


def _admit(request: Request) -> tuple[Shop, dict[str, str]] | JSONResponse:
    state: SandboxState = request.app.state.sandbox
    shop, valid = token_shop(state, request.headers.get("x-amz-access-token"))
    verdict = state.open_call(shop, "amazon/unknown")
    if verdict.delay:
        time.sleep(verdict.delay)
    rate = shop.rate if shop else 5.0
    headers = {"x-amzn-RateLimit-Limit": str(float(rate)), "x-amzn-RequestId": str(uuid.uuid4())}
    if verdict.fault == "throttle":
        seconds = max(1, math.ceil(verdict.retry_after))
        state.throttled(shop, seconds)
        return JSONResponse(
            QUOTA, status_code=429, headers={**headers, "Retry-After": str(seconds)}
        )
    if verdict.fault == "fail":
        return JSONResponse(
            {
                "errors": [
                    {
                        "code": "InternalFailure",
                        "message": "We encountered an internal error. Please try again.",
                    }
                ]
            },
            status_code=500,
            headers=headers,
        )
    if shop is None or not valid:
        return JSONResponse(DENIED, status_code=403, headers=headers)
    slot = state.take_slot(shop)
    if not slot.allowed:
        state.throttled(shop, slot.retry_after)
        headers["Retry-After"] = str(math.ceil(slot.retry_after))
        return JSONResponse(QUOTA, status_code=429, headers=headers)
    return shop, headers


def _encode(cursor: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode()


def _decode(token: str) -> dict[str, Any]:
    try:
        cursor = json.loads(base64.b64decode(token, validate=True))
        if not isinstance(cursor, dict):
            raise ValueError("not a NextToken")
        cursor["lo"], cursor["hi"], cursor["n"] = (
            int(cursor["lo"]),
            int(cursor["hi"]),
            int(cursor["n"]),
        )
        cursor["k"] = (int(cursor["k"][0]), int(cursor["k"][1]))
        cursor["s"] = [str(one) for one in cursor["s"]]
        return cursor
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise ValueError("invalid NextToken") from exc


@router.get("/orders/v0/orders")
def list_orders(request: Request) -> Response:
    admitted = _admit(request)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    state: SandboxState = request.app.state.sandbox
    params = request.query_params
    marketplaces = [one for one in params.get("MarketplaceIds", "").split(",") if one]
    if not marketplaces:
        return _invalid("MarketplaceIds is required.", headers)
    unknown = [one for one in marketplaces if one not in shop.marketplace_ids]
    if unknown:
        return _invalid(f"Invalid MarketplaceIds for this seller: {', '.join(unknown)}", headers)

    after: tuple[int, int] | None = None
    if params.get("NextToken"):
        try:
            cursor = _decode(params["NextToken"])
        except ValueError:
            return _invalid("Invalid NextToken.", headers)
        lo, hi, size, after, statuses = (
            cursor["lo"],
            cursor["hi"],
            cursor["n"],
            cursor["k"],
            cursor["s"],
        )
    else:
        if not params.get("LastUpdatedAfter"):
            message = "LastUpdatedAfter is required (the sandbox does not filter on CreatedAfter)."
            return _invalid(message, headers)
        latest = datetime.now(UTC) - MIN_AGE
        try:
            start = parse_time(params["LastUpdatedAfter"])
            end = (
                parse_time(params["LastUpdatedBefore"])
                if params.get("LastUpdatedBefore")
                else latest
            )
        except ValueError:
            return _invalid(
                "LastUpdatedAfter and LastUpdatedBefore must be ISO 8601 times.", headers
            )
        if end > latest:
            return _invalid(
                "Date provided for LastUpdatedBefore must be at least two minutes before the "
                "time the request is submitted.",
                headers,
            )
        if start > end:
            return _invalid("LastUpdatedAfter must be before LastUpdatedBefore.", headers)
        try:
            size = int(params.get("MaxResultsPerPage", MAX_RESULTS))
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_RESULTS:
            return _invalid(f"MaxResultsPerPage must be between 1 and {MAX_RESULTS}.", headers)
        statuses = [one for one in params.get("OrderStatuses", "").split(",") if one]
        if any(one not in STATUSES for one in statuses):
            return _invalid("Invalid OrderStatuses.", headers)
        lo, hi = lower_bound(start), upper_bound(end)

    wanted_markets = set(marketplaces)
    wanted_statuses = set(statuses)
    everything = wanted_markets >= set(shop.marketplace_ids) and not wanted_statuses

    def keep(order: Order) -> bool:
        if order.marketplace_id not in wanted_markets:
            return False
        return not wanted_statuses or order_status(order) in wanted_statuses

    with state.lock:
        begin, finish = shop.window(lo, hi, after)
        page = shop.scan(begin, finish, size + 1, None if everything else keep)
        more = len(page) > size
        page = page[:size]
        payload: dict[str, Any] = {"Orders": [render_order(shop, order) for order in page]}
    if more:
        payload["NextToken"] = _encode(
            {"lo": lo, "hi": hi, "n": size, "k": list(page[-1].key), "s": statuses}
        )
    payload["LastUpdatedBefore"] = _utc(datetime.fromtimestamp(hi, UTC))
    return JSONResponse({"payload": payload}, headers=headers)


@router.get("/orders/v0/orders/{order_id}/orderItems")
def order_items(request: Request, order_id: str) -> Response:
    admitted = _admit(request)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    state: SandboxState = request.app.state.sandbox
    with state.lock:
        order = shop.orders.get(order_id)
        if order is None:
            return JSONResponse(
                {"errors": [{"code": "NotFound", "message": f"Order {order_id} not found."}]},
                status_code=404,
                headers=headers,
            )
        items = render_items(order)
    return JSONResponse(
        {"payload": {"AmazonOrderId": order_id, "OrderItems": items}}, headers=headers
    )
