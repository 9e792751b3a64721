"""Amazon Selling Partner API: Orders v0 pulled by update time, lines from ``orderItems``.

Access goes through Login with Amazon: the shop's refresh token buys a one-hour access token,
sent as ``x-amz-access-token``. Amazon pushes only to SQS/EventBridge, never over HTTP, so this
connector is pull-only. Buyer name and address need a Restricted Data Token, which this
connector does not request: they come through when Amazon includes them and stay empty otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from daiyun.connectors.channels import shipments
from daiyun.connectors.channels.base import (
    Connector,
    FetchedPage,
    ShopAccess,
    minor_units,
    parse_time,
    required,
    text_or_none,
    unit_price,
)
from daiyun.connectors.channels.outbound import (
    LISTINGS,
    SHIPMENTS,
    ListingPush,
    ListingResult,
    ShipmentPush,
    ShipmentResult,
    accepted,
    decimal_text,
    refused,
)
from daiyun.connectors.errors import (
    ConnectorError,
    MalformedPayload,
    ReauthorizationNeeded,
    excerpt,
)
from daiyun.connectors.http import ShopHttp
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    OrderStatus,
)

# The North America endpoint; shops in other regions set api_base_url.
ORDERS_HOST = "https://sellingpartnerapi-na.amazon.com"
TOKEN_HOST = "https://api.amazon.com"
TOKEN_PATH = "/auth/o2/token"
ORDERS_PATH = "/orders/v0/orders"
PAGE_SIZE = 100
# Listings Items API: one call per listing (the JSON_LISTINGS_FEED bulk path takes an upload, a
# feed and polling: not worth it here). An offer is PUT whole on first publish, its price PATCHed
# after, and the listing DELETEd from the marketplace to unlist it.
LISTINGS_PATH = "/listings/2021-08-01/items/{seller_id}/{sku}"
LISTING_PRODUCT_TYPE = "PRODUCT"
# Renew the access token this long before Amazon says it expires.
TOKEN_MARGIN_SECONDS = 60.0
# LWA errors that only a person re-authorising the app can fix.
REAUTHORIZE_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})

STATUS_MAP: dict[str, OrderStatus] = {
    "PendingAvailability": OrderStatus.pending,
    "Pending": OrderStatus.pending,
    "Unshipped": OrderStatus.paid,
    "PartiallyShipped": OrderStatus.partially_fulfilled,
    "Shipped": OrderStatus.shipped,
    "InvoiceUnconfirmed": OrderStatus.shipped,
    "Canceled": OrderStatus.cancelled,
    "Unfulfillable": OrderStatus.cancelled,
}


def _amazon_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _error(response: httpx.Response) -> tuple[str, str]:
    """The first error's code and message from an SP-API (or LWA) error body."""
    try:
        doc = response.json()
    except ValueError:
        return "", response.reason_phrase
    if not isinstance(doc, dict):
        return "", response.reason_phrase
    errors = doc.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code") or ""), excerpt(errors[0].get("message") or "")
    if "error" in doc:
        return str(doc["error"]), excerpt(doc.get("error_description") or "")
    return "", response.reason_phrase


