"""Douyin Shop (抖店): signing, the order normalizer, windows, tokens, flow control and pushes.

Signatures expected here are computed in the test from the strings Douyin's documentation
describes, never by the code under test. Orders follow the ``order.searchList`` answer example of
the documentation, written out by hand. The gateway is a small FastAPI stand-in served on
loopback: it checks every signature itself, keeps its own tokens, and answers in Douyin's
envelope.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.douyin import (
    PAGE_SIZE,
    THROTTLE_ATTEMPTS,
    DouyinConnector,
    decrypt_receiver,
    next_page,
    param_json,
    push_signature,
    search_times,
    sign_request,
)
from daiyun.connectors.errors import (
    ConnectorError,
    MalformedPayload,
    ReauthorizationNeeded,
    RetriesExhausted,
)
from daiyun.connectors.http import RETRY_AFTER_JITTER
from daiyun.core.loopback import serving
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedRefund,
    OrderStatus,
)
from daiyun.sandboxes.marketplaces.server import running_sandbox
from daiyun.sandboxes.marketplaces.state import Faults, SandboxState
from tests.connectors.china import BEIJING, FakeTime, fake_time_http, run_windows, walk
from tests.sandboxes.test_marketplaces import Receiver

APP_KEY = "7012345678901234567"
APP_SECRET = "a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d"
SHOP_ID = "4463798"

# Encrypted receiver fields as Douyin sends them: opaque, never decoded.
ENC_NAME = "#b6cA#JXkPjl7cA/rFzcsR9ZxMxQ==*CgkIARCtHCABKAESPgo8$1$$"
ENC_TEL = "$$Q8mXbnbzqZkP4nPZaVvq0VOEwR2K0J8YBWe4rY5n6mY=*CgkIARCtHCABKAESPgo8$1$$"
ENC_DETAIL = "##u4nWlQvEj1yK3n0aC0xjvA8zZg==*CgkIARCtHCABKAESPgo8$1$$"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# Signing.


def test_param_json_is_compact_with_keys_sorted_at_every_depth() -> None:
    business = {"size": 100, "page": 0, "filter": {"b": [{"z": 1, "y": "二"}], "a": True}}
    assert param_json(business) == (
        '{"filter":{"a":true,"b":[{"y":"二","z":1}]},"page":0,"size":100}'
    )


def test_the_request_signature_is_lowercase_hmac_sha256() -> None:
    body = '{"page":0,"size":100}'
    text = (
        "a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d"
        "app_key7012345678901234567"
        "methodorder.searchList"
        'param_json{"page":0,"size":100}'
        "timestamp2026-11-22 10:00:00"
        "v2"
        "a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d"
    )
    expected = hmac.new(APP_SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    assert expected == expected.lower()
    signed = sign_request(APP_KEY, APP_SECRET, "order.searchList", body, "2026-11-22 10:00:00")
    assert signed == expected


def test_the_push_signature_is_md5_of_key_body_and_secret() -> None:
    body = b'[{"tag":"101","msg_id":"1","data":"{}"}]'
    text = b'7012345678901234567[{"tag":"101","msg_id":"1","data":"{}"}]' + APP_SECRET.encode()
    assert push_signature(APP_KEY, APP_SECRET, body) == md5_hex(text)


# The normalizer.

CREATED = 1763731200  # 2025-11-21 13:20:00 UTC
PAID = CREATED + 47
UPDATED = CREATED + 3600


def douyin_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_id": "6919451736123456789",
        "order_status": 2,
        "order_status_desc": "待发货",
        "create_time": CREATED,
        "pay_time": PAID,
        "update_time": UPDATED,
        "finish_time": 0,
        "order_amount": 14600,
        "pay_amount": 13600,
        "post_amount": 600,
        "promotion_amount": 1000,
        "encrypt_post_receiver": ENC_NAME,
        "encrypt_post_tel": ENC_TEL,
        "post_addr": {
            "province": {"name": "浙江省", "id": "33"},
            "city": {"name": "杭州市", "id": "330100"},
            "town": {"name": "西湖区", "id": "330106"},
            "encrypt_detail": ENC_DETAIL,
        },
        "sku_order_list": [
            {
                "sku_order_id": "6919451736123456790",
                "code": "TEA-XH-100",
                "product_name": "西湖龙井 100g",
                "item_num": 2,
                "origin_amount": 10000,
                "pay_amount": 9200,
            },
            {
                "sku_order_id": "6919451736123456791",
                "code": "",
                "product_name": "茶杯",
                "item_num": 1,
                "origin_amount": 4000,
                "pay_amount": 3800,
            },
        ],
    }
    order.update(changes)
    return order


def test_an_order_is_normalized_exactly() -> None:
    raw = douyin_order()
    order = DouyinConnector.normalize(raw)
    assert order.external_id == "6919451736123456789"
    assert order.status is OrderStatus.paid
    assert order.channel_status == "2"
    assert order.currency == "CNY"
    # Fen are the minor unit already.
    assert (order.total_minor, order.subtotal_minor) == (13600, 14000)
    assert (order.discount_minor, order.shipping_minor, order.tax_minor) == (1000, 600, 0)
    assert order.placed_at == datetime(2025, 11, 21, 13, 20, tzinfo=UTC)
    assert order.paid_at == datetime(2025, 11, 21, 13, 20, 47, tzinfo=UTC)
    assert order.source_updated_at == datetime(2025, 11, 21, 14, 20, tzinfo=UTC)
    assert order.source_offset_minutes == 480
    assert order.lines == [
        NormalizedLine("6919451736123456790", "TEA-XH-100", "西湖龙井 100g", 2, 5000, 800),
        NormalizedLine("6919451736123456791", "", "茶杯", 1, 4000, 200),
    ]
    assert [line.total_minor for line in order.lines] == [9200, 3800]
    assert order.refunds == []
    assert order.raw is raw


def test_a_line_price_that_does_not_split_evenly_stays_exact() -> None:
    sku = {
        "sku_order_id": "1",
        "code": "CUP",
        "product_name": "杯",
        "item_num": 3,
        "origin_amount": 1000,
        "pay_amount": 900,
    }
    order = DouyinConnector.normalize(douyin_order(sku_order_list=[sku]))
    # 10.00 for three: 3.34 a unit, the 0.02 surplus added to the 1.00 discount.
    assert order.lines == [NormalizedLine("1", "CUP", "杯", 3, 334, 102)]
    assert order.lines[0].total_minor == 900
    assert order.subtotal_minor == 1000


def test_encrypted_receiver_fields_are_kept_untouched() -> None:
    order = DouyinConnector.normalize(douyin_order())
    assert order.shipping_address == Address(
        name=ENC_NAME,
        phone=ENC_TEL,
        country="CN",
        province="浙江省",
        city="杭州市",
        district="西湖区",
        address1=ENC_DETAIL,
    )
    address = order.shipping_address
    assert address is not None
    assert (address.name, address.phone, address.address1) == (ENC_NAME, ENC_TEL, ENC_DETAIL)
    assert address.name is ENC_NAME and address.address1 is ENC_DETAIL
    assert (order.buyer_name, order.buyer_phone, order.buyer_email) == (None, None, None)


def test_the_receiver_decryption_hook_refuses_without_echoing_the_fields() -> None:
    with pytest.raises(NotImplementedError, match="decryption API") as info:
        decrypt_receiver({"app_secret": APP_SECRET}, {"encrypt_post_tel": ENC_TEL})
    assert ENC_TEL not in str(info.value)
    assert APP_SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1, OrderStatus.pending),
        (2, OrderStatus.paid),
        (3, OrderStatus.shipped),
        (4, OrderStatus.cancelled),
        (5, OrderStatus.delivered),
        (105, OrderStatus.partially_fulfilled),
        ("3", OrderStatus.shipped),
        (999, OrderStatus.pending),
    ],
)
def test_status_mapping(code: int | str, expected: OrderStatus) -> None:
    order = DouyinConnector.normalize(douyin_order(order_status=code))
    assert order.status is expected
    assert order.channel_status == str(code)


def test_an_unpaid_order_has_no_payment_time() -> None:
    order = DouyinConnector.normalize(douyin_order(order_status=1, pay_time=0))
    assert order.paid_at is None


def test_a_partial_refund_is_recorded() -> None:
    info = {"refund_amount": 3800, "after_sale_status": 12, "refund_time": UPDATED - 60}
    order = DouyinConnector.normalize(douyin_order(order_status=5, after_sale_info=info))
    assert order.status is OrderStatus.partially_refunded
    assert order.channel_status == "5"
    assert order.refunds == [
        NormalizedRefund(
            "6919451736123456789-after-sale", 3800, datetime(2025, 11, 21, 14, 19, tzinfo=UTC)
        )
    ]
    assert order.refunded_minor == 3800


def test_a_full_refund_refunds_the_order_but_a_cancellation_stays_one() -> None:
    info = {"refund_amount": 13600, "after_sale_status": 12, "refund_time": UPDATED}
    order = DouyinConnector.normalize(douyin_order(order_status=3, after_sale_info=info))
    assert order.status is OrderStatus.refunded
    cancelled = DouyinConnector.normalize(douyin_order(order_status=4, after_sale_info=info))
    assert cancelled.status is OrderStatus.cancelled
    assert cancelled.refunded_minor == 13600


def test_an_after_sale_not_yet_refunded_is_no_refund() -> None:
    info = {"refund_amount": 3800, "after_sale_status": 6, "refund_time": 0}
    order = DouyinConnector.normalize(douyin_order(after_sale_info=info))
    assert order.refunds == []
    assert order.status is OrderStatus.paid


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"pay_amount": 136.0}, "pay_amount"),
        ({"post_amount": "6.00"}, "post_amount"),
        ({"update_time": "2025-11-21 22:20:00"}, "update_time"),
        ({"create_time": None}, "create_time"),
        ({"order_id": None}, "order_id"),
        ({"sku_order_list": [{"sku_order_id": "1"}]}, "item_num"),
        ({"encrypt_post_tel": 13800138000}, "encrypted"),
    ],
)
def test_malformed_orders_are_named(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(MalformedPayload, match=named):
        DouyinConnector.normalize(douyin_order(**changes))


def test_the_channel_limits() -> None:
    assert DouyinConnector.channel == "douyin"
    assert DouyinConnector.credential_fields == (
        "app_key",
        "app_secret",
        "access_token",
        "refresh_token",
        "shop_id",
    )
    assert DouyinConnector.webhook_secret_field == "app_secret"
    assert DouyinConnector.max_window == timedelta(days=1)
    assert DouyinConnector.lag == DouyinConnector.overlap == timedelta(minutes=3)
    assert DouyinConnector.history == timedelta(days=90)


# Pushes.

PUSH_CREDENTIALS = {"app_key": APP_KEY, "app_secret": APP_SECRET}


def event(tag: str, msg_id: str, p_id: int, **extra: Any) -> dict[str, Any]:
    data = {"p_id": p_id, "shop_id": int(SHOP_ID), **extra}
    return {"tag": tag, "msg_id": msg_id, "data": json.dumps(data)}


def push_body(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events), separators=(",", ":")).encode()


def signed_headers(body: bytes, app_id: str = APP_KEY) -> dict[str, str]:
    sign = md5_hex(APP_KEY.encode() + body + APP_SECRET.encode())
    return {"app-id": app_id, "event-sign": sign, "Content-Type": "application/json"}


BODY = push_body(
    event("101", "7012345678901234567", 6919451736123456789),
    event("206", "7012345678901234568", 6919451736123456789, aftersale_id=7001),
    event("102", "7012345678901234569", 6919451736000000001),
)


def test_a_correctly_signed_push_verifies() -> None:
    assert DouyinConnector.verify_webhook(signed_headers(BODY), BODY, PUSH_CREDENTIALS)
    # Header names are case-insensitive.
    headers = {k.upper(): v for k, v in signed_headers(BODY).items()}
    assert DouyinConnector.verify_webhook(headers, BODY, PUSH_CREDENTIALS)


def test_a_tampered_body_fails_verification() -> None:
    headers = signed_headers(BODY)
    tampered = BODY.replace(b"6919451736000000001", b"6919451736000000002")
    assert not DouyinConnector.verify_webhook(headers, tampered, PUSH_CREDENTIALS)


def test_another_apps_push_fails_verification() -> None:
    headers = signed_headers(BODY, app_id="7000000000000000000")
    assert not DouyinConnector.verify_webhook(headers, BODY, PUSH_CREDENTIALS)
    other = {"app_key": APP_KEY, "app_secret": "another-secret"}
    assert not DouyinConnector.verify_webhook(signed_headers(BODY), BODY, other)


@pytest.mark.parametrize("missing", ["app-id", "event-sign"])
def test_a_push_without_its_headers_fails_verification(missing: str) -> None:
    headers = signed_headers(BODY)
    del headers[missing]
    assert not DouyinConnector.verify_webhook(headers, BODY, PUSH_CREDENTIALS)
    assert not DouyinConnector.verify_webhook(signed_headers(BODY), BODY, {})


def test_a_push_names_the_orders_to_fetch_again() -> None:
    message = DouyinConnector.parse_webhook({}, BODY)
    assert message.kind == "hint"
    assert message.topic == "doudian_push"
    assert message.order_ids == ["6919451736123456789", "6919451736000000001"]
    msg_ids = ["7012345678901234567", "7012345678901234568", "7012345678901234569"]
    assert message.detail == {
        "msg_ids": msg_ids,
        "tags": ["101", "206", "102"],
        "shop_ids": [SHOP_ID],
    }
    assert message.dedupe_key == hashlib.sha256("\n".join(msg_ids).encode()).hexdigest()
    assert message.order is None


def test_the_same_events_in_another_order_are_a_duplicate() -> None:
    events = json.loads(BODY)
    again = push_body(*reversed(events))
    assert (
        DouyinConnector.parse_webhook({}, again).dedupe_key
        == DouyinConnector.parse_webhook({}, BODY).dedupe_key
    )
    fewer = push_body(*events[:2])
    assert (
        DouyinConnector.parse_webhook({}, fewer).dedupe_key
        != DouyinConnector.parse_webhook({}, BODY).dedupe_key
    )


def test_a_push_naming_no_order_is_ignored() -> None:
    body = push_body({"tag": "0", "msg_id": "1", "data": "{}"})
    message = DouyinConnector.parse_webhook({}, body)
    assert message.kind == "ignored"
    assert message.order_ids == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"tag":"101","msg_id":"1","data":"{}"}',
        b"[]",
        b'["101"]',
        b'[{"msg_id":"1","data":"{}"}]',
        b'[{"tag":"101","data":"{}"}]',
        b'[{"tag":"101","msg_id":"1"}]',
        b'[{"tag":"101","msg_id":"1","data":"{not json"}]',
        b'[{"tag":"101","msg_id":"1","data":"[1]"}]',
        # An order event must name its order.
        b'[{"tag":"101","msg_id":"1","data":"{\\"shop_id\\":1}"}]',
        b"\xff\xfe",
    ],
)
def test_malformed_pushes_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        DouyinConnector.parse_webhook({}, body)


# Windows.


def test_search_times_cover_the_whole_seconds_of_a_half_open_window() -> None:
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    end = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    assert search_times(start, end) == (1795168800, 1795172399)
    assert int(end.timestamp()) == 1795172400
    start = datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)
    end = datetime(2026, 11, 20, 11, 0, 0, 900000, tzinfo=UTC)
    assert search_times(start, end) == (1795168801, 1795172400)
    assert search_times(start, start + timedelta(milliseconds=400)) is None


def test_next_page_starts_at_zero_and_steps_back_when_orders_leave_the_window() -> None:
    assert next_page(0, 250, None, PAGE_SIZE) == 1
    assert next_page(1, 250, 250, PAGE_SIZE) == 2
    assert next_page(2, 250, 250, 50) is None
    assert next_page(0, 0, None, 0) is None
    assert next_page(1, 248, 250, PAGE_SIZE) == 0
    assert next_page(2, 249, 250, PAGE_SIZE) == 1


# The gateway, played by a FastAPI stand-in that checks everything itself.


def expected_sign(query: dict[str, str], body: str) -> str:
    text = (
        f"{APP_SECRET}app_key{query['app_key']}method{query['method']}param_json{body}"
        f"timestamp{query['timestamp']}v{query['v']}{APP_SECRET}"
    )
    return hmac.new(APP_SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def envelope(code: int, msg: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "msg": msg, "sub_code": "", "sub_msg": "", "data": data or {}}


@dataclass
class DouyinState:
    """What the stand-in for Douyin's gateway knows about one app and shop."""

    tokens: set[str] = field(default_factory=lambda: {"at-0"})
    refresh_token: str = "rt-0"
    issued: int = 0
    orders: list[dict[str, Any]] = field(default_factory=list)
    throttle: int = 0
    refuse_refresh: bool = False
    calls: list[tuple[str, dict[str, str], str]] = field(default_factory=list)

    def answer(self, path: str, query: dict[str, str], body: str) -> dict[str, Any]:
        self.calls.append((path, query, body))
        if query.get("method", "").replace(".", "/") != path:
            return envelope(40001, "method does not match the path")
        if query.get("sign") != expected_sign(query, body) or query.get("app_key") != APP_KEY:
            return envelope(40004, "签名错误")
        if query.get("sign_method") != "hmac-sha256" or query.get("v") != "2":
            return envelope(40001, "bad system parameters")
        if body != json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True):
            return envelope(40004, "param_json keys are not sorted")
        sent = datetime.strptime(query["timestamp"], "%Y-%m-%d %H:%M:%S")
        if abs(sent.replace(tzinfo=BEIJING) - datetime.now(UTC)) > timedelta(minutes=10):
            return envelope(40001, "timestamp out of range")
        if self.throttle > 0:
            self.throttle -= 1
            return envelope(50002, "请求过于频繁")
        params = json.loads(body)
        if path == "token/refresh":
            return self.refresh(params)
        if query.get("access_token") not in self.tokens:
            return envelope(30002, "access_token已过期")
        if path == "order/searchList":
            return self.search(params)
        if path == "order/orderDetail":
            wanted = [o for o in self.orders if o["order_id"] == params["shop_order_id"]]
            if not wanted:
                return envelope(40001, "参数错误", {})
            return envelope(10000, "success", {"shop_order_detail": wanted[0]})
        return envelope(40001, "unknown method")

    def refresh(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.refuse_refresh or params != {
            "grant_type": "refresh_token",
            "refresh_token": self.refresh_token,
        }:
            return envelope(30004, "refresh_token无效")
        self.issued += 1
        self.tokens = {f"at-{self.issued}"}
        self.refresh_token = f"rt-{self.issued}"
        data = {
            "access_token": f"at-{self.issued}",
            "expires_in": 604800,
            "refresh_token": self.refresh_token,
            "shop_id": int(SHOP_ID),
        }
        return envelope(10000, "success", data)

    def search(self, params: dict[str, Any]) -> dict[str, Any]:
        low, high = params["update_time_start"], params["update_time_end"]
        matching = sorted(
            (o for o in self.orders if low <= o["update_time"] <= high),
            key=lambda o: (o["update_time"], o["order_id"]),
        )
        page, size = params["page"], params["size"]
        assert params["order_by"] == "update_time" and params["order_asc"] is True
        data = {
            "total": len(matching),
            "page": page,
            "size": size,
            "shop_order_list": matching[page * size : (page + 1) * size],
        }
        return envelope(10000, "success", data)


class FakeDouyin:
    """The stand-in on loopback; each test starts it over with a fresh state."""

    def __init__(self) -> None:
        self.state = DouyinState()
        self.lock = threading.Lock()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/douyin/{shop}/{module}/{action}")
        async def gateway(shop: str, module: str, action: str, request: Request) -> JSONResponse:
            body = (await request.body()).decode()
            with self.lock:
                answer = self.state.answer(f"{module}/{action}", dict(request.query_params), body)
            return JSONResponse(answer)

        return app


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[FakeDouyin, str]]:
    fake_douyin = FakeDouyin()
    with serving(fake_douyin.app(), "douyin-gateway") as url:
        yield fake_douyin, url


