"""JD (JOS): signing, the order normalizer, search windows, paging, tokens and flow control.

Signatures expected here are computed in the test from the string JD's documentation describes,
never by the code under test. The orders follow the ``jingdong.pop.order.search`` answer example
of JD's documentation, written out by hand. The gateway is a small FastAPI stand-in served on
loopback: it checks every signature itself, keeps its own tokens, and answers in JD's format.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.jd import (
    PAGE_SIZE,
    SEARCH_SPAN_LIMIT,
    THROTTLE_ATTEMPTS,
    JdConnector,
    _clock_note,
    decrypt_receiver,
    next_page,
    param_json,
    search_dates,
    sign_request,
)
from daiyun.connectors.errors import (
    ConnectorError,
    MalformedPayload,
    ReauthorizationNeeded,
    RetriesExhausted,
)
from daiyun.connectors.http import RETRY_AFTER_JITTER, ShopHttp
from daiyun.core.loopback import serving
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    OrderStatus,
)
from daiyun.sandboxes.marketplaces.server import running_sandbox
from daiyun.sandboxes.marketplaces.state import Faults, SandboxState
from tests.connectors.china import (
    BEIJING,
    FakeTime,
    beijing,
    fake_time_http,
    md5_signature,
    run_windows,
    walk,
)

APP_KEY = "5AE7D3C5A1B2C3D4E5F6A7B8C9D0E1F2"
APP_SECRET = "8f3e2a1b4c5d6e7f8a9b0c1d2e3f4a5b"

# Encrypted consignee fields as JD sends them: opaque, never decoded.
ENC_NAME = "~AgAAAAFkMnRrZXkxAAAAAAABqk8Ck5t3Qw==~1~~"
ENC_MOBILE = "~AgAAAAFkMnRrZXkxAAAAAAABqk8Dm9aYrXzT1w==~1~~"
ENC_ADDRESS = "~AgAAAAFkMnRrZXkxAAAAAAABqk8EpRn2kC0zK8c+q4Z1nA==~1~~"


# Signing.


def test_the_signature_is_upper_md5_over_the_sorted_parameters() -> None:
    params = {
        "method": "jingdong.pop.order.search",
        "app_key": APP_KEY,
        "access_token": "at-1",
        "timestamp": "2026-11-22 10:00:00",
        "v": "2.0",
        "sign_method": "md5",
        "360buy_param_json": '{"page":"1","page_size":"50"}',
    }
    text = (
        APP_SECRET
        + '360buy_param_json{"page":"1","page_size":"50"}'
        + "access_tokenat-1"
        + "app_key5AE7D3C5A1B2C3D4E5F6A7B8C9D0E1F2"
        + "methodjingdong.pop.order.search"
        + "sign_methodmd5"
        + "timestamp2026-11-22 10:00:00"
        + "v2.0"
        + APP_SECRET
    )
    expected = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()
    assert sign_request(params, APP_SECRET) == expected
    # A sign already present does not sign itself.
    assert sign_request({**params, "sign": "X"}, APP_SECRET) == expected


def test_business_parameters_are_compact_json() -> None:
    business = {"start_date": "2026-11-20 08:00:00", "page": "1", "sortType": "1"}
    assert param_json(business) == (
        '{"page":"1","sortType":"1","start_date":"2026-11-20 08:00:00"}'
    )


# The normalizer.


def jd_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "orderId": "285617426319",
        "orderState": "WAIT_SELLER_STOCK_OUT",
        "orderTotalPrice": "268.00",
        "orderSellerPrice": "248.00",
        "orderPayment": "256.00",
        "freightPrice": "8.00",
        "sellerDiscount": "20.00",
        "orderStartTime": "2026-11-20 21:15:03",
        "paymentConfirmTime": "2026-11-20 21:15:47",
        "modified": "2026-11-21 09:02:11",
        "consigneeInfo": {
            "fullname": ENC_NAME,
            "mobile": ENC_MOBILE,
            "fullAddress": ENC_ADDRESS,
            "province": "北京",
            "city": "北京市",
            "county": "朝阳区",
        },
        "itemInfoList": [
            {
                "skuId": "100012043978",
                "outerSkuId": "TEA-LJ-250",
                "skuName": "龙井茶 250g 礼盒装",
                "itemTotal": "2",
                "jdPrice": "119.00",
            },
            {
                "skuId": "100009871234",
                "outerSkuId": "",
                "skuName": "茶具套装",
                "itemTotal": "1",
                "jdPrice": "30.00",
            },
        ],
    }
    order.update(changes)
    return order


def test_an_order_is_normalized_exactly() -> None:
    raw = jd_order()
    order = JdConnector.normalize(raw)
    assert order.external_id == "285617426319"
    assert order.status is OrderStatus.paid
    assert order.channel_status == "WAIT_SELLER_STOCK_OUT"
    assert order.currency == "CNY"
    assert (order.total_minor, order.subtotal_minor) == (25600, 26800)
    assert (order.discount_minor, order.shipping_minor, order.tax_minor) == (2000, 800, 0)
    # Beijing wall-clock times, 8 hours ahead of UTC.
    assert order.placed_at == datetime(2026, 11, 20, 13, 15, 3, tzinfo=UTC)
    assert order.paid_at == datetime(2026, 11, 20, 13, 15, 47, tzinfo=UTC)
    assert order.source_updated_at == datetime(2026, 11, 21, 1, 2, 11, tzinfo=UTC)
    assert order.source_offset_minutes == 480
    assert order.lines == [
        NormalizedLine("100012043978", "TEA-LJ-250", "龙井茶 250g 礼盒装", 2, 11900),
        # No seller SKU: JD's own SKU names the product.
        NormalizedLine("100009871234", "100009871234", "茶具套装", 1, 3000),
    ]
    assert order.refunds == []
    assert order.raw is raw


def test_encrypted_consignee_fields_are_kept_untouched() -> None:
    order = JdConnector.normalize(jd_order())
    assert order.shipping_address == Address(
        name=ENC_NAME,
        phone=ENC_MOBILE,
        country="CN",
        province="北京",
        city="北京市",
        district="朝阳区",
        address1=ENC_ADDRESS,
    )
    address = order.shipping_address
    assert address is not None
    assert address.name is ENC_NAME
    assert address.phone is ENC_MOBILE
    assert address.address1 is ENC_ADDRESS
    assert (order.buyer_name, order.buyer_phone, order.buyer_email) == (None, None, None)


def test_the_receiver_decryption_hook_refuses_without_echoing_the_fields() -> None:
    fields = {"fullname": ENC_NAME, "mobile": ENC_MOBILE}
    with pytest.raises(NotImplementedError, match="encryption SDK") as info:
        decrypt_receiver({"app_key": APP_KEY, "app_secret": APP_SECRET}, fields)
    assert ENC_NAME not in str(info.value)
    assert APP_SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("WAIT_SELLER_STOCK_OUT", OrderStatus.paid),
        ("WAIT_GOODS_RECEIVE_CONFIRM", OrderStatus.shipped),
        ("FINISHED_L", OrderStatus.delivered),
        ("TRADE_CANCELED", OrderStatus.cancelled),
        # Locked by an open cancellation or after-sales request: not the agency's review hold.
        ("LOCKED", OrderStatus.pending),
        ("POP_ORDER_PAUSE", OrderStatus.pending),
    ],
)
def test_status_mapping(state: str, expected: OrderStatus) -> None:
    order = JdConnector.normalize(jd_order(orderState=state))
    assert order.status is expected
    assert order.channel_status == state


@pytest.mark.parametrize("unpaid", [None, "", "0001-01-01 00:00:00"])
def test_an_unpaid_order_has_no_payment_time(unpaid: str | None) -> None:
    order = JdConnector.normalize(jd_order(paymentConfirmTime=unpaid))
    assert order.paid_at is None


def test_yuan_amounts_with_odd_decimals_are_exact() -> None:
    order = JdConnector.normalize(jd_order(orderPayment="0.10", freightPrice="12"))
    assert (order.total_minor, order.shipping_minor) == (10, 1200)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"orderPayment": 256.0}, "orderPayment"),
        ({"orderPayment": "2.567"}, "orderPayment"),
        ({"modified": "2026-11-21T09:02:11+08:00"}, "modified"),
        ({"orderStartTime": None}, "orderStartTime"),
        ({"orderId": None}, "orderId"),
        ({"itemInfoList": [{"skuId": "1", "itemTotal": "x", "jdPrice": "1.00"}]}, "itemTotal"),
        ({"itemInfoList": [{"skuId": "1", "itemTotal": "1"}]}, "jdPrice"),
        ({"consigneeInfo": {"fullname": 12345}}, "encrypted"),
    ],
)
def test_malformed_orders_are_named(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(MalformedPayload, match=named):
        JdConnector.normalize(jd_order(**changes))


def test_the_channel_limits() -> None:
    assert JdConnector.channel == "jd"
    assert JdConnector.credential_fields == (
        "app_key",
        "app_secret",
        "access_token",
        "refresh_token",
    )
    assert JdConnector.webhook_secret_field is None
    assert JdConnector.max_window <= SEARCH_SPAN_LIMIT
    assert JdConnector.lag == JdConnector.overlap == timedelta(minutes=5)
    assert JdConnector.history == timedelta(days=365)
    assert not JdConnector.verify_webhook({}, b"[]", {"app_secret": APP_SECRET})
    with pytest.raises(MalformedPayload):
        JdConnector.parse_webhook({}, b"[]")


# Windows.


def test_search_dates_cover_the_whole_seconds_of_a_half_open_window() -> None:
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    end = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    assert search_dates(start, end) == ("2026-11-20 18:00:00", "2026-11-20 18:59:59")
    # Fractions: an order modified at 11:00:00 is before 11:00:00.9, so in this window.
    start = datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)
    end = datetime(2026, 11, 20, 11, 0, 0, 900000, tzinfo=UTC)
    assert search_dates(start, end) == ("2026-11-20 18:00:01", "2026-11-20 19:00:00")
    # A window holding no whole second asks nothing.
    start = datetime(2026, 11, 20, 10, 0, 0, 100000, tzinfo=UTC)
    assert search_dates(start, start + timedelta(milliseconds=800)) is None


def test_next_page_walks_forward_and_steps_back_when_orders_leave_the_window() -> None:
    assert next_page(1, 120, None, PAGE_SIZE) == 2
    assert next_page(2, 120, 120, PAGE_SIZE) == 3
    assert next_page(3, 120, 120, 20) is None
    assert next_page(1, 0, None, 0) is None
    # Three orders read on page 1 changed again while page 2 was read: up to three unread
    # orders moved onto page 1, so the walk reads it again.
    assert next_page(2, 117, 120, PAGE_SIZE) == 1
    # 60 orders left after page 3 (100 read before it): step back to page 1.
    assert next_page(3, 60, 120, 0) == 1
    # Only one left: the orders at offsets 99.. are still on page 2.
    assert next_page(3, 119, 120, PAGE_SIZE) == 2


# The gateway, played by a FastAPI stand-in that checks everything itself.


def expected_sign(params: dict[str, str]) -> str:
    return md5_signature(params, APP_SECRET)


def error(code: str, en: str) -> dict[str, Any]:
    return {"error_response": {"code": code, "zh_desc": "错误", "en_desc": en}}


@dataclass
class JdState:
    """What the stand-in for JD's gateway and OAuth endpoint knows about one app and vendor."""

    tokens: set[str] = field(default_factory=lambda: {"at-0"})
    refresh_token: str = "rt-0"
    issued: int = 0
    orders: list[dict[str, Any]] = field(default_factory=list)
    # Answers with code 67 before serving normally.
    throttle: int = 0
    # Refuses refreshing; or hands out tokens the gateway then refuses anyway.
    refuse_refresh: bool = False
    refuse_new_tokens: bool = False
    calls: list[dict[str, str]] = field(default_factory=list)
    refreshes: list[dict[str, str]] = field(default_factory=list)

    def refresh(self, query: dict[str, str]) -> JSONResponse:
        self.refreshes.append(query)
        ok = (
            not self.refuse_refresh
            and query.get("app_key") == APP_KEY
            and query.get("app_secret") == APP_SECRET
            and query.get("refresh_token") == self.refresh_token
            and query.get("grant_type") == "refresh_token"
        )
        if not ok:
            return JSONResponse({"code": 402, "msg": "invalid refresh_token"}, 400)
        self.issued += 1
        token = f"at-{self.issued}"
        self.tokens = set() if self.refuse_new_tokens else {token}
        self.refresh_token = f"rt-{self.issued}"
        body = {"access_token": token, "expires_in": 31536000, "refresh_token": self.refresh_token}
        return JSONResponse(body)

    def answer(self, form: dict[str, str]) -> dict[str, Any]:
        self.calls.append(form)
        if form.get("sign") != expected_sign(form) or form.get("app_key") != APP_KEY:
            return error("8", "Invalid signature")
        sent = datetime.strptime(form["timestamp"], "%Y-%m-%d %H:%M:%S")
        if abs(sent.replace(tzinfo=BEIJING) - datetime.now(UTC)) > timedelta(minutes=6):
            return error("9", "Invalid timestamp")
        if self.throttle > 0:
            self.throttle -= 1
            return error("67", "App call limited")
        if form.get("access_token") not in self.tokens:
            return error("19", "Invalid access_token")
        if form.get("method") != "jingdong.pop.order.search":
            return error("21", "Invalid method")
        business = json.loads(form["360buy_param_json"])
        # Both ends inclusive, compared as Beijing wall-clock strings.
        low, high = business["start_date"], business["end_date"]
        matching = sorted(
            (o for o in self.orders if low <= o["modified"] <= high),
            key=lambda o: (o["modified"], o["orderId"]),
        )
        page, size = int(business["page"]), int(business["page_size"])
        chosen = matching[(page - 1) * size : page * size]
        return {
            "jingdong_pop_order_search_responce": {
                "code": "0",
                "searchorderinfo_result": {
                    "apiResult": {"success": True, "chineseErrorMsg": "", "englishErrorMsg": ""},
                    "orderTotal": len(matching),
                    "orderInfoList": chosen,
                },
            }
        }


