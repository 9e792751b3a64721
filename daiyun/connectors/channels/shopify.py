"""Shopify: the REST Admin API's orders endpoint, cursor pages, HMAC-signed webhooks.

REST is Shopify's legacy API since 2024-10 but still served; GraphQL's ``orders`` query is the
successor. Orders older than :attr:`ShopifyConnector.history` need the ``read_all_orders`` scope.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx

from daiyun.connectors.channels import shipments
from daiyun.connectors.channels.base import (
    Connector,
    FetchedPage,
    WebhookMessage,
    header_value,
    hmac_sha256_base64_matches,
    json_object,
    minor_units,
    parse_time,
    required,
    text_or_none,
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
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderStatus,
)

API_VERSION = "2024-10"
# Listings, one call each (the REST Admin API has no batch endpoint for products): a new one is
# created with its single variant, a price goes to the variant, unlisting drafts the product.
PRODUCTS_PATH = "/products.json"
PRODUCT_PATH = "/products/{id}.json"
VARIANT_PATH = "/variants/{id}.json"
UNLISTED_STATUS = "draft"
PAGE_LIMIT = 250
# Topics whose body is the full order; every other topic (orders/delete, orders/edited,
# refunds/create, ...) carries something else and only hints that the order changed.
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
# Financial states in which the buyer's money was taken (so processed_at is when it was paid).
PAID_STATES = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})


def _utc_param(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _error_message(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return response.reason_phrase
    if isinstance(errors, str):
        return excerpt(errors)
    return excerpt(json.dumps(errors, ensure_ascii=False)) if errors else response.reason_phrase


class ShopifyConnector(Connector):
    channel: ClassVar[str] = "shopify"
    credential_fields: ClassVar[tuple[str, ...]] = ("shop_domain", "access_token", "api_secret")
    webhook_secret_field: ClassVar[str | None] = "api_secret"
    max_window: ClassVar[timedelta] = timedelta(days=1)
    lag: ClassVar[timedelta] = timedelta(minutes=1)
    overlap: ClassVar[timedelta] = timedelta(minutes=2)
    history: ClassVar[timedelta] = timedelta(days=60)
    # Every shop's Admin API lives on its own subdomain here (the shop_domain credential).
    official_hosts: ClassVar[tuple[str, ...]] = ("*.myshopify.com",)
    outbound: ClassVar[frozenset[str]] = frozenset({LISTINGS, SHIPMENTS})
    carrier_codes: ClassVar[dict[str, str]] = shipments.SHOPIFY_CARRIERS

    @classmethod
    def default_base_urls(cls, credentials: Mapping[str, Any]) -> tuple[str, ...]:
        return (f"https://{credentials.get('shop_domain')}",)

    def _orders_url(self) -> str:
        base = self.shop.api_base_url or f"https://{self.shop.credentials['shop_domain']}"
        return f"{base.rstrip('/')}/admin/api/{API_VERSION}/orders.json"

    def _admin_url(self, path: str) -> str:
        base = self.shop.api_base_url or f"https://{self.shop.credentials['shop_domain']}"
        return f"{base.rstrip('/')}/admin/api/{API_VERSION}{path}"

    def push_shipment(self, push: ShipmentPush) -> ShipmentResult:
        token = str(self.shop.credentials["access_token"])

        def send(method: str, path: str, **kwargs: Any) -> httpx.Response:
            headers = {"X-Shopify-Access-Token": token}
            return self.http.request(method, self._admin_url(path), headers=headers, **kwargs)

        return shipments.shopify(send, self.marketplace_carrier(push.carrier), push)

    def push_listings(self, pushes: Sequence[ListingPush]) -> list[ListingResult]:
        return [self._push(push) for push in pushes]

    def _push(self, push: ListingPush) -> ListingResult:
        price = {
            "price": decimal_text(push.price_minor, push.currency),
            # Shopify shows compare_at_price struck through; null ends a sale.
            "compare_at_price": (
                decimal_text(push.compare_at_minor, push.currency)
                if push.compare_at_minor is not None
                else None
            ),
        }
        if push.product_id is None or push.sku_id is None:
            if push.action == "unlist":
                return accepted(push)  # never reached the shop: nothing to take down
            method, path = "POST", PRODUCTS_PATH
            body: dict[str, Any] = {
                "product": {
                    "title": push.title,
                    "status": "active",
                    "variants": [{"sku": push.sku_code, **price}],
                }
            }
        elif push.action == "update":
            method, path = "PUT", VARIANT_PATH.format(id=push.sku_id)
            body = {"variant": {"id": int(push.sku_id), **price}}
        else:
            status = UNLISTED_STATUS if push.action == "unlist" else "active"
            method, path = "PUT", PRODUCT_PATH.format(id=push.product_id)
            body = {"product": {"id": int(push.product_id), "status": status}}
            if push.action == "publish":
                body["product"]["variants"] = [{"id": int(push.sku_id), **price}]
        response = self.http.request(
            method,
            self._admin_url(path),
            json=body,
            headers={"X-Shopify-Access-Token": str(self.shop.credentials["access_token"])},
        )
        if response.status_code in (401, 403):
            raise ReauthorizationNeeded(
                f"shopify answered HTTP {response.status_code}: {_error_message(response)}"
            )
        if response.status_code in (400, 404, 406, 422):
            return refused(
                push, f"shopify answered HTTP {response.status_code}: {_error_message(response)}"
            )
        if response.status_code not in (200, 201):
            raise ConnectorError(
                f"shopify answered HTTP {response.status_code}: {_error_message(response)}"
            )
        try:
            doc = response.json()
        except ValueError as exc:
            raise MalformedPayload("shopify listing answer is not JSON") from exc
        product = doc.get("product") if isinstance(doc, dict) else None
        if isinstance(product, dict):
            variants = product.get("variants") or [{}]
            variant = variants[0] if isinstance(variants[0], dict) else {}
            return accepted(
                push,
                product_id=_id_text(product.get("id")),
                sku_id=_id_text(variant.get("id")),
                inventory_item_id=_id_text(variant.get("inventory_item_id")),
            )
        return accepted(push)

    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        params: dict[str, str | int]
        if token is None:
            params = {
                "status": "any",
                "updated_at_min": _utc_param(start),
                "updated_at_max": _utc_param(end),
                "order": "updated_at asc",
                "limit": PAGE_LIMIT,
            }
        else:
            # Shopify refuses any filter next to page_info: the cursor carries them.
            params = {"page_info": token, "limit": PAGE_LIMIT}
        response = self.http.request(
            "GET",
            self._orders_url(),
            params=params,
            headers={"X-Shopify-Access-Token": str(self.shop.credentials["access_token"])},
        )
        if response.status_code in (401, 403):
            raise ReauthorizationNeeded(
                f"shopify answered HTTP {response.status_code}: {_error_message(response)}"
            )
        if response.status_code != 200:
            raise ConnectorError(
                f"shopify answered HTTP {response.status_code}: {_error_message(response)}"
            )
        try:
            orders = response.json()["orders"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayload("shopify orders page has no orders list") from exc
        if not isinstance(orders, list):
            raise MalformedPayload("shopify orders page has no orders list")
        return FetchedPage(
            orders=[self.normalize(order) for order in orders],
            next_token=self._next_page_info(response),
        )

    @staticmethod
    def _next_page_info(response: httpx.Response) -> str | None:
        url = response.links.get("next", {}).get("url")
        if not url:
            return None
        values = parse_qs(urlsplit(url).query).get("page_info")
        if not values:
            raise MalformedPayload("shopify next link has no page_info")
        return values[0]

    @classmethod
    def verify_webhook(
        cls, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, Any]
    ) -> bool:
        return hmac_sha256_base64_matches(
            credentials.get("api_secret"), body, header_value(headers, "X-Shopify-Hmac-Sha256")
        )

    @classmethod
    def parse_webhook(cls, headers: Mapping[str, str], body: bytes) -> WebhookMessage:
        topic = header_value(headers, "X-Shopify-Topic")
        if not topic:
            raise MalformedPayload("shopify webhook has no X-Shopify-Topic")
        doc = json_object(body, "shopify webhook")
        event_id = header_value(headers, "X-Shopify-Event-Id") or header_value(
            headers, "X-Shopify-Webhook-Id"
        )
        if topic in ORDER_TOPICS:
            order = cls.normalize(doc)
            # Without an event id, the order's own version is the next best key.
            key = event_id or f"{order.external_id}:{order.source_updated_at.isoformat()}"
            return WebhookMessage(kind="order", topic=topic, dedupe_key=key, order=order)
        order_id = doc.get("order_id") or (doc.get("order_edit") or {}).get("order_id")
        if order_id is None and topic.startswith("orders/"):
            order_id = doc.get("id")
        key = event_id or f"{topic}:{hashlib.sha256(body).hexdigest()}"
        return WebhookMessage(
            kind="ignored", topic=topic, dedupe_key=key, detail={"order_id": order_id}
        )

    @staticmethod
    def normalize(raw: dict[str, Any]) -> NormalizedOrder:
        order_id = required(raw, "id")
        currency = str(required(raw, "currency")).upper()
        created = parse_time(required(raw, "created_at"), "created_at")
        updated = parse_time(required(raw, "updated_at"), "updated_at")
        offset = created.utcoffset() or timedelta(0)
        financial = str(raw.get("financial_status") or "pending")
        fulfillment = raw.get("fulfillment_status")
        status = _status(financial, fulfillment, raw.get("cancelled_at"))

        processed = raw.get("processed_at")
        paid_at = None
        if financial in PAID_STATES and processed:
            paid_at = parse_time(processed, "processed_at").astimezone(UTC)

        shipping_set = ((raw.get("total_shipping_price_set") or {}).get("shop_money")) or {}
        customer = raw.get("customer") or {}
        ship = raw.get("shipping_address") or None
        customer_name = " ".join(
            part for part in (customer.get("first_name"), customer.get("last_name")) if part
        )
        address = _address(ship) if isinstance(ship, dict) else None

        return NormalizedOrder(
            external_id=str(order_id),
            status=status,
            channel_status=f"{financial}/{fulfillment or 'unfulfilled'}",
            currency=currency,
            total_minor=minor_units(required(raw, "total_price"), currency, "total_price"),
            subtotal_minor=minor_units(raw.get("subtotal_price"), currency, "subtotal_price"),
            discount_minor=minor_units(raw.get("total_discounts"), currency, "total_discounts"),
            shipping_minor=minor_units(
                shipping_set.get("amount"), currency, "total_shipping_price_set"
            ),
            tax_minor=minor_units(raw.get("total_tax"), currency, "total_tax"),
            placed_at=created.astimezone(UTC),
            source_updated_at=updated.astimezone(UTC),
            paid_at=paid_at,
            source_offset_minutes=int(offset.total_seconds() // 60),
            buyer_name=text_or_none(customer_name) or (address.name if address else None),
            buyer_email=text_or_none(raw.get("email")) or text_or_none(customer.get("email")),
            buyer_phone=text_or_none(raw.get("phone"))
            or text_or_none(customer.get("phone"))
            or (address.phone if address else None),
            shipping_address=address,
            lines=[_line(item, currency) for item in raw.get("line_items") or []],
            refunds=[_refund(refund, currency) for refund in raw.get("refunds") or []],
            raw=raw,
        )


def _status(financial: str, fulfillment: Any, cancelled_at: Any) -> OrderStatus:
    if cancelled_at or financial in ("voided", "expired"):
        return OrderStatus.cancelled
    if financial == "refunded":
        return OrderStatus.refunded
    if financial == "partially_refunded":
        return OrderStatus.partially_refunded
    if fulfillment == "fulfilled":
        return OrderStatus.fulfilled
    if fulfillment == "partial":
        return OrderStatus.partially_fulfilled
    if financial == "paid":
        return OrderStatus.paid
    return OrderStatus.pending


def _address(ship: dict[str, Any]) -> Address:
    name = text_or_none(ship.get("name")) or text_or_none(
        " ".join(part for part in (ship.get("first_name"), ship.get("last_name")) if part)
    )
    country = text_or_none(ship.get("country_code"))
    return Address(
        name=name,
        phone=text_or_none(ship.get("phone")),
        country=country.upper() if country else None,
        province=text_or_none(ship.get("province")),
        city=text_or_none(ship.get("city")),
        address1=text_or_none(ship.get("address1")),
        address2=text_or_none(ship.get("address2")),
        postal_code=text_or_none(ship.get("zip")),
    )


def _line(item: dict[str, Any], currency: str) -> NormalizedLine:
    where = "line_items[]"
    quantity = required(item, "quantity", where)
    if not isinstance(quantity, int):
        raise MalformedPayload(f"{where} quantity is not an integer")
    tax = sum(
        minor_units(tax_line.get("price"), currency, "tax_lines[].price")
        for tax_line in item.get("tax_lines") or []
    )
    return NormalizedLine(
        external_id=str(required(item, "id", where)),
        sku=str(item.get("sku") or ""),
        title=str(item.get("title") or item.get("name") or ""),
        quantity=quantity,
        unit_price_minor=minor_units(required(item, "price", where), currency, "price"),
        discount_minor=minor_units(item.get("total_discount"), currency, "total_discount"),
        tax_minor=tax,
    )


def _refund(refund: dict[str, Any], currency: str) -> NormalizedRefund:
    where = "refunds[]"
    amount = sum(
        minor_units(txn.get("amount"), currency, "refunds[].transactions[].amount")
        for txn in refund.get("transactions") or []
        # Failed or pending refund transactions moved no money.
        if txn.get("kind") == "refund" and txn.get("status") in (None, "success")
    )
    lines = [
        {
            "sku": str((item.get("line_item") or {}).get("sku") or ""),
            "quantity": int(item.get("quantity") or 0),
            "amount_minor": minor_units(item.get("subtotal"), currency, "refund subtotal"),
        }
        for item in refund.get("refund_line_items") or []
    ]
    return NormalizedRefund(
        external_id=str(required(refund, "id", where)),
        amount_minor=amount,
        refunded_at=parse_time(
            required(refund, "created_at", where), "refunds[].created_at"
        ).astimezone(UTC),
        reason=text_or_none(refund.get("note")),
        lines=lines,
    )


def _id_text(value: Any) -> str | None:
    return str(value) if isinstance(value, int | str) and str(value) else None