@dataclass
class World:
    douyin: DouyinState
    connector: DouyinConnector
    fake: FakeTime


CREDENTIALS = {
    "app_key": APP_KEY,
    "app_secret": APP_SECRET,
    "access_token": "at-0",
    "refresh_token": "rt-0",
    "shop_id": SHOP_ID,
}


@pytest.fixture
def world(gateway: tuple[FakeDouyin, str]) -> Iterator[World]:
    fake_douyin, url = gateway
    fake_douyin.state = DouyinState()
    access = ShopAccess(SHOP_ID, CREDENTIALS, api_base_url=f"{url}/douyin/{SHOP_ID}")
    with fake_time_http("test:douyin") as (http, fake):
        yield World(fake_douyin.state, DouyinConnector(access, http), fake)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 21, hour, minute, second, tzinfo=UTC)


def stored(order_id: int, updated: datetime, **changes: Any) -> dict[str, Any]:
    return douyin_order(order_id=str(order_id), update_time=int(updated.timestamp()), **changes)


def test_the_request_is_signed_and_carries_the_documented_parameters(world: World) -> None:
    world.douyin.orders = [stored(1, at(1, 30))]
    page = world.connector.fetch_page(at(1), at(2), None)
    assert [o.external_id for o in page.orders] == ["1"]
    assert page.next_token is None
    ((path, query, body),) = world.douyin.calls
    assert path == "order/searchList"
    assert {k: v for k, v in query.items() if k not in ("timestamp", "sign")} == {
        "app_key": APP_KEY,
        "method": "order.searchList",
        "access_token": "at-0",
        "v": "2",
        "sign_method": "hmac-sha256",
    }
    assert query["sign"] == expected_sign(query, body)
    start, end = int(at(1).timestamp()), int(at(2).timestamp()) - 1
    assert body == (
        '{"order_asc":true,"order_by":"update_time","page":0,"size":100,'
        f'"update_time_end":{end},"update_time_start":{start}}}'
    )


