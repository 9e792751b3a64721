"""Amazon SP-API: Orders v0 normalized exactly, the LWA token lifecycle, the pull's wire format.

The payloads follow the getOrders and getOrderItems examples of the Selling Partner API
documentation, written out by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest

from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.amazon import AmazonConnector
from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.errors import ConnectorError, MalformedPayload, ReauthorizationNeeded
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.platform.orders.normalized import Address, NormalizedLine, OrderStatus
from tests.connectors.test_http_client import FakeTime, LoopbackServer, Scripted, Seen


def usd(amount: str) -> dict[str, str]:
    return {"CurrencyCode": "USD", "Amount": amount}


def amazon_items() -> list[dict[str, Any]]:
    return [
        {
            "OrderItemId": "68828574383266",
            "SellerSKU": "CBA_OTF_1",
            "ASIN": "B00551Q3CS",
            "Title": "Example item name",
            "QuantityOrdered": 3,
            "QuantityShipped": 0,
            "ItemPrice": usd("50.00"),
            "ItemTax": usd("4.13"),
            "PromotionDiscount": usd("5.00"),
            "ShippingPrice": usd("6.99"),
            "ShippingTax": usd("0.34"),
        },
        {
            "OrderItemId": "68828574383267",
            "SellerSKU": "",
            "ASIN": "B00099XYZA",
            "Title": "Gift wrap",
            "QuantityOrdered": 1,
            "QuantityShipped": 0,
            "ItemPrice": usd("5.00"),
            "ItemTax": usd("0.00"),
            "PromotionDiscount": usd("0.00"),
        },
    ]


def amazon_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "AmazonOrderId": "113-8871252-1925049",
        "PurchaseDate": "2026-11-01T10:00:00Z",
        "LastUpdateDate": "2026-11-02T01:15:30Z",
        "OrderStatus": "Unshipped",
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "OrderTotal": usd("61.46"),
        "MarketplaceId": "ATVPDKIKX0DER",
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": 4,
        "BuyerInfo": {"BuyerEmail": "5vlhdfbj7f0gtzt@marketplace.amazon.com"},
        "ShippingAddress": {
            "Name": "Jane Roe",
            "AddressLine1": "410 Terry Ave N",
            "City": "Seattle",
            "StateOrRegion": "WA",
            "PostalCode": "98109-5210",
            "CountryCode": "US",
            "Phone": "+1 206-266-1000",
        },
    }
    order.update(changes)
    return order


def test_an_order_with_its_items_is_normalized_exactly() -> None:
    raw = {**amazon_order(), "OrderItems": amazon_items()}
    order = AmazonConnector.normalize(raw)
    assert order.external_id == "113-8871252-1925049"
    assert order.status is OrderStatus.paid
    assert order.channel_status == "Unshipped"
    assert order.currency == "USD"
    assert (order.total_minor, order.subtotal_minor, order.discount_minor) == (6146, 5500, 500)
    assert (order.shipping_minor, order.tax_minor) == (699, 447)
    assert order.placed_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert order.source_updated_at == datetime(2026, 11, 2, 1, 15, 30, tzinfo=UTC)
    assert order.source_offset_minutes == 0
    assert order.paid_at is None
    assert order.buyer_email == "5vlhdfbj7f0gtzt@marketplace.amazon.com"
    assert order.buyer_name == "Jane Roe"
    assert order.buyer_phone == "+1 206-266-1000"
    assert order.shipping_address == Address(
        name="Jane Roe",
        phone="+1 206-266-1000",
        country="US",
        province="WA",
        city="Seattle",
        address1="410 Terry Ave N",
        postal_code="98109-5210",
    )
    assert order.lines == [
        # ItemPrice is for all three: 50.00 / 3 rounds up to 16.67, the 0.01 surplus as discount.
        NormalizedLine("68828574383266", "CBA_OTF_1", "Example item name", 3, 1667, 501, 413),
        # No seller SKU: the ASIN names the product.
        NormalizedLine("68828574383267", "B00099XYZA", "Gift wrap", 1, 500, 0, 0),
    ]
    assert [line.total_minor for line in order.lines] == [4500, 500]
    assert order.refunds == []
    assert order.raw is raw


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("PendingAvailability", OrderStatus.pending),
        ("Pending", OrderStatus.pending),
        ("Unshipped", OrderStatus.paid),
        ("PartiallyShipped", OrderStatus.partially_fulfilled),
        ("Shipped", OrderStatus.shipped),
        ("InvoiceUnconfirmed", OrderStatus.shipped),
        ("Canceled", OrderStatus.cancelled),
        ("Unfulfillable", OrderStatus.cancelled),
    ],
)
def test_status_mapping(status: str, expected: OrderStatus) -> None:
    order = AmazonConnector.normalize(amazon_order(OrderStatus=status))
    assert order.status is expected
    assert order.channel_status == status


def test_a_pending_order_without_total_takes_its_amounts_from_the_items() -> None:
    raw = amazon_order(OrderStatus="Pending", OrderItems=amazon_items())
    del raw["OrderTotal"]
    order = AmazonConnector.normalize(raw)
    assert order.currency == "USD"
    assert order.total_minor == 6146


def test_an_order_without_any_amount_is_malformed() -> None:
    raw = amazon_order(OrderStatus="Pending")
    del raw["OrderTotal"]
    with pytest.raises(MalformedPayload, match="OrderTotal"):
        AmazonConnector.normalize(raw)


def test_restricted_buyer_data_stays_empty() -> None:
    raw = amazon_order(BuyerInfo={}, ShippingAddress=None)
    order = AmazonConnector.normalize(raw)
    assert (order.buyer_name, order.buyer_email, order.buyer_phone) == (None, None, None)
    assert order.shipping_address is None


@pytest.mark.parametrize(
    "missing", ["AmazonOrderId", "OrderStatus", "PurchaseDate", "LastUpdateDate"]
)
def test_missing_required_fields_are_named(missing: str) -> None:
    raw = amazon_order()
    del raw[missing]
    with pytest.raises(MalformedPayload, match=missing):
        AmazonConnector.normalize(raw)


def test_items_in_another_currency_or_without_quantity_are_malformed() -> None:
    items = amazon_items()
    items[0]["ItemPrice"] = {"CurrencyCode": "EUR", "Amount": "50.00"}
    with pytest.raises(MalformedPayload, match="ItemPrice"):
        AmazonConnector.normalize(amazon_order(OrderItems=items))
    items = amazon_items()
    del items[1]["QuantityOrdered"]
    with pytest.raises(MalformedPayload, match="QuantityOrdered"):
        AmazonConnector.normalize(amazon_order(OrderItems=items))


def test_amazon_does_not_push_over_http() -> None:
    assert connector_for("amazon") is AmazonConnector
    assert AmazonConnector.webhook_secret_field is None
    body = json.dumps(amazon_order()).encode()
    assert not AmazonConnector.verify_webhook({}, body, {"refresh_token": "x"})
    with pytest.raises(MalformedPayload):
        AmazonConnector.parse_webhook({}, body)


def test_the_pull_keeps_last_updated_before_clear_of_amazons_two_minutes() -> None:
    assert AmazonConnector.lag.total_seconds() >= 120


# The pull, against a scripted stand-in for LWA and the Orders API.

TOKEN = "/amazon/auth/o2/token"
ORDERS = "/amazon/orders/v0/orders"
CREDENTIALS = {
    "seller_id": "A2EXAMPLE",
    "marketplace_ids": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"],
    "lwa_client_id": "amzn1.application-oa2-client.x",
    "lwa_client_secret": "lwa-secret",
    "refresh_token": "Atzr|refresh",
}
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "The access token you provided has expired.",
        }
    ]
}


class Lwa:
    """Hands out numbered access tokens."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.issued = 0
        self.expires_in = expires_in

    def __call__(self, seen: Seen) -> tuple[int, dict[str, str], Any]:
        self.issued += 1
        body = {
            "access_token": f"Atza|{self.issued}",
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": "Atzr|refresh",
        }
        return 200, {}, body