class AmazonConnector(Connector):
    channel: ClassVar[str] = "amazon"
    credential_fields: ClassVar[tuple[str, ...]] = (
        "seller_id",
        "marketplace_ids",
        "lwa_client_id",
        "lwa_client_secret",
        "refresh_token",
    )
    webhook_secret_field: ClassVar[str | None] = None
    outbound: ClassVar[frozenset[str]] = frozenset({LISTINGS, SHIPMENTS})
    carrier_codes: ClassVar[dict[str, str]] = shipments.AMAZON_CARRIERS
    max_window: ClassVar[timedelta] = timedelta(days=1)
    # LastUpdatedBefore must be at least 2 minutes before Amazon's now; one more for clock skew.
    lag: ClassVar[timedelta] = timedelta(minutes=3)
    overlap: ClassVar[timedelta] = timedelta(minutes=5)
    history: ClassVar[timedelta] = timedelta(days=730)
    # SP-API's regional endpoints and their sandboxes, and Login with Amazon's token hosts.
    official_hosts: ClassVar[tuple[str, ...]] = (
        "sellingpartnerapi-na.amazon.com",
        "sellingpartnerapi-eu.amazon.com",
        "sellingpartnerapi-fe.amazon.com",
        "sandbox.sellingpartnerapi-na.amazon.com",
        "sandbox.sellingpartnerapi-eu.amazon.com",
        "sandbox.sellingpartnerapi-fe.amazon.com",
        "api.amazon.com",
        "api.amazon.co.uk",
        "api.amazon.co.jp",
    )

    def __init__(self, shop: ShopAccess, http: ShopHttp) -> None:
        super().__init__(shop, http)
        self._access_token: str | None = None
        self._token_expires = -math.inf

    def _url(self, host: str, path: str) -> str:
        return (self.shop.api_base_url or host).rstrip("/") + path

    def _marketplace_ids(self) -> str:
        ids = self.shop.credentials.get("marketplace_ids")
        if isinstance(ids, str):
            ids = [part.strip() for part in ids.split(",")]
        if (
            not ids
            or not isinstance(ids, list | tuple)
            or not all(isinstance(i, str) and i for i in ids)
        ):
            raise ConnectorError("amazon shop has no marketplace_ids (a list of strings)")
        return ",".join(ids)

    def _token(self) -> str:
        if self._access_token and self.http.clock() < self._token_expires - TOKEN_MARGIN_SECONDS:
            return self._access_token
        credentials = self.shop.credentials
        response = self.http.request(
            "POST",
            self._url(TOKEN_HOST, TOKEN_PATH),
            data={
                "grant_type": "refresh_token",
                "refresh_token": str(credentials["refresh_token"]),
                "client_id": str(credentials["lwa_client_id"]),
                "client_secret": str(credentials["lwa_client_secret"]),
            },
        )
        if response.status_code != 200:
            code, message = _error(response)
            text = f"amazon login answered HTTP {response.status_code}: {code} {message}".strip()
            if code in REAUTHORIZE_ERRORS or response.status_code in (401, 403):
                raise ReauthorizationNeeded(text)
            raise ConnectorError(text)
        try:
            doc = response.json()
            token = str(required(doc, "access_token", "LWA answer"))
            expires_in = float(doc.get("expires_in") or 3600)
        except (ValueError, TypeError) as exc:
            raise MalformedPayload("amazon login answer has no access token") from exc
        self._access_token = token
        self._token_expires = self.http.clock() + expires_in
        return token

    def _get(self, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        """GET an SP-API resource and return its ``payload``, renewing the token once if refused."""
        refreshed = False
        while True:
            response = self.http.request(
                "GET",
                self._url(ORDERS_HOST, path),
                params=params,
                headers={"x-amz-access-token": self._token()},
            )
            if response.status_code == 200:
                break
            code, message = _error(response)
            text = f"amazon answered HTTP {response.status_code}: {code} {message}".strip()
            if response.status_code in (401, 403):
                if code == "Unauthorized" and not refreshed:
                    # Tokens can expire early or be revoked server-side: renew once, try again.
                    self._access_token = None
                    refreshed = True
                    continue
                raise ReauthorizationNeeded(text)
            raise ConnectorError(text)
        try:
            payload = response.json()["payload"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayload(f"amazon answer to {path} has no payload") from exc
        if not isinstance(payload, dict):
            raise MalformedPayload(f"amazon answer to {path} has no payload")
        return payload

    def push_shipment(self, push: ShipmentPush) -> ShipmentResult:
        market = self._marketplace_ids().split(",")[0]
        code = self.marketplace_carrier(push.carrier)
        return shipments.amazon(self._send, self._get, market, code, push)

    def push_listings(self, pushes: Sequence[ListingPush]) -> list[ListingResult]:
        return [self._push(push) for push in pushes]

    def _push(self, push: ListingPush) -> ListingResult:
        seller = str(self.shop.credentials.get("seller_id") or self.shop.external_id)
        path = LISTINGS_PATH.format(
            seller_id=quote(seller, safe=""), sku=quote(push.sku_code, safe="")
        )
        offer = _offer(push, self._marketplace_ids().split(",")[0])
        body: dict[str, Any] | None
        if push.action == "unlist":
            if push.sku_id is None:
                return accepted(push)  # never reached the marketplace: nothing to take down
            method, body = "DELETE", None
        elif push.sku_id is None or push.action == "publish":
            method = "PUT"
            body = {
                "productType": LISTING_PRODUCT_TYPE,
                "requirements": "LISTING_OFFER_ONLY",
                "attributes": {"item_name": [{"value": push.title}], "purchasable_offer": [offer]},
            }
        else:
            method = "PATCH"
            body = {
                "productType": LISTING_PRODUCT_TYPE,
                "patches": [
                    {"op": "replace", "path": "/attributes/purchasable_offer", "value": [offer]}
                ],
            }
        response = self._send(method, path, body)
        if response.status_code in (400, 404, 422):
            code, message = _error(response)
            return refused(push, f"amazon answered HTTP {response.status_code}: {code} {message}")
        try:
            doc = response.json()
        except ValueError as exc:
            raise MalformedPayload("amazon listing answer is not JSON") from exc
        if not isinstance(doc, dict):
            raise MalformedPayload("amazon listing answer is not an object")
        if doc.get("status") == "INVALID":
            issues = doc.get("issues") or [{}]
            first = issues[0] if isinstance(issues[0], dict) else {}
            return refused(push, excerpt(f"amazon: {first.get('code')} {first.get('message')}"))
        # A seller's listing is keyed by its SKU: that is the id it has on the marketplace.
        return accepted(push, product_id=push.sku_code, sku_id=push.sku_code)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        """A Listings Items (or shipmentConfirmation) call; the token renewed once if refused,
        401/403 after that needs re-authorising, another non-2xx other than a refusal of the
        listing (or shipment) raises."""
        refreshed = False
        while True:
            response = self.http.request(
                method,
                self._url(ORDERS_HOST, path),
                params={"marketplaceIds": self._marketplace_ids()},
                headers={"x-amz-access-token": self._token()},
                **({"json": body} if body is not None else {}),
            )
            if response.status_code in (200, 204, 400, 404, 422):
                return response
            code, message = _error(response)
            text = f"amazon answered HTTP {response.status_code}: {code} {message}".strip()
            if response.status_code in (401, 403):
                if code == "Unauthorized" and not refreshed:
                    self._access_token = None
                    refreshed = True
                    continue
                raise ReauthorizationNeeded(text)
            raise ConnectorError(text)

    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        params: dict[str, str | int] = {"MarketplaceIds": self._marketplace_ids()}
        if token is None:
            params |= {
                "LastUpdatedAfter": _amazon_time(start),
                "LastUpdatedBefore": _amazon_time(end),
                "MaxResultsPerPage": PAGE_SIZE,
            }
        else:
            # With NextToken Amazon ignores every other criterion; the token carries them.
            params["NextToken"] = token
        payload = self._get(ORDERS_PATH, params)
        orders = payload.get("Orders")
        if not isinstance(orders, list):
            raise MalformedPayload("amazon orders page has no Orders list")
        normalized = []
        for order in orders:
            order_id = str(required(order, "AmazonOrderId"))
            items = self._order_items(order_id)
            normalized.append(self.normalize({**order, "OrderItems": items}))
        return FetchedPage(orders=normalized, next_token=payload.get("NextToken") or None)

    def _order_items(self, order_id: str) -> list[dict[str, Any]]:
        path = f"{ORDERS_PATH}/{order_id}/orderItems"
        items: list[dict[str, Any]] = []
        next_token: str | None = None
        while True:
            params = {"NextToken": next_token} if next_token else {}
            payload = self._get(path, params)
            page = payload.get("OrderItems")
            if not isinstance(page, list):
                raise MalformedPayload(f"amazon order {order_id} has no OrderItems list")
            items.extend(page)
            next_token = payload.get("NextToken") or None
            if next_token is None:
                return items

    @staticmethod
    def normalize(raw: dict[str, Any]) -> NormalizedOrder:
        order_id = str(required(raw, "AmazonOrderId"))
        raw_status = str(required(raw, "OrderStatus"))
        placed = parse_time(required(raw, "PurchaseDate"), "PurchaseDate", naive_is_utc=True)
        updated = parse_time(required(raw, "LastUpdateDate"), "LastUpdateDate", naive_is_utc=True)
        items = raw.get("OrderItems") or []
        if not isinstance(items, list):
            raise MalformedPayload("OrderItems is not a list")
        order_total = raw.get("OrderTotal") or {}
        currency = order_total.get("CurrencyCode") or _first_currency(items)
        if not currency:
            # Pending orders may come without any amount; then nothing says the currency.
            raise MalformedPayload("order has no OrderTotal")
        currency = str(currency).upper()

        def money(doc: Mapping[str, Any], name: str) -> int:
            value = doc.get(name)
            if not value:
                return 0
            if not isinstance(value, dict):
                raise MalformedPayload(f"{name} is not a money object")
            code = value.get("CurrencyCode")
            if code and str(code).upper() != currency:
                raise MalformedPayload(f"{name} is in {code}, the order in {currency}")
            return minor_units(value.get("Amount"), currency, name)

        lines = []
        subtotal = discount = shipping = tax = 0
        for item in items:
            lines.append(_line(item, money))
            subtotal += money(item, "ItemPrice")
            discount += money(item, "PromotionDiscount") + money(item, "ShippingDiscount")
            shipping += money(item, "ShippingPrice")
            tax += money(item, "ItemTax") + money(item, "ShippingTax")
        total = money(raw, "OrderTotal") if order_total else subtotal + shipping + tax - discount

        buyer = raw.get("BuyerInfo") or {}
        ship = raw.get("ShippingAddress")
        address = _address(ship) if isinstance(ship, dict) and ship else None
        return NormalizedOrder(
            external_id=order_id,
            status=STATUS_MAP.get(raw_status, OrderStatus.pending),
            channel_status=raw_status,
            currency=currency,
            total_minor=total,
            subtotal_minor=subtotal,
            discount_minor=discount,
            shipping_minor=shipping,
            tax_minor=tax,
            placed_at=placed.astimezone(UTC),
            source_updated_at=updated.astimezone(UTC),
            source_offset_minutes=0,
            buyer_name=text_or_none(buyer.get("BuyerName")) or (address.name if address else None),
            buyer_email=text_or_none(buyer.get("BuyerEmail")),
            buyer_phone=address.phone if address else None,
            shipping_address=address,
            lines=lines,
            raw=raw,
        )


def _first_currency(items: list[Any]) -> str | None:
    for item in items:
        if isinstance(item, dict):
            price = item.get("ItemPrice")
            if isinstance(price, dict) and price.get("CurrencyCode"):
                return str(price["CurrencyCode"])
    return None


Money = Callable[[Mapping[str, Any], str], int]


def _line(item: Any, money: Money) -> NormalizedLine:
    where = "OrderItems[]"
    if not isinstance(item, dict):
        raise MalformedPayload(f"{where} is not an object")
    quantity = required(item, "QuantityOrdered", where)
    if not isinstance(quantity, int):
        raise MalformedPayload(f"{where} QuantityOrdered is not an integer")
    # ItemPrice is the price of the whole quantity, not of one unit.
    unit, rounding = unit_price(money(item, "ItemPrice"), quantity)
    return NormalizedLine(
        external_id=str(required(item, "OrderItemId", where)),
        sku=str(item.get("SellerSKU") or item.get("ASIN") or ""),
        title=str(item.get("Title") or ""),
        quantity=quantity,
        unit_price_minor=unit,
        discount_minor=money(item, "PromotionDiscount") + rounding,
        tax_minor=money(item, "ItemTax"),
    )


def _address(ship: dict[str, Any]) -> Address:
    country = text_or_none(ship.get("CountryCode"))
    line2 = ", ".join(part for part in (ship.get("AddressLine2"), ship.get("AddressLine3")) if part)
    return Address(
        name=text_or_none(ship.get("Name")),
        phone=text_or_none(ship.get("Phone")),
        country=country.upper() if country else None,
        province=text_or_none(ship.get("StateOrRegion")),
        city=text_or_none(ship.get("City")),
        district=text_or_none(ship.get("District") or ship.get("County")),
        address1=text_or_none(ship.get("AddressLine1")),
        address2=text_or_none(line2),
        postal_code=text_or_none(ship.get("PostalCode")),
    )


def _amount(minor: int, currency: str) -> float:
    # The schema wants a JSON number. A double prints as the shortest text that reads back as
    # itself, so an amount of up to 15 digits goes on the wire exactly as its decimal text.
    return float(decimal_text(minor, currency))


def _offer(push: ListingPush, marketplace_id: str) -> dict[str, Any]:
    offer: dict[str, Any] = {
        "marketplace_id": marketplace_id,
        "currency": push.currency,
        "our_price": [
            {"schedule": [{"value_with_tax": _amount(push.list_price_minor, push.currency)}]}
        ],
    }
    if push.sale_price_minor is not None:
        offer["discounted_price"] = [
            {"schedule": [{"value_with_tax": _amount(push.sale_price_minor, push.currency)}]}
        ]
    return offer