class FakeJd:
    """The stand-in on loopback; each test starts it over with a fresh state."""

    def __init__(self) -> None:
        self.state = JdState()
        self.lock = threading.Lock()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/jd/{vendor}/routerjson")
        async def router(vendor: str, request: Request) -> JSONResponse:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            with self.lock:
                return JSONResponse(self.state.answer(form))

        @app.post("/jd/{vendor}/oauth2/refresh_token")
        async def refresh(vendor: str, request: Request) -> JSONResponse:
            with self.lock:
                return self.state.refresh(dict(request.query_params))

        return app


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[FakeJd, str]]:
    fake_jd = FakeJd()
    with serving(fake_jd.app(), "jd-gateway") as url:
        yield fake_jd, url


@dataclass
class World:
    jd: JdState
    connector: JdConnector
    fake: FakeTime


CREDENTIALS = {
    "app_key": APP_KEY,
    "app_secret": APP_SECRET,
    "access_token": "at-0",
    "refresh_token": "rt-0",
}


@pytest.fixture
def world(gateway: tuple[FakeJd, str]) -> Iterator[World]:
    fake_jd, url = gateway
    fake_jd.state = JdState()
    access = ShopAccess("10086", CREDENTIALS, api_base_url=f"{url}/jd/10086")
    with fake_time_http("test:jd") as (http, fake):
        yield World(fake_jd.state, JdConnector(access, http), fake)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 21, hour, minute, second, tzinfo=UTC)