def test_an_order_updated_exactly_at_a_window_edge_is_fetched_once(world: World) -> None:
    edge = at(0) + DouyinConnector.max_window
    world.douyin.orders = [
        stored(1, edge - timedelta(seconds=1)),
        stored(2, edge),
        stored(3, edge + timedelta(seconds=1)),
    ]
    fetched = run_windows(world.connector, at(0), at(0) + 2 * DouyinConnector.max_window)
    assert sorted(fetched) == ["1", "2", "3"]
    first, second = (json.loads(body) for _, _, body in world.douyin.calls)
    edge_seconds = int(edge.timestamp())
    assert (first["update_time_start"], first["update_time_end"]) == (
        edge_seconds - 86400,
        edge_seconds - 1,
    )
    assert (second["update_time_start"], second["update_time_end"]) == (
        edge_seconds,
        edge_seconds + 86399,
    )


def test_pages_start_at_zero_and_are_walked_until_the_total_is_read(world: World) -> None:
    world.douyin.orders = [stored(n, at(3) + timedelta(seconds=n)) for n in range(1, 251)]
    assert run_windows(world.connector, at(3), at(4)) == [str(n) for n in range(1, 251)]
    assert [json.loads(body)["page"] for _, _, body in world.douyin.calls] == [0, 1, 2]