@pytest.fixture(scope="module")
def amazon() -> Iterator[tuple[Scripted, str]]:
    scripted = Scripted()
    with LoopbackServer(scripted.app()) as server:
        yield scripted, f"{server.base_url}/amazon"


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def connector(amazon: tuple[Scripted, str], fake: FakeTime) -> Iterator[AmazonConnector]:
    scripted, base = amazon
    scripted.seen.clear()
    scripted.answers.clear()
    scripted.defaults.clear()
    access = ShopAccess(external_id="A2EXAMPLE", credentials=CREDENTIALS, api_base_url=base)
    with ShopHttp("test:amazon:A2EXAMPLE", sleep=fake.sleep, clock=fake.clock) as http:
        yield AmazonConnector(access, http)
    forget_rate_limits("test:amazon:A2EXAMPLE")


def items_answer(order_id: str) -> tuple[int, dict[str, str], Any]:
    payload = {"AmazonOrderId": order_id, "OrderItems": amazon_items()}
    return 200, {"x-amzn-RateLimit-Limit": "0.5"}, {"payload": payload}


WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, 0, 0, 0, 900000, tzinfo=UTC))


def test_pages_carry_items_and_one_token_serves_the_whole_run(
    amazon: tuple[Scripted, str], connector: AmazonConnector
) -> None:
    scripted, _ = amazon
    lwa = Lwa()
    scripted.script(TOKEN, default=lwa)
    second_id = "113-0000000-0000002"
    scripted.script(
        ORDERS,
        (
            200,
            {},
            {"payload": {"Orders": [amazon_order()], "NextToken": "2YgYW55IGNhcm5hbCBwbGVh"}},
        ),
        (200, {}, {"payload": {"Orders": [amazon_order(AmazonOrderId=second_id)]}}),
    )
    scripted.script(f"{ORDERS}/113-8871252-1925049/orderItems", items_answer("113-8871252-1925049"))
    scripted.script(f"{ORDERS}/{second_id}/orderItems", items_answer(second_id))

    page = connector.fetch_page(*WINDOW, None)
    assert [o.external_id for o in page.orders] == ["113-8871252-1925049"]
    assert page.orders[0].lines[0].unit_price_minor == 1667
    assert page.next_token == "2YgYW55IGNhcm5hbCBwbGVh"
    page = connector.fetch_page(*WINDOW, page.next_token)
    assert [o.external_id for o in page.orders] == [second_id]
    assert page.next_token is None

    assert lwa.issued == 1
    (token_request,) = scripted.seen[TOKEN]
    assert token_request.method == "POST"
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["Atzr|refresh"],
        "client_id": ["amzn1.application-oa2-client.x"],
        "client_secret": ["lwa-secret"],
    }
    first, second = scripted.seen[ORDERS]
    assert first.params == {
        "MarketplaceIds": ["ATVPDKIKX0DER,A2EUQ1WTGCTBG2"],
        "LastUpdatedAfter": ["2026-11-01T00:00:00Z"],
        "LastUpdatedBefore": ["2026-11-02T00:00:00Z"],
        "MaxResultsPerPage": ["100"],
    }
    assert second.params == {
        "MarketplaceIds": ["ATVPDKIKX0DER,A2EUQ1WTGCTBG2"],
        "NextToken": ["2YgYW55IGNhcm5hbCBwbGVh"],
    }
    assert {s.headers["x-amz-access-token"] for s in (first, second)} == {"Atza|1"}
    # The orderItems answers set the shop's pace.
    assert connector.http.rate == 0.5