def stored(order_id: int, modified: datetime) -> dict[str, Any]:
    return jd_order(orderId=str(order_id), modified=beijing(modified))


def test_the_request_is_signed_and_carries_the_documented_parameters(world: World) -> None:
    world.jd.orders = [stored(1, at(1, 30))]
    page = world.connector.fetch_page(at(1), at(2), None)
    assert [o.external_id for o in page.orders] == ["1"]
    assert page.next_token is None
    (form,) = world.jd.calls
    assert form["method"] == "jingdong.pop.order.search"
    assert (form["v"], form["sign_method"], form["access_token"]) == ("2.0", "md5", "at-0")
    assert form["sign"] == expected_sign(form)
    assert json.loads(form["360buy_param_json"]) == {
        "start_date": "2026-11-21 09:00:00",
        "end_date": "2026-11-21 09:59:59",
        "order_state": "WAIT_SELLER_STOCK_OUT,WAIT_GOODS_RECEIVE_CONFIRM,FINISHED_L,"
        "TRADE_CANCELED,LOCKED",
        "optional_fields": "orderId,orderState,orderTotalPrice,orderSellerPrice,orderPayment,"
        "freightPrice,sellerDiscount,orderStartTime,paymentConfirmTime,modified,consigneeInfo,"
        "itemInfoList",
        "page": "1",
        "page_size": "50",
        "sortType": "1",
        "dateType": "1",
    }


