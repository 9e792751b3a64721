"""WooCommerce: the WC REST API v3 on the merchant's own WordPress, numbered pages, signed webhooks.

Each store is its own server, so there is no marketplace-wide rate limit and no history limit
beyond what the store keeps. ``modified_after``/``modified_before`` need WooCommerce 5.8 or later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs

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
from daiyun.connectors.hosts import merchant_host
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderStatus,
)

API_PATH = "/wp-json/wc/v3/orders"
# Products are created, updated and taken off sale in batches: create, update and delete lists
# of up to 100 objects in all per request (WooCommerce's default batch limit).
PRODUCTS_BATCH_PATH = "/wp-json/wc/v3/products/batch"
BATCH_LIMIT = 100
# Unlisting keeps the product (and its id) but hides it from the shop.
UNLISTED_STATUS = "draft"
# UNCONFIRMED: WooCommerce's REST schema caps per_page at 100.
PER_PAGE = 100
ORDER_TOPICS = frozenset({"order.created", "order.updated"})

STATUS_MAP: dict[str, OrderStatus] = {
    "pending": OrderStatus.pending,
    "on-hold": OrderStatus.pending,
    "processing": OrderStatus.paid,
    "completed": OrderStatus.fulfilled,
    "cancelled": OrderStatus.cancelled,
    "failed": OrderStatus.cancelled,
    "trash": OrderStatus.cancelled,
    "refunded": OrderStatus.refunded,
}


def _gmt_param(moment: datetime) -> str:
    # With dates_are_gmt=true the store reads offset-less times as UTC.
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def _refuse_unless_ok(response: httpx.Response) -> None:
    """Refused credentials ask for reauthorization; any other answer but 200 is an error."""
    if response.status_code in (401, 403):
        raise ReauthorizationNeeded(
            f"woocommerce answered HTTP {response.status_code}: {_error_message(response)}"
        )
    if response.status_code != 200:
        raise ConnectorError(
            f"woocommerce answered HTTP {response.status_code}: {_error_message(response)}"
        )


def _error_message(response: httpx.Response) -> str:
    try:
        doc = response.json()
        return excerpt(f"{doc.get('code')}: {doc.get('message')}")
    except (ValueError, AttributeError):
        return response.reason_phrase


class WooCommerceConnector(Connector):
    channel: ClassVar[str] = "woocommerce"
    credential_fields: ClassVar[tuple[str, ...]] = (
        "store_url",
        "consumer_key",
        "consumer_secret",
        "webhook_secret",
    )
    webhook_secret_field: ClassVar[str | None] = "webhook_secret"
    outbound: ClassVar[frozenset[str]] = frozenset({LISTINGS, SHIPMENTS})
    carrier_codes: ClassVar[dict[str, str]] = shipments.WOOCOMMERCE_CARRIERS
    listing_batch_size: ClassVar[int] = BATCH_LIMIT
    max_window: ClassVar[timedelta] = timedelta(days=1)
    lag: ClassVar[timedelta] = timedelta(minutes=1)
    overlap: ClassVar[timedelta] = timedelta(minutes=2)
    history: ClassVar[timedelta] = timedelta(days=3650)
    # No marketplace host: the store is the merchant's own site, the store_url given when the
    # shop is connected (HTTPS, a public name; daiyun.connectors.hosts.merchant_host).

    @classmethod
    def merchant_hosts(cls, credentials: Mapping[str, Any]) -> tuple[str, ...]:
        host = merchant_host(credentials.get("store_url"))
        return (host,) if host else ()

    @classmethod
    def default_base_urls(cls, credentials: Mapping[str, Any]) -> tuple[str, ...]:
        return (str(credentials.get("store_url") or ""),)

    def _url(self, path: str) -> str:
        base = self.shop.api_base_url or str(self.shop.credentials["store_url"])
        return base.rstrip("/") + path

    def _auth(self) -> tuple[str, str]:
        credentials = self.shop.credentials
        return str(credentials["consumer_key"]), str(credentials["consumer_secret"])

    def push_shipment(self, push: ShipmentPush) -> ShipmentResult:
        def send(method: str, path: str, **kwargs: Any) -> httpx.Response:
            return self.http.request(method, self._url(path), auth=self._auth(), **kwargs)

        name = push.carrier_name or self.marketplace_carrier(push.carrier)
        return shipments.woocommerce(send, name, push)

    def push_listings(self, pushes: Sequence[ListingPush]) -> list[ListingResult]:
        """One ``products/batch`` call: new listings in ``create``, the rest in ``update``;
        each answer object carries its id, or an ``error`` for that product alone."""
        creates = [p for p in pushes if p.product_id is None]
        updates = [p for p in pushes if p.product_id is not None]
        response = self.http.request(
            "POST",
            self._url(PRODUCTS_BATCH_PATH),
            json={
                "create": [_product(p) for p in creates],
                "update": [{"id": int(str(p.product_id)), **_product(p)} for p in updates],
            },
            auth=self._auth(),
        )
        _refuse_unless_ok(response)
        try:
            doc = response.json()
            answers = [*(doc.get("create") or []), *(doc.get("update") or [])]
        except (ValueError, AttributeError) as exc:
            raise MalformedPayload("woocommerce batch answer is not an object") from exc
        if len(answers) != len(pushes) or not all(isinstance(a, dict) for a in answers):
            raise MalformedPayload("woocommerce batch answer does not match the request")
        return [_batch_result(p, a) for p, a in zip([*creates, *updates], answers, strict=True)]

    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        page = int(token) if token else 1
        response = self.http.request(
            "GET",
            self._url(API_PATH),
            params={
                "page": page,
                "per_page": PER_PAGE,
                "status": "any",
                "modified_after": _gmt_param(start),
                "modified_before": _gmt_param(end),
                "dates_are_gmt": "true",
                "orderby": "modified",
                "order": "asc",
            },
            auth=self._auth(),
        )
        _refuse_unless_ok(response)
        try:
            orders = response.json()
        except ValueError as exc:
            raise MalformedPayload("woocommerce orders page is not JSON") from exc
        if not isinstance(orders, list):
            raise MalformedPayload("woocommerce orders page is not a list")
        try:
            total_pages = int(response.headers.get("X-WP-TotalPages", "1"))
        except ValueError as exc:
            raise MalformedPayload("woocommerce X-WP-TotalPages is not a number") from exc
        return FetchedPage(
            orders=[self.normalize(order) for order in orders],
            next_token=str(page + 1) if page < total_pages else None,
        )

    @classmethod
    def verify_webhook(
        cls, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, Any]
    ) -> bool:
        return hmac_sha256_base64_matches(
            credentials.get("webhook_secret"), body, header_value(headers, "X-WC-Webhook-Signature")
        )

    @classmethod
    def is_ping(cls, headers: Mapping[str, str], body: bytes) -> bool:
        """The unsigned ``webhook_id=N`` form WooCommerce sends when a webhook is saved."""
        if header_value(headers, "X-WC-Webhook-Signature"):
            return False
        try:
            form = parse_qs(body.decode("ascii"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return False
        ids = form.get("webhook_id") or []
        return set(form) == {"webhook_id"} and len(ids) == 1 and ids[0].isdigit()

    @classmethod
    def parse_webhook(cls, headers: Mapping[str, str], body: bytes) -> WebhookMessage:
        topic = header_value(headers, "X-WC-Webhook-Topic")
        if not topic:
            raise MalformedPayload("woocommerce webhook has no X-WC-Webhook-Topic")
        doc = json_object(body, "woocommerce webhook")
        if topic in ORDER_TOPICS:
            order = cls.normalize(doc)
            # The Delivery-ID is a hash of the webhook and the current second, not an event id:
            # the order's own version is what makes a repeat a repeat.
            key = f"{order.external_id}:{required(doc, 'date_modified_gmt')}"
            return WebhookMessage(kind="order", topic=topic, dedupe_key=key, order=order)
        order_id = doc.get("id")
        return WebhookMessage(
            kind="ignored",
            topic=topic,
            dedupe_key=f"{topic}:{order_id}:{doc.get('date_modified_gmt') or ''}",
            detail={"order_id": order_id},
        )

    @staticmethod
    def normalize(raw: dict[str, Any]) -> NormalizedOrder:
        order_id = required(raw, "id")
        currency = str(required(raw, "currency")).upper()
        raw_status = str(required(raw, "status"))
        created_gmt = parse_time(
            required(raw, "date_created_gmt"), "date_created_gmt", naive_is_utc=True
        )
        created_local = parse_time(
            raw.get("date_created") or raw["date_created_gmt"], "date_created", naive_is_utc=True
        )
        modified_gmt = parse_time(
            required(raw, "date_modified_gmt"), "date_modified_gmt", naive_is_utc=True
        )
        # Site time and UTC are both written without an offset: their difference is the offset.
        offset = created_local.replace(tzinfo=None) - created_gmt.replace(tzinfo=None)
        paid = raw.get("date_paid_gmt")
        refunds = [_refund(refund, currency, modified_gmt) for refund in raw.get("refunds") or []]
        lines = [_line(item, currency) for item in raw.get("line_items") or []]
        billing = raw.get("billing") or {}
        shipping = raw.get("shipping") or {}
        buyer = " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p)

        return NormalizedOrder(
            external_id=str(order_id),
            status=_status(raw_status, bool(refunds)),
            channel_status=raw_status,
            currency=currency,
            total_minor=minor_units(required(raw, "total"), currency, "total"),
            # Lines before coupons, as WooCommerce's own order subtotal.
            subtotal_minor=sum(
                minor_units(item.get("subtotal"), currency, "line_items[].subtotal")
                for item in raw.get("line_items") or []
            ),
            discount_minor=minor_units(raw.get("discount_total"), currency, "discount_total"),
            shipping_minor=minor_units(raw.get("shipping_total"), currency, "shipping_total"),
            tax_minor=minor_units(raw.get("total_tax"), currency, "total_tax"),
            placed_at=created_gmt.astimezone(UTC),
            source_updated_at=modified_gmt.astimezone(UTC),
            paid_at=parse_time(paid, "date_paid_gmt", naive_is_utc=True) if paid else None,
            source_offset_minutes=round(offset.total_seconds() / 60),
            buyer_name=text_or_none(buyer),
            buyer_email=text_or_none(billing.get("email")),
            buyer_phone=text_or_none(billing.get("phone")),
            shipping_address=_address(shipping) if isinstance(shipping, dict) else None,
            lines=lines,
            refunds=refunds,
            raw=raw,
        )


def _product(push: ListingPush) -> dict[str, Any]:
    sale = push.sale_price_minor
    return {
        "name": push.title,
        "type": "simple",
        "sku": push.sku_code,
        "status": UNLISTED_STATUS if push.action == "unlist" else "publish",
        "regular_price": decimal_text(push.list_price_minor, push.currency),
        # An empty sale price ends a sale.
        "sale_price": decimal_text(sale, push.currency) if sale is not None else "",
    }


def _batch_result(push: ListingPush, answer: dict[str, Any]) -> ListingResult:
    error = answer.get("error")
    if isinstance(error, dict):
        return refused(push, excerpt(f"{error.get('code')}: {error.get('message')}"))
    product_id = answer.get("id")
    if not product_id:
        return refused(push, "woocommerce answered no product id")
    # A simple product is its own SKU; it has no separate inventory item.
    return accepted(push, product_id=str(product_id), sku_id=str(product_id))


def _status(raw_status: str, has_refunds: bool) -> OrderStatus:
    mapped = STATUS_MAP.get(raw_status, OrderStatus.pending)
    # A cancellation outranks a partial refund: the order will not go on either way.
    if mapped in (OrderStatus.cancelled, OrderStatus.refunded):
        return mapped
    return OrderStatus.partially_refunded if has_refunds else mapped


def _line(item: dict[str, Any], currency: str) -> NormalizedLine:
    where = "line_items[]"
    quantity = required(item, "quantity", where)
    if not isinstance(quantity, int):
        raise MalformedPayload(f"{where} quantity is not an integer")
    # subtotal and total cover the whole line, before and after the coupon.
    subtotal = minor_units(required(item, "subtotal", where), currency, "line_items[].subtotal")
    total = minor_units(required(item, "total", where), currency, "line_items[].total")
    unit, rounding = unit_price(subtotal, quantity)
    return NormalizedLine(
        external_id=str(required(item, "id", where)),
        sku=str(item.get("sku") or ""),
        title=str(item.get("name") or ""),
        quantity=quantity,
        unit_price_minor=unit,
        discount_minor=subtotal - total + rounding,
        tax_minor=minor_units(item.get("total_tax"), currency, "line_items[].total_tax"),
    )


def _refund(refund: dict[str, Any], currency: str, modified: datetime) -> NormalizedRefund:
    # The order lists refunds without their date; the order's last change is the closest bound.
    return NormalizedRefund(
        external_id=str(required(refund, "id", "refunds[]")),
        amount_minor=abs(minor_units(required(refund, "total", "refunds[]"), currency, "total")),
        refunded_at=modified.astimezone(UTC),
        reason=text_or_none(refund.get("reason")),
    )


def _address(shipping: dict[str, Any]) -> Address | None:
    name = " ".join(p for p in (shipping.get("first_name"), shipping.get("last_name")) if p)
    country = text_or_none(shipping.get("country"))
    address = Address(
        name=text_or_none(name),
        phone=text_or_none(shipping.get("phone")),
        country=country.upper() if country else None,
        province=text_or_none(shipping.get("state")),
        city=text_or_none(shipping.get("city")),
        address1=text_or_none(shipping.get("address_1")),
        address2=text_or_none(shipping.get("address_2")),
        postal_code=text_or_none(shipping.get("postcode")),
    )
    # Virtual orders carry a shipping block of empty strings: no address at all.
    if not (address.address1 or address.city or address.country):
        return None
    return address