def test_an_expired_token_is_refreshed_mid_sync_and_kept(world: World) -> None:
    world.douyin.orders = [stored(n, at(3, n)) for n in range(1, 3)]
    assert run_windows(world.connector, at(3), at(3, 1, 30)) == ["1"]
    world.douyin.tokens = set()
    assert run_windows(world.connector, at(3, 1, 30), at(4)) == ["2"]
    paths = [path for path, _, _ in world.douyin.calls]
    assert paths == ["order/searchList", "order/searchList", "token/refresh", "order/searchList"]
    _, refresh_query, refresh_body = world.douyin.calls[2]
    assert "access_token" not in refresh_query
    assert refresh_body == '{"grant_type":"refresh_token","refresh_token":"rt-0"}'
    assert world.connector.refreshed_credentials == {
        "access_token": "at-1",
        "refresh_token": "rt-1",
    }
    assert world.douyin.calls[-1][1]["access_token"] == "at-1"


def test_a_refused_refresh_needs_reauthorization(world: World) -> None:
    world.douyin.tokens = set()
    world.douyin.refuse_refresh = True
    with pytest.raises(ReauthorizationNeeded, match="30004") as info:
        world.connector.fetch_page(at(3), at(4), None)
    assert "rt-0" not in str(info.value)
    assert APP_SECRET not in str(info.value)