def test_an_order_modified_exactly_at_a_window_edge_is_fetched_once(world: World) -> None:
    edge = at(0) + JdConnector.max_window
    world.jd.orders = [
        stored(1, edge - timedelta(seconds=1)),
        stored(2, edge),
        stored(3, edge + timedelta(seconds=1)),
    ]
    fetched = run_windows(world.connector, at(0), at(0) + 2 * JdConnector.max_window)
    assert sorted(fetched) == ["1", "2", "3"]
    first, second = (json.loads(c["360buy_param_json"]) for c in world.jd.calls)
    # The edge is 2026-11-22 00:00:00 UTC, 08:00:00 in Beijing.
    assert (first["start_date"], first["end_date"]) == (
        "2026-11-21 08:00:00",
        "2026-11-22 07:59:59",
    )
    assert (second["start_date"], second["end_date"]) == (
        "2026-11-22 08:00:00",
        "2026-11-23 07:59:59",
    )


def test_the_next_run_rereads_its_overlap_and_nothing_else(world: World) -> None:
    cursor = at(6)
    world.jd.orders = [stored(1, cursor - timedelta(minutes=6)), stored(2, cursor)]
    assert run_windows(world.connector, at(0), cursor) == ["1"]
    # The sync engine starts the next run one overlap before the cursor.
    assert run_windows(world.connector, cursor - JdConnector.overlap, at(7)) == ["2"]
    last = json.loads(world.jd.calls[-1]["360buy_param_json"])
    assert last["start_date"] == "2026-11-21 13:55:00"


