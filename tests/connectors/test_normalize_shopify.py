"""Shopify: REST orders normalized exactly, webhook signatures and topics, the pull's wire format.

The payloads follow the Order resource of Shopify's REST Admin API documentation, written out
by hand with a shop eight hours east of UTC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.datastructures import Headers

from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.shopify import ShopifyConnector
from daiyun.connectors.errors import ConnectorError, MalformedPayload, ReauthorizationNeeded
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.platform.orders.normalized import Address, NormalizedLine, OrderStatus
from tests.connectors.test_http_client import FakeTime, LoopbackServer, Scripted, Seen

SECRET = "hush-shopify-app-secret"


def shopify_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": 450789469,
        "name": "#1001",
        "order_number": 1001,
        "email": "bob.norman@mail.example.com",
        "phone": "+557734881234",
        "created_at": "2026-11-01T10:00:00+08:00",
        "updated_at": "2026-11-02T09:30:15+08:00",
        "processed_at": "2026-11-01T10:00:05+08:00",
        "cancelled_at": None,
        "cancel_reason": None,
        "currency": "USD",
        "total_price": "409.94",
        "subtotal_price": "388.00",
        "total_discounts": "10.00",
        "total_tax": "11.94",
        "total_shipping_price_set": {
            "shop_money": {"amount": "10.00", "currency_code": "USD"},
            "presentment_money": {"amount": "10.00", "currency_code": "USD"},
        },
        "financial_status": "partially_refunded",
        "fulfillment_status": "partial",
        "customer": {
            "id": 207119551,
            "first_name": "Bob",
            "last_name": "Norman",
            "email": "bob.norman@mail.example.com",
            "phone": "+16136120707",
        },
        "shipping_address": {
            "first_name": "Bob",
            "last_name": "Norman",
            "name": "Bob Norman",
            "address1": "Chestnut Street 92",
            "address2": "",
            "city": "Louisville",
            "province": "Kentucky",
            "country_code": "us",
            "zip": "40202",
            "phone": "+1(502)-459-2181",
        },
        "line_items": [
            {
                "id": 466157049,
                "sku": "IPOD2008GREEN",
                "title": "IPod Nano - 8gb",
                "quantity": 1,
                "price": "199.00",
                "total_discount": "10.00",
                "tax_lines": [{"price": "5.97", "rate": 0.06, "title": "State Tax"}],
            },
            {
                "id": 518995019,
                "sku": "IPOD2008RED",
                "title": "IPod Nano - 8gb",
                "quantity": 2,
                "price": "99.50",
                "total_discount": "0.00",
                "tax_lines": [
                    {"price": "3.98", "rate": 0.04, "title": "State Tax"},
                    {"price": "1.99", "rate": 0.02, "title": "County Tax"},
                ],
            },
        ],
        "refunds": [
            {
                "id": 509562969,
                "created_at": "2026-11-02T09:30:15+08:00",
                "note": "it broke during shipping",
                "transactions": [
                    {"id": 179259969, "amount": "99.50", "kind": "refund", "status": "success"},
                    {"id": 179259970, "amount": "10.00", "kind": "refund", "status": "failure"},
                    {"id": 179259971, "amount": "409.94", "kind": "capture", "status": "success"},
                ],
                "refund_line_items": [
                    {
                        "line_item_id": 518995019,
                        "quantity": 1,
                        "subtotal": "99.50",
                        "line_item": {"sku": "IPOD2008RED"},
                    }
                ],
            }
        ],
    }
    order.update(changes)
    return order


def test_an_order_is_normalized_exactly() -> None:
    raw = shopify_order()
    order = ShopifyConnector.normalize(raw)
    assert order.external_id == "450789469"
    assert order.currency == "USD"
    assert (order.total_minor, order.subtotal_minor, order.discount_minor) == (40994, 38800, 1000)
    assert (order.shipping_minor, order.tax_minor) == (1000, 1194)
    assert order.status is OrderStatus.partially_refunded
    assert order.channel_status == "partially_refunded/partial"
    assert order.placed_at == datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    assert order.source_updated_at == datetime(2026, 11, 2, 1, 30, 15, tzinfo=UTC)
    assert order.paid_at == datetime(2026, 11, 1, 2, 0, 5, tzinfo=UTC)
    assert order.source_offset_minutes == 480
    assert order.buyer_name == "Bob Norman"
    assert order.buyer_email == "bob.norman@mail.example.com"
    assert order.buyer_phone == "+557734881234"
    assert order.shipping_address == Address(
        name="Bob Norman",
        phone="+1(502)-459-2181",
        country="US",
        province="Kentucky",
        city="Louisville",
        address1="Chestnut Street 92",
        address2=None,
        postal_code="40202",
    )
    assert order.lines == [
        NormalizedLine("466157049", "IPOD2008GREEN", "IPod Nano - 8gb", 1, 19900, 1000, 597),
        NormalizedLine("518995019", "IPOD2008RED", "IPod Nano - 8gb", 2, 9950, 0, 597),
    ]
    assert sum(line.total_minor for line in order.lines) == order.subtotal_minor
    (refund,) = order.refunds
    # Only the successful refund transaction moved money.
    assert refund.external_id == "509562969"
    assert refund.amount_minor == 9950
    assert refund.refunded_at == datetime(2026, 11, 2, 1, 30, 15, tzinfo=UTC)
    assert refund.reason == "it broke during shipping"
    assert refund.lines == [{"sku": "IPOD2008RED", "quantity": 1, "amount_minor": 9950}]
    assert order.refunded_minor == 9950
    assert order.raw is raw


@pytest.mark.parametrize(
    ("financial", "fulfillment", "cancelled_at", "expected"),
    [
        ("pending", None, None, OrderStatus.pending),
        ("authorized", None, None, OrderStatus.pending),
        ("partially_paid", None, None, OrderStatus.pending),
        ("paid", None, None, OrderStatus.paid),
        ("paid", "partial", None, OrderStatus.partially_fulfilled),
        ("paid", "fulfilled", None, OrderStatus.fulfilled),
        ("partially_refunded", "fulfilled", None, OrderStatus.partially_refunded),
        ("refunded", "fulfilled", None, OrderStatus.refunded),
        ("voided", None, None, OrderStatus.cancelled),
        ("expired", None, None, OrderStatus.cancelled),
        ("refunded", None, "2026-11-03T08:00:00+08:00", OrderStatus.cancelled),
    ],
)
def test_status_mapping(
    financial: str, fulfillment: str | None, cancelled_at: str | None, expected: OrderStatus
) -> None:
    order = ShopifyConnector.normalize(
        shopify_order(
            financial_status=financial,
            fulfillment_status=fulfillment,
            cancelled_at=cancelled_at,
            refunds=[],
        )
    )
    assert order.status is expected
    assert order.channel_status == f"{financial}/{fulfillment or 'unfulfilled'}"


def test_pending_orders_have_no_paid_time_and_offsets_can_be_negative() -> None:
    order = ShopifyConnector.normalize(
        shopify_order(
            financial_status="pending",
            created_at="2026-03-08T01:30:00-05:00",
            updated_at="2026-03-08T01:31:00-05:00",
        )
    )
    assert order.paid_at is None
    assert order.source_offset_minutes == -300
    assert order.placed_at == datetime(2026, 3, 8, 6, 30, tzinfo=UTC)


def test_zero_decimal_currencies_stay_exact() -> None:
    order = ShopifyConnector.normalize(
        shopify_order(
            currency="JPY",
            total_price="4210",
            subtotal_price="4000",
            total_discounts="0",
            total_tax="210",
            total_shipping_price_set={"shop_money": {"amount": "0", "currency_code": "JPY"}},
            line_items=[
                {
                    "id": 1,
                    "sku": "T",
                    "title": "Tea",
                    "quantity": 4,
                    "price": "1000",
                    "total_discount": "0",
                    "tax_lines": [{"price": "210"}],
                },
            ],
            refunds=[],
        )
    )
    assert (order.total_minor, order.tax_minor, order.lines[0].unit_price_minor) == (
        4210,
        210,
        1000,
    )


def test_a_redacted_customer_leaves_buyer_fields_empty() -> None:
    order = ShopifyConnector.normalize(
        shopify_order(email=None, phone=None, customer=None, shipping_address=None)
    )
    assert (order.buyer_name, order.buyer_email, order.buyer_phone) == (None, None, None)
    assert order.shipping_address is None


@pytest.mark.parametrize("missing", ["id", "currency", "created_at", "updated_at", "total_price"])
def test_missing_required_fields_are_named(missing: str) -> None:
    raw = shopify_order()
    del raw[missing]
    with pytest.raises(MalformedPayload, match=missing):
        ShopifyConnector.normalize(raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [("total_price", 409.94), ("total_price", "40.999"), ("total_tax", "lots")],
)
def test_inexact_or_garbled_money_is_malformed(field: str, value: Any) -> None:
    with pytest.raises(MalformedPayload, match=field):
        ShopifyConnector.normalize(shopify_order(**{field: value}))


def test_a_line_without_price_is_malformed() -> None:
    raw = shopify_order()
    del raw["line_items"][0]["price"]
    with pytest.raises(MalformedPayload, match="price"):
        ShopifyConnector.normalize(raw)


# Webhooks: signatures computed here with hmac/hashlib/base64, independently of the connector.


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(body: bytes, topic: str = "orders/updated", **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body),
        "X-Shopify-Shop-Domain": "acme.myshopify.com",
        "X-Shopify-API-Version": "2024-10",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2026-11-02T01:30:16.123Z",
        **extra,
    }


BODY = json.dumps(shopify_order()).encode()
CREDENTIALS = {"shop_domain": "acme.myshopify.com", "access_token": "shpat_x", "api_secret": SECRET}


def test_a_signed_body_verifies_with_any_header_case() -> None:
    headers = webhook_headers(BODY)
    assert ShopifyConnector.verify_webhook(headers, BODY, CREDENTIALS)
    lowered = {key.lower(): value for key, value in headers.items()}
    assert ShopifyConnector.verify_webhook(lowered, BODY, CREDENTIALS)
    assert ShopifyConnector.verify_webhook(Headers(headers), BODY, CREDENTIALS)


def test_tampered_unsigned_or_wrongly_keyed_bodies_fail() -> None:
    headers = webhook_headers(BODY)
    tampered = BODY.replace(b'"409.94"', b'"0.01"')
    assert tampered != BODY
    assert not ShopifyConnector.verify_webhook(headers, tampered, CREDENTIALS)
    unsigned = {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}
    assert not ShopifyConnector.verify_webhook(unsigned, BODY, CREDENTIALS)
    assert not ShopifyConnector.verify_webhook(headers, BODY, {**CREDENTIALS, "api_secret": "x"})
    assert not ShopifyConnector.verify_webhook(headers, BODY, {"shop_domain": "acme"})
    hex_signed = {
        **headers,
        "X-Shopify-Hmac-Sha256": hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(),
    }
    assert not ShopifyConnector.verify_webhook(hex_signed, BODY, CREDENTIALS)


def test_order_topics_parse_to_the_order_keyed_by_event_id() -> None:
    message = ShopifyConnector.parse_webhook(webhook_headers(BODY, "orders/paid"), BODY)
    assert message.kind == "order"
    assert message.topic == "orders/paid"
    assert message.dedupe_key == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert message.order is not None
    assert message.order.total_minor == 40994


def test_without_an_event_id_the_webhook_id_keys_the_delivery() -> None:
    headers = webhook_headers(BODY)
    del headers["X-Shopify-Event-Id"]
    message = ShopifyConnector.parse_webhook(headers, BODY)
    assert message.dedupe_key == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


@pytest.mark.parametrize(
    ("topic", "body", "order_id"),
    [
        ("refunds/create", {"id": 509562969, "order_id": 450789469, "note": "broke"}, 450789469),
        ("orders/delete", {"id": 450789469}, 450789469),
        ("orders/edited", {"order_edit": {"id": 1, "order_id": 450789469}}, 450789469),
    ],
)
def test_other_topics_are_ignored_with_the_order_id(
    topic: str, body: dict[str, Any], order_id: int
) -> None:
    raw = json.dumps(body).encode()
    message = ShopifyConnector.parse_webhook(webhook_headers(raw, topic), raw)
    assert message.kind == "ignored"
    assert message.order is None
    assert message.detail == {"order_id": order_id}
    assert message.dedupe_key == "98880550-7158-44d4-b7cd-2c97c8a091b5"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_webhook_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        ShopifyConnector.parse_webhook(webhook_headers(body), body)


def test_the_registry_knows_the_connector() -> None:
    assert connector_for("shopify") is ShopifyConnector
    assert ShopifyConnector.webhook_secret_field == "api_secret"
    with pytest.raises(LookupError, match="nosuch"):
        connector_for("nosuch")


# The pull, against a scripted stand-in for the orders endpoint.

ORDERS_PATH = "/shopify/acme.myshopify.com/admin/api/2024-10/orders.json"


@pytest.fixture(scope="module")
def shopify() -> Iterator[tuple[Scripted, str]]:
    scripted = Scripted()
    with LoopbackServer(scripted.app()) as server:
        yield scripted, f"{server.base_url}/shopify/acme.myshopify.com"


@pytest.fixture
def connector(shopify: tuple[Scripted, str]) -> Iterator[ShopifyConnector]:
    scripted, base = shopify
    scripted.seen.clear()
    fake = FakeTime()
    access = ShopAccess(
        external_id="acme.myshopify.com", credentials=CREDENTIALS, api_base_url=base
    )
    with ShopHttp("test:shopify:acme", sleep=fake.sleep, clock=fake.clock) as http:
        yield ShopifyConnector(access, http)
    forget_rate_limits("test:shopify:acme")


def test_pages_follow_the_link_header_with_page_info_alone(
    shopify: tuple[Scripted, str], connector: ShopifyConnector
) -> None:
    scripted, base = shopify

    def first(seen: Seen) -> tuple[int, dict[str, str], Any]:
        link = f"<{base}/admin/api/2024-10/orders.json?limit=250&page_info=eyJsYXN0X2lkIjo0fQ>"
        return 200, {"Link": f'{link}; rel="next"'}, {"orders": [shopify_order()]}

    second_order = shopify_order(id=450789470, updated_at="2026-11-02T09:31:00+08:00")
    previous = f'<{base}/admin/api/2024-10/orders.json?limit=250&page_info=cHJldg>; rel="previous"'
    scripted.script(ORDERS_PATH, first, (200, {"Link": previous}, {"orders": [second_order]}))
    start = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    end = datetime(2026, 11, 2, 0, 0, 0, 500000, tzinfo=UTC)

    page = connector.fetch_page(start, end, None)
    assert [o.external_id for o in page.orders] == ["450789469"]
    assert page.next_token == "eyJsYXN0X2lkIjo0fQ"
    page = connector.fetch_page(start, end, page.next_token)
    assert [o.external_id for o in page.orders] == ["450789470"]
    assert page.next_token is None

    first_seen, second_seen = scripted.seen[ORDERS_PATH]
    assert first_seen.params == {
        "status": ["any"],
        "updated_at_min": ["2026-11-01T00:00:00+00:00"],
        "updated_at_max": ["2026-11-02T00:00:00+00:00"],
        "order": ["updated_at asc"],
        "limit": ["250"],
    }
    assert second_seen.params == {"page_info": ["eyJsYXN0X2lkIjo0fQ"], "limit": ["250"]}
    assert {s.headers["x-shopify-access-token"] for s in (first_seen, second_seen)} == {"shpat_x"}


def test_a_refused_token_needs_reauthorization(
    shopify: tuple[Scripted, str], connector: ShopifyConnector
) -> None:
    scripted, _ = shopify
    errors = {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    scripted.script(ORDERS_PATH, (401, {}, errors))
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(ReauthorizationNeeded, match="Invalid API key") as info:
        connector.fetch_page(start, end, None)
    assert "shpat_x" not in str(info.value)


def test_other_client_errors_carry_status_and_message(
    shopify: tuple[Scripted, str], connector: ShopifyConnector
) -> None:
    scripted, _ = shopify
    scripted.script(ORDERS_PATH, (400, {}, {"errors": {"page_info": "Invalid value."}}))
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(ConnectorError, match=r"HTTP 400.*page_info") as info:
        connector.fetch_page(start, end, "garbage")
    assert not isinstance(info.value, ReauthorizationNeeded)


def test_default_base_url_is_the_shop_domain() -> None:
    access = ShopAccess(external_id="acme", credentials=CREDENTIALS)
    with ShopHttp("test:shopify:url") as http:
        url = ShopifyConnector(access, http)._orders_url()
    assert url == "https://acme.myshopify.com/admin/api/2024-10/orders.json"