def test_a_token_refused_after_a_refresh_needs_reauthorization(world: World) -> None:
    world.douyin.tokens = set()
    original = world.douyin.refresh

    def useless_refresh(params: dict[str, Any]) -> dict[str, Any]:
        answer = original(params)
        world.douyin.tokens = set()
        return answer

    world.douyin.refresh = useless_refresh  # type: ignore[method-assign]
    with pytest.raises(ReauthorizationNeeded, match="30002"):
        world.connector.fetch_page(at(3), at(4), None)
    paths = [path for path, _, _ in world.douyin.calls]
    assert paths == ["order/searchList", "token/refresh", "order/searchList"]


def test_flow_control_answers_are_waited_out_and_retried(world: World) -> None:
    world.douyin.orders = [stored(1, at(3, 5))]
    world.douyin.throttle = 2
    page = world.connector.fetch_page(at(3), at(4), None)
    assert [o.external_id for o in page.orders] == ["1"]
    assert len(world.douyin.calls) == 3
    low, high = RETRY_AFTER_JITTER
    first, second = world.fake.sleeps
    assert 1 + low <= first <= 1 + high
    assert 2 + low <= second <= 2 + high


def test_endless_flow_control_gives_the_run_back(world: World) -> None:
    world.douyin.throttle = 1000
    with pytest.raises(RetriesExhausted, match="flow control"):
        world.connector.fetch_page(at(3), at(4), None)
    assert len(world.douyin.calls) == THROTTLE_ATTEMPTS


