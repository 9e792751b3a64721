"""WooCommerce: REST v3 orders normalized exactly, webhook signatures, pings, the pull.

The payloads follow the order properties of the WooCommerce REST API v3 documentation, written
out by hand for a store whose site time is eight hours ahead of UTC.
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
from daiyun.connectors.channels.woocommerce import WooCommerceConnector
from daiyun.connectors.errors import ConnectorError, MalformedPayload, ReauthorizationNeeded
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.platform.orders.normalized import Address, NormalizedLine, OrderStatus
from tests.connectors.test_http_client import FakeTime, LoopbackServer, Scripted

SECRET = "hush-woo-webhook-secret"


def woo_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": 727,
        "number": "727",
        "status": "processing",
        "currency": "USD",
        "date_created": "2026-11-01T18:00:00",
        "date_created_gmt": "2026-11-01T10:00:00",
        "date_modified": "2026-11-02T09:15:30",
        "date_modified_gmt": "2026-11-02T01:15:30",
        "date_paid": "2026-11-01T18:00:05",
        "date_paid_gmt": "2026-11-01T10:00:05",
        "date_completed": None,
        "date_completed_gmt": None,
        "discount_total": "2.00",
        "shipping_total": "10.00",
        "total_tax": "1.35",
        "total": "39.35",
        "billing": {
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@example.com",
            "phone": "(555) 555-5555",
            "address_1": "969 Market",
            "address_2": "",
            "city": "San Francisco",
            "state": "CA",
            "postcode": "94103",
            "country": "US",
        },
        "shipping": {
            "first_name": "John",
            "last_name": "Doe",
            "address_1": "969 Market",
            "address_2": "Suite 4",
            "city": "San Francisco",
            "state": "CA",
            "postcode": "94103",
            "country": "us",
            "phone": "",
        },
        "line_items": [
            {
                "id": 315,
                "name": "Woo Single #1",
                "sku": "WS-1",
                "quantity": 2,
                "subtotal": "20.00",
                "total": "18.00",
                "total_tax": "0.90",
                "price": 9,
            },
            {
                "id": 316,
                "name": "Ship Your Idea",
                "sku": "SYI",
                "quantity": 3,
                "subtotal": "10.00",
                "total": "10.00",
                "total_tax": "0.45",
                "price": 3.3333333,
            },
        ],
        "refunds": [],
    }
    order.update(changes)
    return order


def test_an_order_is_normalized_exactly() -> None:
    raw = woo_order()
    order = WooCommerceConnector.normalize(raw)
    assert order.external_id == "727"
    assert order.status is OrderStatus.paid
    assert order.channel_status == "processing"
    assert (order.total_minor, order.subtotal_minor, order.discount_minor) == (3935, 3000, 200)
    assert (order.shipping_minor, order.tax_minor) == (1000, 135)
    assert order.placed_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert order.source_updated_at == datetime(2026, 11, 2, 1, 15, 30, tzinfo=UTC)
    assert order.paid_at == datetime(2026, 11, 1, 10, 0, 5, tzinfo=UTC)
    assert order.source_offset_minutes == 480
    assert order.buyer_name == "John Doe"
    assert order.buyer_email == "john.doe@example.com"
    assert order.buyer_phone == "(555) 555-5555"
    assert order.shipping_address == Address(
        name="John Doe",
        phone=None,
        country="US",
        province="CA",
        city="San Francisco",
        address1="969 Market",
        address2="Suite 4",
        postal_code="94103",
    )
    assert order.lines == [
        # The coupon took 2.00 off the line: subtotal 20.00, total 18.00.
        NormalizedLine("315", "WS-1", "Woo Single #1", 2, 1000, 200, 90),
        # 10.00 for 3 is no whole number of cents: 3.34 each, the 0.02 surplus as discount.
        NormalizedLine("316", "SYI", "Ship Your Idea", 3, 334, 2, 45),
    ]
    assert [line.total_minor for line in order.lines] == [1800, 1000]
    assert order.refunds == []
    assert order.raw is raw


def test_refunds_are_positive_and_dated_by_the_orders_last_change() -> None:
    order = WooCommerceConnector.normalize(
        woo_order(
            refunds=[
                {"id": 726, "reason": "Damaged in transit", "total": "-5.00"},
                {"id": 729, "reason": "", "total": "-1.35"},
            ]
        )
    )
    assert order.status is OrderStatus.partially_refunded
    assert order.channel_status == "processing"
    assert [(r.external_id, r.amount_minor, r.reason) for r in order.refunds] == [
        ("726", 500, "Damaged in transit"),
        ("729", 135, None),
    ]
    assert {r.refunded_at for r in order.refunds} == {datetime(2026, 11, 2, 1, 15, 30, tzinfo=UTC)}
    assert order.refunded_minor == 635


@pytest.mark.parametrize(
    ("status", "refunds", "expected"),
    [
        ("pending", [], OrderStatus.pending),
        ("on-hold", [], OrderStatus.pending),
        ("processing", [], OrderStatus.paid),
        ("completed", [], OrderStatus.fulfilled),
        ("cancelled", [], OrderStatus.cancelled),
        ("failed", [], OrderStatus.cancelled),
        ("trash", [], OrderStatus.cancelled),
        ("refunded", [{"id": 1, "total": "-39.35"}], OrderStatus.refunded),
        ("completed", [{"id": 1, "total": "-5.00"}], OrderStatus.partially_refunded),
        ("cancelled", [{"id": 1, "total": "-5.00"}], OrderStatus.cancelled),
        ("checkout-draft", [], OrderStatus.pending),
    ],
)
def test_status_mapping(status: str, refunds: list[dict[str, Any]], expected: OrderStatus) -> None:
    order = WooCommerceConnector.normalize(woo_order(status=status, refunds=refunds))
    assert order.status is expected
    assert order.channel_status == status


def test_a_store_west_of_utc_and_a_virtual_order_without_shipping() -> None:
    order = WooCommerceConnector.normalize(
        woo_order(
            date_created="2026-11-01T07:00:00",
            date_created_gmt="2026-11-01T10:00:00",
            date_paid_gmt=None,
            shipping={
                "first_name": "",
                "last_name": "",
                "address_1": "",
                "address_2": "",
                "city": "",
                "state": "",
                "postcode": "",
                "country": "",
            },
        )
    )
    assert order.source_offset_minutes == -180
    assert order.paid_at is None
    assert order.shipping_address is None


@pytest.mark.parametrize(
    "missing", ["id", "status", "currency", "total", "date_created_gmt", "date_modified_gmt"]
)
def test_missing_required_fields_are_named(missing: str) -> None:
    raw = woo_order()
    del raw[missing]
    with pytest.raises(MalformedPayload, match=missing):
        WooCommerceConnector.normalize(raw)


def test_a_line_without_subtotal_or_with_a_float_total_is_malformed() -> None:
    raw = woo_order()
    del raw["line_items"][0]["subtotal"]
    with pytest.raises(MalformedPayload, match="subtotal"):
        WooCommerceConnector.normalize(raw)
    raw = woo_order()
    raw["line_items"][1]["total"] = 10.0
    with pytest.raises(MalformedPayload, match="total"):
        WooCommerceConnector.normalize(raw)


# Webhooks: signatures computed here with hmac/hashlib/base64, independently of the connector.


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(
    body: bytes, topic: str = "order.updated", delivery: str = "a1"
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": sign(body),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": delivery,
    }


BODY = json.dumps(woo_order()).encode()
CREDENTIALS = {
    "store_url": "https://shop.example.com",
    "consumer_key": "ck_live",
    "consumer_secret": "cs_live",
    "webhook_secret": SECRET,
}


def test_a_signed_body_verifies_with_any_header_case() -> None:
    headers = webhook_headers(BODY)
    assert WooCommerceConnector.verify_webhook(headers, BODY, CREDENTIALS)
    lowered = {key.lower(): value for key, value in headers.items()}
    assert WooCommerceConnector.verify_webhook(lowered, BODY, CREDENTIALS)
    assert WooCommerceConnector.verify_webhook(Headers(headers), BODY, CREDENTIALS)


def test_tampered_unsigned_or_wrongly_keyed_bodies_fail() -> None:
    headers = webhook_headers(BODY)
    tampered = BODY.replace(b'"39.35"', b'"0.01"')
    assert tampered != BODY
    assert not WooCommerceConnector.verify_webhook(headers, tampered, CREDENTIALS)
    unsigned = {k: v for k, v in headers.items() if k != "X-WC-Webhook-Signature"}
    assert not WooCommerceConnector.verify_webhook(unsigned, BODY, CREDENTIALS)
    wrong = {**CREDENTIALS, "webhook_secret": "other"}
    assert not WooCommerceConnector.verify_webhook(headers, BODY, wrong)


def test_repeated_deliveries_of_one_change_share_a_key_whatever_the_delivery_id() -> None:
    first = WooCommerceConnector.parse_webhook(webhook_headers(BODY, delivery="a1"), BODY)
    again = WooCommerceConnector.parse_webhook(webhook_headers(BODY, delivery="b2"), BODY)
    assert first.kind == again.kind == "order"
    assert first.dedupe_key == again.dedupe_key == "727:2026-11-02T01:15:30"
    assert first.order is not None and first.order.total_minor == 3935
    later = json.dumps(woo_order(date_modified_gmt="2026-11-02T01:20:00")).encode()
    changed = WooCommerceConnector.parse_webhook(webhook_headers(later), later)
    assert changed.dedupe_key == "727:2026-11-02T01:20:00"


def test_deleted_orders_are_ignored_with_the_order_id() -> None:
    body = json.dumps({"id": 727}).encode()
    message = WooCommerceConnector.parse_webhook(webhook_headers(body, "order.deleted"), body)
    assert message.kind == "ignored"
    assert message.detail == {"order_id": 727}
    assert message.order is None


def test_the_unsigned_ping_is_recognised() -> None:
    ping_headers = {"Content-Type": "application/x-www-form-urlencoded", "X-WC-Webhook-ID": "12"}
    assert WooCommerceConnector.is_ping(ping_headers, b"webhook_id=12")
    assert not WooCommerceConnector.is_ping(ping_headers, b"webhook_id=12&x=1")
    assert not WooCommerceConnector.is_ping(ping_headers, b"webhook_id=abc")
    assert not WooCommerceConnector.is_ping(webhook_headers(BODY), BODY)
    signed_ping = {**ping_headers, "X-WC-Webhook-Signature": sign(b"webhook_id=12")}
    assert not WooCommerceConnector.is_ping(signed_ping, b"webhook_id=12")
    # A ping is no order: it does not verify, and it does not parse.
    assert not WooCommerceConnector.verify_webhook(ping_headers, b"webhook_id=12", CREDENTIALS)
    with pytest.raises(MalformedPayload):
        WooCommerceConnector.parse_webhook(
            {**ping_headers, "X-WC-Webhook-Topic": "order.updated"}, b"webhook_id=12"
        )


def test_the_registry_knows_the_connector() -> None:
    assert connector_for("woocommerce") is WooCommerceConnector
    assert WooCommerceConnector.webhook_secret_field == "webhook_secret"


# The pull, against a scripted stand-in for the orders endpoint.

ORDERS_PATH = "/woocommerce/acme/wp-json/wc/v3/orders"


@pytest.fixture(scope="module")
def woo() -> Iterator[tuple[Scripted, str]]:
    scripted = Scripted()
    with LoopbackServer(scripted.app()) as server:
        yield scripted, f"{server.base_url}/woocommerce/acme/"


@pytest.fixture
def connector(woo: tuple[Scripted, str]) -> Iterator[WooCommerceConnector]:
    scripted, base = woo
    scripted.seen.clear()
    fake = FakeTime()
    access = ShopAccess(external_id="acme", credentials=CREDENTIALS, api_base_url=base)
    with ShopHttp("test:woocommerce:acme", sleep=fake.sleep, clock=fake.clock) as http:
        yield WooCommerceConnector(access, http)
    forget_rate_limits("test:woocommerce:acme")


def test_pages_are_numbered_until_the_last_one(
    woo: tuple[Scripted, str], connector: WooCommerceConnector
) -> None:
    scripted, _ = woo
    pages = {"X-WP-Total": "2", "X-WP-TotalPages": "2"}
    scripted.script(
        ORDERS_PATH,
        (200, pages, [woo_order()]),
        (200, pages, [woo_order(id=728, date_modified_gmt="2026-11-02T01:16:00")]),
    )
    start = datetime(2026, 11, 1, 0, 0, 0, 250000, tzinfo=UTC)
    end = datetime(2026, 11, 2, 8, 0, tzinfo=UTC).astimezone()
    page = connector.fetch_page(start, end, None)
    assert [o.external_id for o in page.orders] == ["727"]
    assert page.next_token == "2"
    page = connector.fetch_page(start, end, page.next_token)
    assert [o.external_id for o in page.orders] == ["728"]
    assert page.next_token is None

    first, second = scripted.seen[ORDERS_PATH]
    assert first.params == {
        "page": ["1"],
        "per_page": ["100"],
        "status": ["any"],
        "modified_after": ["2026-11-01T00:00:00"],
        "modified_before": ["2026-11-02T08:00:00"],
        "dates_are_gmt": ["true"],
        "orderby": ["modified"],
        "order": ["asc"],
    }
    assert second.params["page"] == ["2"]
    basic = "Basic " + base64.b64encode(b"ck_live:cs_live").decode()
    assert first.headers["authorization"] == basic


def test_an_empty_window_is_one_empty_page(
    woo: tuple[Scripted, str], connector: WooCommerceConnector
) -> None:
    scripted, _ = woo
    scripted.script(ORDERS_PATH, (200, {"X-WP-Total": "0", "X-WP-TotalPages": "0"}, []))
    page = connector.fetch_page(
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), None
    )
    assert page.orders == []
    assert page.next_token is None


def test_refused_keys_need_reauthorization_and_bad_requests_say_why(
    woo: tuple[Scripted, str], connector: WooCommerceConnector
) -> None:
    scripted, _ = woo
    refused = {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }
    invalid = {
        "code": "rest_invalid_param",
        "message": "Invalid parameter(s): per_page",
        "data": {"status": 400},
    }
    scripted.script(ORDERS_PATH, (401, {}, refused), (400, {}, invalid))
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(ReauthorizationNeeded, match="woocommerce_rest_cannot_view") as info:
        connector.fetch_page(start, end, None)
    assert "cs_live" not in str(info.value)
    with pytest.raises(ConnectorError, match="HTTP 400: rest_invalid_param"):
        connector.fetch_page(start, end, None)