def test_the_token_is_renewed_a_minute_before_it_expires(
    amazon: tuple[Scripted, str], connector: AmazonConnector, fake: FakeTime
) -> None:
    scripted, _ = amazon
    lwa = Lwa(expires_in=300)
    scripted.script(TOKEN, default=lwa)
    scripted.script(ORDERS, default=(200, {}, {"payload": {"Orders": []}}))
    connector.fetch_page(*WINDOW, None)
    fake.now += 239
    connector.fetch_page(*WINDOW, None)
    assert lwa.issued == 1
    fake.now += 2
    connector.fetch_page(*WINDOW, None)
    assert lwa.issued == 2
    assert scripted.seen[ORDERS][-1].headers["x-amz-access-token"] == "Atza|2"


def test_a_refused_token_is_renewed_once_then_the_call_repeated(
    amazon: tuple[Scripted, str], connector: AmazonConnector
) -> None:
    scripted, _ = amazon
    lwa = Lwa()
    scripted.script(TOKEN, default=lwa)
    scripted.script(ORDERS, (403, {}, UNAUTHORIZED), (200, {}, {"payload": {"Orders": []}}))
    page = connector.fetch_page(*WINDOW, None)
    assert page.orders == []
    assert lwa.issued == 2
    assert [s.headers["x-amz-access-token"] for s in scripted.seen[ORDERS]] == [
        "Atza|1",
        "Atza|2",
    ]


def test_a_token_refused_again_needs_reauthorization(
    amazon: tuple[Scripted, str], connector: AmazonConnector
) -> None:
    scripted, _ = amazon
    lwa = Lwa()
    scripted.script(TOKEN, default=lwa)
    scripted.script(ORDERS, default=(403, {}, UNAUTHORIZED))
    with pytest.raises(ReauthorizationNeeded, match="Unauthorized"):
        connector.fetch_page(*WINDOW, None)
    assert lwa.issued == 2
    assert len(scripted.seen[ORDERS]) == 2


def test_a_revoked_refresh_token_needs_reauthorization(
    amazon: tuple[Scripted, str], connector: AmazonConnector
) -> None:
    scripted, _ = amazon
    grant = {"error": "invalid_grant", "error_description": "The request has an invalid grant."}
    scripted.script(TOKEN, default=(400, {}, grant))
    with pytest.raises(ReauthorizationNeeded, match="invalid_grant") as info:
        connector.fetch_page(*WINDOW, None)
    assert "lwa-secret" not in str(info.value)
    assert "Atzr|refresh" not in str(info.value)
    assert ORDERS not in scripted.seen


def test_a_window_too_close_to_now_is_a_connector_error(
    amazon: tuple[Scripted, str], connector: AmazonConnector
) -> None:
    scripted, _ = amazon
    scripted.script(TOKEN, default=Lwa())
    invalid = {
        "errors": [
            {
                "code": "InvalidInput",
                "message": "Date provided must be at least 2 minutes before the request time.",
            }
        ]
    }
    scripted.script(ORDERS, (400, {}, invalid))
    with pytest.raises(ConnectorError, match="HTTP 400: InvalidInput") as info:
        connector.fetch_page(*WINDOW, None)
    assert not isinstance(info.value, ReauthorizationNeeded)