def test_a_signature_error_is_a_connector_error(world: World) -> None:
    access = world.connector.shop
    wrong = {**access.credentials, "app_secret": "not-the-secret"}
    connector = DouyinConnector(
        ShopAccess(access.external_id, wrong, access.api_base_url), world.connector.http
    )
    with pytest.raises(ConnectorError, match="signature refused") as info:
        connector.fetch_page(at(3), at(4), None)
    assert not isinstance(info.value, ReauthorizationNeeded)
    assert "not-the-secret" not in str(info.value)


def test_pushed_orders_are_fetched_by_id(world: World) -> None:
    world.douyin.orders = [stored(11, at(3)), stored(12, at(3), order_status=3)]
    orders = world.connector.fetch_orders(["12", "404", "11"])
    assert [(o.external_id, o.status) for o in orders] == [
        ("12", OrderStatus.shipped),
        ("11", OrderStatus.paid),
    ]
    bodies = [json.loads(body) for _, _, body in world.douyin.calls]
    assert bodies == [{"shop_order_id": "12"}, {"shop_order_id": "404"}, {"shop_order_id": "11"}]
    assert {path for path, _, _ in world.douyin.calls} == {"order/orderDetail"}


def test_a_push_hint_round_trip(world: World) -> None:
    world.douyin.orders = [stored(6919451736123456789, at(3)), stored(6919451736000000001, at(3))]
    assert DouyinConnector.verify_webhook(signed_headers(BODY), BODY, PUSH_CREDENTIALS)
    message = DouyinConnector.parse_webhook(signed_headers(BODY), BODY)
    orders = world.connector.fetch_orders(message.order_ids)
    assert [o.external_id for o in orders] == message.order_ids