def test_pages_are_walked_in_order_until_the_total_is_read(world: World) -> None:
    world.jd.orders = [stored(n, at(3, n // 60, n % 60)) for n in range(1, 121)]
    fetched = run_windows(world.connector, at(3), at(4))
    assert fetched == [str(n) for n in range(1, 121)]
    pages = [json.loads(c["360buy_param_json"])["page"] for c in world.jd.calls]
    assert pages == ["1", "2", "3"]


def test_an_expired_token_is_refreshed_mid_sync_and_kept(world: World) -> None:
    world.jd.orders = [stored(n, at(3, n)) for n in range(1, 3)]
    assert run_windows(world.connector, at(3), at(3, 1, 30)) == ["1"]
    assert world.connector.refreshed_credentials is None
    # The token dies between two windows.
    world.jd.tokens = set()
    assert run_windows(world.connector, at(3, 1, 30), at(4)) == ["2"]
    assert world.jd.refreshes == [
        {
            "app_key": APP_KEY,
            "app_secret": APP_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": "rt-0",
        }
    ]
    assert world.connector.refreshed_credentials == {
        "access_token": "at-1",
        "refresh_token": "rt-1",
    }
    assert [c["access_token"] for c in world.jd.calls] == ["at-0", "at-0", "at-1"]
    # The new token serves the rest of the run without another refresh.
    run_windows(world.connector, at(4), at(5))
    assert world.jd.calls[-1]["access_token"] == "at-1"
    assert len(world.jd.refreshes) == 1


def test_a_token_refused_after_a_refresh_needs_reauthorization(world: World) -> None:
    world.jd.tokens = set()
    world.jd.refuse_new_tokens = True
    with pytest.raises(ReauthorizationNeeded, match="19") as info:
        world.connector.fetch_page(at(3), at(4), None)
    assert len(world.jd.refreshes) == 1
    assert len(world.jd.calls) == 2
    assert APP_SECRET not in str(info.value)


def test_a_refused_refresh_token_needs_reauthorization(world: World) -> None:
    world.jd.tokens = set()
    world.jd.refuse_refresh = True
    with pytest.raises(ReauthorizationNeeded, match="HTTP 400") as info:
        world.connector.fetch_page(at(3), at(4), None)
    assert "rt-0" not in str(info.value)
    assert APP_SECRET not in str(info.value)
    assert world.connector.refreshed_credentials is None


def test_flow_control_answers_are_waited_out_and_retried(world: World) -> None:
    world.jd.orders = [stored(1, at(3, 5))]
    world.jd.throttle = 2
    page = world.connector.fetch_page(at(3), at(4), None)
    assert [o.external_id for o in page.orders] == ["1"]
    assert len(world.jd.calls) == 3
    # Waits of 1 s then 2 s, each with a little jitter, on the shop's shared bucket.
    low, high = RETRY_AFTER_JITTER
    first, second = world.fake.sleeps
    assert 1 + low <= first <= 1 + high
    assert 2 + low <= second <= 2 + high
    assert world.connector.http.waited == pytest.approx(first + second)


def test_endless_flow_control_gives_the_run_back(world: World) -> None:
    world.jd.throttle = 1000
    with pytest.raises(RetriesExhausted, match="flow control"):
        world.connector.fetch_page(at(3), at(4), None)
    assert len(world.jd.calls) == THROTTLE_ATTEMPTS
    assert all(wait <= world.connector.http.max_backoff + 0.25 for wait in world.fake.sleeps)


def test_other_errors_are_connector_errors(world: World) -> None:
    access = world.connector.shop
    wrong = {**access.credentials, "app_secret": "not-the-secret"}
    connector = JdConnector(
        ShopAccess(access.external_id, wrong, access.api_base_url), world.connector.http
    )
    with pytest.raises(ConnectorError, match="signature refused") as info:
        connector.fetch_page(at(3), at(4), None)
    assert not isinstance(info.value, ReauthorizationNeeded)
    assert "not-the-secret" not in str(info.value)


def test_a_window_wider_than_jd_allows_is_refused_before_asking() -> None:
    http = ShopHttp(f"test:jd:{uuid.uuid4()}")
    access = ShopAccess(
        "10086",
        {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": "a", "refresh_token": "r"},
        "http://127.0.0.1:9",
    )
    with http, pytest.raises(ConnectorError, match="at most 30 days"):
        JdConnector(access, http).fetch_page(at(0), at(0) + timedelta(days=31), None)
    assert http.calls == 0


def test_missing_credentials_are_named_without_values() -> None:
    with (
        ShopHttp(f"test:jd:{uuid.uuid4()}") as http,
        pytest.raises(ConnectorError, match="refresh_token"),
    ):
        JdConnector(ShopAccess("10086", {"access_token": "secret-token"}), http)


def test_an_error_from_a_server_with_a_skewed_clock_says_so() -> None:
    skewed = datetime.now(UTC) - timedelta(minutes=9)
    response = httpx.Response(200, headers={"Date": format_datetime(skewed, usegmt=True)})
    assert "6 minutes" in _clock_note(response)
    fine = httpx.Response(200, headers={"Date": format_datetime(datetime.now(UTC), usegmt=True)})
    assert _clock_note(fine) == ""
    assert _clock_note(httpx.Response(200)) == ""


def test_orders_changing_during_the_walk_hide_no_unread_order(world: World) -> None:
    world.jd.orders = [stored(n, at(3) + timedelta(seconds=n)) for n in range(1, 121)]
    connector = world.connector
    first = connector.fetch_page(at(3), at(4), None)
    assert [o.external_id for o in first.orders] == [str(n) for n in range(1, 51)]
    # Three orders already read change again: their new time is past the window.
    for order in world.jd.orders[:3]:
        order["modified"] = beijing(at(5))
    fetched = [o.external_id for o in first.orders]
    token = first.next_token
    while token is not None:
        page = connector.fetch_page(at(3), at(4), token)
        fetched.extend(o.external_id for o in page.orders)
        token = page.next_token
    assert set(fetched) == {str(n) for n in range(1, 121)}
    pages = [json.loads(c["360buy_param_json"])["page"] for c in world.jd.calls]
    assert pages == ["1", "2", "1", "2", "3"]


# End to end against the project's sandbox marketplace, over real HTTP.


def test_a_sandbox_window_walk_fetches_every_order_once() -> None:
    vendor = "10086"
    with running_sandbox(SandboxState(seed=11)) as sandbox:
        state = sandbox.state
        state.register_shop("jd", vendor, dict(CREDENTIALS), rate={"rate": 1000, "burst": 1000})
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
        end = datetime.now(UTC) - JdConnector.lag
        created = state.create_orders("jd", vendor, 130, start=start, end=end - timedelta(hours=1))
        # One order changes exactly at the edge between the walk's two windows.
        edge = start + JdConnector.max_window
        moved = next(o for o in created if not o.cancelled_at and o.created_at < edge)
        state.apply_event("jd", vendor, moved.external_id, "cancel", at=edge, notify=False)
        access = ShopAccess(vendor, CREDENTIALS, sandbox.api_base_url("jd", vendor))
        with fake_time_http("test:jd") as (http, fake):
            connector = JdConnector(access, http)
            state.set_faults(Faults(throttle_next=2))
            first = walk(connector, start, edge)
            # Every token issued so far dies between the two windows.
            state.set_faults(Faults(expire_tokens=True))
            second = walk(connector, edge, end)
        shop = state.require_shop("jd", vendor)
        with state.lock:
            truth = {o.external_id: o for o in shop.orders.values()}
    fetched = [o.external_id for o in first + second]
    assert len(fetched) == len(set(fetched)) == 130
    assert set(fetched) == set(truth)
    assert moved.external_id in {o.external_id for o in second} - {o.external_id for o in first}
    assert connector.refreshed_credentials is not None
    assert connector.refreshed_credentials["access_token"] != "at-0"
    # The injected flow-control answers were waited out on the fake clock.
    assert len(fake.sleeps) >= 2

    orders = {o.external_id: o for o in first + second}
    cancelled = orders[moved.external_id]
    assert cancelled.status is OrderStatus.cancelled
    assert cancelled.source_updated_at == edge
    for order_id, order in orders.items():
        source = truth[order_id]
        assert order.total_minor == source.total
        assert order.source_updated_at == source.updated_at
        assert sum(line.unit_price_minor * line.quantity for line in order.lines) == source.gross
        address = order.shipping_address
        assert address is not None and address.name is not None
        assert address.name.startswith("~") and address.name.endswith("~1~~")
        assert source.address.name not in address.name