# End to end against the project's sandbox marketplace, over real HTTP.


def test_a_sandbox_window_walk_and_a_push_round_trip() -> None:
    receiver = Receiver()
    try:
        with running_sandbox(SandboxState(seed=13)) as sandbox:
            state = sandbox.state
            state.register_shop(
                "douyin",
                SHOP_ID,
                dict(CREDENTIALS),
                webhook_url=receiver.url,
                rate={"rate": 1000, "burst": 1000},
            )
            start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
            end = datetime.now(UTC) - DouyinConnector.lag
            created = state.create_orders(
                "douyin", SHOP_ID, 230, start=start, end=end - timedelta(hours=1)
            )
            # One order is partly refunded exactly at the edge between the walk's two windows.
            edge = start + DouyinConnector.max_window
            moved = next(o for o in created if o.paid_at and o.refundable > 100 and not o.refunds)
            state.apply_event(
                "douyin", SHOP_ID, moved.external_id, "refund", amount=100, at=edge, notify=False
            )
            access = ShopAccess(SHOP_ID, CREDENTIALS, sandbox.api_base_url("douyin", SHOP_ID))
            with fake_time_http("test:douyin") as (http, fake):
                connector = DouyinConnector(access, http)
                state.set_faults(Faults(throttle_next=2))
                first = walk(connector, start, edge)
                state.set_faults(Faults(expire_tokens=True))
                second = walk(connector, edge, end)

                # A push names an order; its current state is fetched with orderDetail.
                changed = next(o for o in created if o.paid_at and not o.cancelled_at)
                state.apply_event("douyin", SHOP_ID, changed.external_id, "cancel")
                assert state.webhooks_idle()
                ((_, headers, body),) = receiver.received
                assert DouyinConnector.verify_webhook(headers, body, CREDENTIALS)
                message = DouyinConnector.parse_webhook(headers, body)
                (pushed,) = connector.fetch_orders([*message.order_ids, "6900000000000000000"])
            shop = state.require_shop("douyin", SHOP_ID)
            with state.lock:
                truth = {o.external_id: o for o in shop.orders.values()}
    finally:
        receiver.close()

    fetched = [o.external_id for o in first + second]
    assert len(fetched) == len(set(fetched)) == 230
    assert set(fetched) == set(truth)
    assert moved.external_id in {o.external_id for o in second} - {o.external_id for o in first}
    assert connector.refreshed_credentials is not None
    assert len(fake.sleeps) >= 2

    orders = {o.external_id: o for o in first + second}
    refunded = orders[moved.external_id]
    assert refunded.status is OrderStatus.partially_refunded
    assert refunded.refunded_minor == 100
    assert refunded.source_updated_at == edge
    for order_id, order in orders.items():
        source = truth[order_id]
        if order_id == changed.external_id:
            # Changed after the walk read it: the push below brings the new state.
            continue
        assert order.total_minor == source.total
        assert order.subtotal_minor == source.gross
        assert order.source_updated_at == source.updated_at
        assert sum(line.total_minor for line in order.lines) == source.subtotal
        address = order.shipping_address
        assert address is not None and address.name is not None
        assert address.name.startswith("~") and address.name.endswith("~1~~")
        assert source.address.name not in address.name

    assert message.kind == "hint"
    assert message.order_ids == [changed.external_id]
    assert pushed.external_id == changed.external_id
    assert pushed.status is OrderStatus.cancelled
