"""Taobao / Tmall (TOP): signing, normalization, the backwards walk, tokens, flow control, TMC.

Signature vectors are worked out in the test itself from the documented recipe. The pull runs
over real HTTP against a small scripted TOP gateway on loopback whose list answers newest first
and can change between two page requests, as the real one does while a shop keeps selling. The
TMC consumer runs against a scripted WebSocket server in a thread. No database is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from websockets.sync.server import ServerConnection

from daiyun.connectors.channels import taobao_tmc
from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.taobao import (
    DescendingWalk,
    TaobaoConnector,
    decrypt_receiver,
    sign,
    whole_seconds,
)
from daiyun.connectors.channels.taobao_tmc import TmcConsumer
from daiyun.connectors.errors import (
    MalformedPayload,
    ReauthorizationNeeded,
    RetriesExhausted,
)
from daiyun.core.loopback import serving
from daiyun.platform.orders.normalized import NormalizedOrder, OrderStatus
from tests.connectors.china import BEIJING as BJ
from tests.connectors.china import (
    WINDOW_END,
    WINDOW_START,
    FakeTime,
    fake_time_http,
    md5_signature,
    md5_upper,
    pull,
    run_consumer,
    sandbox_shop,
    shop_http_at_rate,
    ws_server,
)
from tests.connectors.china import beijing as bj

# A fixture: imported (as a re-export) for pytest to find it here.
from tests.connectors.china import fast_push as fast_push

APP_KEY = "12345678"
APP_SECRET = "top-app-secret"
LIST = "taobao.trades.sold.increment.get"
FULLINFO = "taobao.trade.fullinfo.get"
# Encrypted receiver fields as TOP sends them: opaque, never decoded.
ENC_NAME = "~AgAAAAEnZ0QB2l7cVwAbJDGZp6mwUXfXVQiXl+qu2J8=~1~~"
ENC_MOBILE = "~AgAAAAEnZ0QC/q3VbHm3n0Vfl0F1xkqvN1f3N2A4xqU=~1~~"
ENC_ADDRESS = "~AgAAAAEnZ0QDxX0d6cdW+KqT6S0J0Ty0zj0Ya6s4nXU=~1~~"


def top_sign(params: dict[str, str], secret: str) -> str:
    """The md5 recipe, written out independently for the scripted gateway to check requests."""
    return md5_signature(params, secret, skip_empty=True)


# Signing.

SIGNED_PARAMS = {
    "method": "taobao.trade.fullinfo.get",
    "app_key": "12345678",
    "session": "6102a1b2c3",
    "timestamp": "2024-03-01 10:00:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "fields": "tid,status,orders",
    "tid": "2231958349942536",
    "empty": "",
    "Zeta": "upper-case names sort first in byte order",
}
# Sorted by name in byte order, empty values left out, sign excluded.
SIGNED_TEXT = (
    "Zetaupper-case names sort first in byte order"
    "app_key12345678"
    "fieldstid,status,orders"
    "formatjson"
    "methodtaobao.trade.fullinfo.get"
    "session6102a1b2c3"
    "sign_methodmd5"
    "tid2231958349942536"
    "timestamp2024-03-01 10:00:00"
    "v2.0"
)


def test_md5_signature_wraps_the_sorted_pairs_in_the_secret() -> None:
    expected = md5_upper("helloworld" + SIGNED_TEXT + "helloworld")
    assert sign(SIGNED_PARAMS, "helloworld", "md5") == expected
    # The sign parameter itself never takes part.
    assert sign({**SIGNED_PARAMS, "sign": "X"}, "helloworld", "md5") == expected


def test_hmac_signatures_key_the_hash_with_the_secret() -> None:
    md5 = hmac.new(b"helloworld", SIGNED_TEXT.encode(), hashlib.md5).hexdigest().upper()
    sha = hmac.new(b"helloworld", SIGNED_TEXT.encode(), hashlib.sha256).hexdigest().upper()
    assert sign(SIGNED_PARAMS, "helloworld", "hmac") == md5
    assert sign(SIGNED_PARAMS, "helloworld", "hmac-sha256") == sha


def test_signature_of_chinese_values_hashes_utf8() -> None:
    params = {"b": "店铺", "a": "1"}
    expected = md5_upper("ka1b店铺k")
    assert sign(params, "k", "md5") == expected


def test_unknown_sign_method_is_refused() -> None:
    with pytest.raises(ValueError, match="sign_method"):
        sign({"a": "1"}, "k", "sha1")


# Normalization, from the documented fullinfo shape.


def fullinfo_trade(**overrides: Any) -> dict[str, Any]:
    trade: dict[str, Any] = {
        "tid": 2231958349942536,
        "status": "WAIT_SELLER_SEND_GOODS",
        "created": "2024-03-01 09:15:30",
        "modified": "2024-03-01 10:02:11",
        "pay_time": "2024-03-01 09:16:02",
        "payment": "188.00",
        "total_fee": "198.00",
        "post_fee": "10.00",
        "discount_fee": "20.00",
        "buyer_open_uid": "AAGh3Ku1AAcBYLxTgm7Vpz8D",
        "receiver_name": ENC_NAME,
        "receiver_mobile": ENC_MOBILE,
        "receiver_state": "浙江省",
        "receiver_city": "杭州市",
        "receiver_district": "余杭区",
        "receiver_address": ENC_ADDRESS,
        "receiver_zip": "311100",
        "oaid": "1BPvx8kqnicRUYHyy7wOPxiaR0JKbZxW2lkYzvMViaJ6g",
        "orders": {
            "order": [
                {
                    "oid": 2231958349952536,
                    "num_iid": 612345678901,
                    "outer_sku_id": "TEE-RED-M",
                    "title": "纯棉T恤 红色 M",
                    "num": 2,
                    "price": "59.00",
                    "total_fee": "108.00",
                    "payment": "98.00",
                    "discount_fee": "10.00",
                    "status": "WAIT_SELLER_SEND_GOODS",
                    "refund_status": "NO_REFUND",
                },
                {
                    "oid": 2231958349962536,
                    "num_iid": 623456789012,
                    "outer_sku_id": "",
                    "title": "帆布袋",
                    "num": 1,
                    "price": "80.00",
                    "total_fee": "80.00",
                    "payment": "80.00",
                    "discount_fee": "0.00",
                    "status": "WAIT_SELLER_SEND_GOODS",
                    "refund_status": "NO_REFUND",
                },
            ]
        },
    }
    trade.update(overrides)
    return trade


def test_trade_normalizes_to_exact_fen_and_utc_times() -> None:
    order = TaobaoConnector.normalize(fullinfo_trade())
    assert order.external_id == "2231958349942536"
    assert order.status == OrderStatus.paid
    assert order.channel_status == "WAIT_SELLER_SEND_GOODS"
    assert order.currency == "CNY"
    assert (order.total_minor, order.subtotal_minor) == (18800, 19800)
    assert (order.discount_minor, order.shipping_minor, order.tax_minor) == (2000, 1000, 0)
    # Beijing 09:15:30 is 01:15:30 UTC.
    assert order.placed_at == datetime(2024, 3, 1, 1, 15, 30, tzinfo=UTC)
    assert order.source_updated_at == datetime(2024, 3, 1, 2, 2, 11, tzinfo=UTC)
    assert order.paid_at == datetime(2024, 3, 1, 1, 16, 2, tzinfo=UTC)
    assert order.source_offset_minutes == 480
    assert order.refunds == []


def test_sub_orders_become_lines() -> None:
    first, second = TaobaoConnector.normalize(fullinfo_trade()).lines
    assert (first.external_id, first.sku, first.title) == (
        "2231958349952536",
        "TEE-RED-M",
        "纯棉T恤 红色 M",
    )
    assert (first.quantity, first.unit_price_minor, first.discount_minor) == (2, 5900, 1000)
    assert first.total_minor == 10800
    # No seller SKU: the item id stands in.
    assert (second.sku, second.quantity, second.unit_price_minor) == ("623456789012", 1, 8000)


def test_receiver_fields_stay_encrypted_and_untouched() -> None:
    order = TaobaoConnector.normalize(fullinfo_trade())
    address = order.shipping_address
    assert address is not None
    assert (address.name, address.phone, address.address1) == (ENC_NAME, ENC_MOBILE, ENC_ADDRESS)
    assert (address.province, address.city, address.district) == ("浙江省", "杭州市", "余杭区")
    assert (address.country, address.postal_code) == ("CN", "311100")
    assert order.buyer_name is None and order.buyer_phone is None
    assert order.receiver_encrypted


def test_decrypt_hook_says_why_it_cannot() -> None:
    with pytest.raises(NotImplementedError, match="decrypt"):
        decrypt_receiver({"app_key": APP_KEY}, {"receiver_name": ENC_NAME})


@pytest.mark.parametrize(
    ("raw_status", "status"),
    [
        ("WAIT_BUYER_PAY", OrderStatus.pending),
        ("WAIT_SELLER_SEND_GOODS", OrderStatus.paid),
        ("SELLER_CONSIGNED_PART", OrderStatus.partially_fulfilled),
        ("WAIT_BUYER_CONFIRM_GOODS", OrderStatus.shipped),
        ("TRADE_BUYER_SIGNED", OrderStatus.delivered),
        ("TRADE_FINISHED", OrderStatus.delivered),
        ("TRADE_CLOSED", OrderStatus.cancelled),
        ("TRADE_CLOSED_BY_TAOBAO", OrderStatus.cancelled),
    ],
)
def test_every_documented_status_is_mapped(raw_status: str, status: OrderStatus) -> None:
    order = TaobaoConnector.normalize(fullinfo_trade(status=raw_status))
    assert (order.status, order.channel_status) == (status, raw_status)


def _with_refunds(*refunds: tuple[str, str | None]) -> dict[str, Any]:
    trade = fullinfo_trade(status="TRADE_FINISHED", end_time="2024-03-05 12:00:00")
    for sub, (refund_status, fee) in zip(trade["orders"]["order"], refunds, strict=True):
        sub["refund_status"] = refund_status
        if fee is not None:
            sub["refund_fee"] = fee
            sub["end_time"] = "2024-03-04 18:30:00"
    return trade


def test_a_refunded_sub_order_is_a_partial_refund() -> None:
    order = TaobaoConnector.normalize(_with_refunds(("NO_REFUND", None), ("SUCCESS", "80.00")))
    assert order.status == OrderStatus.partially_refunded
    (refund,) = order.refunds
    assert (refund.external_id, refund.amount_minor) == ("2231958349962536", 8000)
    assert refund.refunded_at == datetime(2024, 3, 4, 10, 30, tzinfo=UTC)
    assert refund.lines == [{"sku": "623456789012", "quantity": 1, "amount_minor": 8000}]
    assert order.refunded_minor == 8000


def test_refunds_in_progress_or_closed_move_no_money() -> None:
    order = TaobaoConnector.normalize(
        _with_refunds(("WAIT_SELLER_AGREE", "98.00"), ("CLOSED", "80.00"))
    )
    assert order.status == OrderStatus.delivered
    assert order.refunds == []


def test_every_sub_order_refunded_is_a_refunded_trade() -> None:
    trade = _with_refunds(("SUCCESS", "98.00"), ("SUCCESS", "80.00"))
    trade["status"] = "TRADE_CLOSED"
    order = TaobaoConnector.normalize(trade)
    assert order.status == OrderStatus.refunded
    assert order.refunded_minor == 17800


def test_garbled_trades_are_malformed() -> None:
    with pytest.raises(MalformedPayload, match="modified"):
        TaobaoConnector.normalize(fullinfo_trade(modified="2024-03-01T10:02:11Z"))
    with pytest.raises(MalformedPayload, match="payment"):
        TaobaoConnector.normalize(fullinfo_trade(payment="188.001"))
    with pytest.raises(MalformedPayload, match="tid"):
        TaobaoConnector.normalize(fullinfo_trade(tid=None))


# The scripted TOP gateway.


def list_trade(trade: dict[str, Any]) -> dict[str, Any]:
    return {"tid": trade["tid"], "status": trade["status"], "modified": trade["modified"]}


def make_trade(tid: int, modified: datetime) -> dict[str, Any]:
    return fullinfo_trade(
        tid=tid,
        created=bj(modified - timedelta(hours=1)),
        modified=bj(modified),
        pay_time=bj(modified - timedelta(minutes=50)),
        payment="59.00",
        total_fee="59.00",
        post_fee="0.00",
        discount_fee="0.00",
        orders={
            "order": [
                {
                    "oid": tid * 10 + 1,
                    "num_iid": 600001,
                    "outer_sku_id": "SKU-1",
                    "title": "商品",
                    "num": 1,
                    "price": "59.00",
                    "payment": "59.00",
                    "discount_fee": "0.00",
                    "refund_status": "NO_REFUND",
                }
            ]
        },
    )


def top_error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> dict[str, Any]:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


@dataclass
class TopGateway:
    """A TOP stand-in: list newest first, fullinfo, the OAuth token endpoint."""

    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=lambda: {"session-1"})
    refresh_token: str = "refresh-1"
    issued: int = 1
    calls: list[dict[str, str]] = field(default_factory=list)
    token_calls: list[dict[str, str]] = field(default_factory=list)
    # Called before each list answer but the first: the shop keeps selling between two pages.
    between_pages: Callable[[TopGateway], None] | None = None
    # (method, error_response) answered once, in order, when that method is called next.
    errors: deque[tuple[str, dict[str, Any]]] = field(default_factory=deque)
    # Every session dies right before this list call (1-based).
    expire_at_list_call: int | None = None
    list_calls: int = 0
    refuse_refresh: bool = False

    def add(self, tid: int, modified: datetime) -> None:
        self.trades[str(tid)] = make_trade(tid, modified)

    def list_pages(self) -> list[int]:
        return [int(c["page_no"]) for c in self.calls if c["method"] == LIST]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/router/rest")
        async def rest(request: Request) -> JSONResponse:
            form = {k: str(v) for k, v in (await request.form()).items()}
            self.calls.append(form)
            return JSONResponse(self.answer(form))

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = {k: str(v) for k, v in (await request.form()).items()}
            self.token_calls.append(form)
            valid = (
                form.get("grant_type") == "refresh_token"
                and form.get("client_id") == APP_KEY
                and form.get("client_secret") == APP_SECRET
                and form.get("refresh_token") == self.refresh_token
            )
            if self.refuse_refresh or not valid:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.issued += 1
            session, self.refresh_token = f"session-{self.issued}", f"refresh-{self.issued}"
            self.sessions.add(session)
            return JSONResponse(
                {
                    "access_token": session,
                    "expires_in": 86400,
                    "refresh_token": self.refresh_token,
                    "re_expires_in": 2592000,
                    "taobao_user_nick": "test-shop",
                }
            )

        return app

    def answer(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("sign") != top_sign(form, APP_SECRET) or form.get("app_key") != APP_KEY:
            return {"error_response": top_error(25, "Invalid signature")}
        method = form.get("method")
        if method == LIST:
            self.list_calls += 1
            if self.expire_at_list_call == self.list_calls:
                self.sessions.clear()
        if self.errors and self.errors[0][0] == method:
            return {"error_response": self.errors.popleft()[1]}
        if form.get("session") not in self.sessions:
            return {"error_response": top_error(27, "Invalid session", "invalid-sessionkey")}
        if method == LIST:
            if self.list_calls > 1 and self.between_pages is not None:
                self.between_pages(self)
            return self.list_answer(form)
        if method == FULLINFO:
            trade = self.trades.get(form["tid"])
            if trade is None:
                return {
                    "error_response": top_error(
                        15, "Remote service error", "isv.trade-not-exist", "trade not found"
                    )
                }
            return {"trade_fullinfo_get_response": {"trade": trade}}
        return {"error_response": top_error(22, "Invalid method")}

    def list_answer(self, form: dict[str, str]) -> dict[str, Any]:
        assert "use_has_next" not in form
        lo, hi = form["start_modified"], form["end_modified"]
        # TOP's window is inclusive at both ends; the wire format sorts as text.
        found = sorted(
            (t for t in self.trades.values() if lo <= t["modified"] <= hi),
            key=lambda t: (t["modified"], t["tid"]),
            reverse=True,
        )
        page_no, size = int(form["page_no"]), int(form["page_size"])
        page = found[(page_no - 1) * size : page_no * size]
        return {
            "trades_sold_increment_get_response": {
                "total_results": len(found),
                "has_next": page_no * size < len(found),
                "trades": {"trade": [list_trade(t) for t in page]},
            }
        }


@contextmanager
def top_shop(gateway: TopGateway, **credentials: str) -> Iterator[tuple[TaobaoConnector, FakeTime]]:
    with serving(gateway.app(), "top-gateway") as url:
        shop = ShopAccess(
            external_id="test-shop",
            credentials={
                "app_key": APP_KEY,
                "app_secret": APP_SECRET,
                "session": "session-1",
                "refresh_token": "refresh-1",
                **credentials,
            },
            api_base_url=url,
        )
        with fake_time_http("test-taobao") as (http, fake):
            yield TaobaoConnector(shop, http), fake


def seed(gateway: TopGateway, count: int, first_tid: int = 1000) -> list[str]:
    """``count`` trades spread over the window, 7 s apart."""
    for i in range(count):
        gateway.add(first_tid + i, WINDOW_START + timedelta(seconds=7 * i))
    return [str(first_tid + i) for i in range(count)]


# The backwards walk over HTTP.


def test_pages_are_read_from_the_last_one_back() -> None:
    gateway = TopGateway()
    tids = seed(gateway, 250)
    with top_shop(gateway) as (connector, _):
        orders = pull(connector)
    assert sorted(o.external_id for o in orders) == sorted(tids)
    # Page 1 to learn the total, then 3, 2, 1.
    assert gateway.list_pages() == [1, 3, 2, 1]
    assert all(o.lines and o.lines[0].sku == "SKU-1" for o in orders)


def test_a_newer_order_arriving_mid_walk_is_outside_the_window() -> None:
    gateway = TopGateway()
    tids = seed(gateway, 250)
    arrivals = iter(range(9000, 9100))

    def sell(g: TopGateway) -> None:
        # A new order is modified "now", after the window's end.
        g.add(next(arrivals), WINDOW_END + timedelta(minutes=10))

    gateway.between_pages = sell
    with top_shop(gateway) as (connector, _):
        orders = pull(connector)
    ids = [o.external_id for o in orders]
    assert len(ids) == len(set(ids)), "an order was read twice"
    assert set(ids) == set(tids)
    assert len(gateway.trades) > 250


def test_orders_entering_at_the_newest_end_mid_walk_are_neither_missed_nor_doubled() -> None:
    gateway = TopGateway()
    tids = seed(gateway, 250)
    arrivals = iter(range(9000, 9100))
    added: list[str] = []

    def sell(g: TopGateway) -> None:
        # Late arrivals inside the window, newest of all: they land on page 1 and push every
        # older trade towards the last page, across a page boundary already read.
        if g.list_calls in (2, 3, 5):
            for _ in range(2 if g.list_calls == 3 else 1):
                tid = next(arrivals)
                g.add(tid, WINDOW_END - timedelta(seconds=1))
                added.append(str(tid))

    gateway.between_pages = sell
    with top_shop(gateway) as (connector, _):
        orders = pull(connector)
    ids = [o.external_id for o in orders]
    assert len(ids) == len(set(ids)), "an order was read twice"
    assert set(ids) == set(tids) | set(added)
    assert len(added) == 4


def test_a_list_that_never_stops_growing_cannot_hold_the_walk() -> None:
    gateway = TopGateway()
    tids = seed(gateway, 250)
    arrivals = iter(range(9000, 10000))

    def sell(g: TopGateway) -> None:
        g.add(next(arrivals), WINDOW_END - timedelta(seconds=1))

    gateway.between_pages = sell
    with top_shop(gateway) as (connector, _):
        orders = pull(connector)
    # The count, pages 3, 2, 1, and each re-read of a page with the one before it again.
    assert len(gateway.list_pages()) <= 4 + 2 * DescendingWalk.MAX_REREADS
    # Read on without chasing: most of what was there is read, page 1 included.
    assert len(set(tids) & {o.external_id for o in orders}) >= 150


def test_orders_leaving_the_window_mid_walk_skip_no_other_order() -> None:
    gateway = TopGateway()
    tids = seed(gateway, 250)
    moved: list[str] = []

    def change(g: TopGateway) -> None:
        # The newest trade still in the window is modified again: it leaves the window and
        # every older trade moves one place towards page 1.
        inside = sorted(
            (t for t in g.trades.values() if t["modified"] < bj(WINDOW_END)),
            key=lambda t: t["modified"],
        )
        trade = inside[-1]
        trade["modified"] = bj(WINDOW_END + timedelta(minutes=5))
        moved.append(str(trade["tid"]))

    gateway.between_pages = change
    with top_shop(gateway) as (connector, _):
        orders = pull(connector)
    ids = [o.external_id for o in orders]
    assert len(ids) == len(set(ids)), "an order was read twice"
    # Those that left are read by the window they moved into; none of the others is missed.
    assert set(tids) - set(moved) <= set(ids)


def test_walk_recovers_from_a_shift_wider_than_a_page() -> None:
    items: list[dict[str, Any]] = [{"id": str(i), "at": 100 + i} for i in range(30)]

    def list_page(lo: int, hi: int, page: int) -> tuple[list[dict[str, Any]], int]:
        found = sorted((i for i in items if lo <= i["at"] <= hi), key=lambda i: -i["at"])
        answer = found[(page - 1) * 10 : page * 10], len(found)
        if len(calls) == 1:
            # After the first page read backwards, 15 late arrivals at the newest end.
            items.extend({"id": f"late-{n}", "at": 199} for n in range(15))
        calls.append(page)
        return answer

    calls: list[int] = []
    walk = DescendingWalk(
        list_page, key=lambda i: i["id"], stamp=lambda i: i["at"], page_size=10, slice_seconds=1000
    )
    start = datetime.fromtimestamp(100, UTC)
    end = datetime.fromtimestamp(200, UTC)
    seen: list[str] = []
    token: str | None = None
    while True:
        page, token = walk.step(start, end, token)
        seen.extend(i["id"] for i in page)
        if token is None:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == {i["id"] for i in items}


# Window arithmetic.


def test_whole_seconds_round_up_so_windows_still_meet() -> None:
    moment = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
    assert whole_seconds(moment) == 1709258400
    assert whole_seconds(moment + timedelta(microseconds=1)) == 1709258401
    assert whole_seconds(moment.astimezone(BJ)) == 1709258400
    with pytest.raises(ValueError, match="aware"):
        whole_seconds(datetime(2024, 3, 1))


def test_a_day_long_window_is_read_in_contiguous_half_hours() -> None:
    gateway = TopGateway()
    start = datetime(2024, 3, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    end = start + TaobaoConnector.max_window
    with top_shop(gateway) as (connector, _):
        assert pull(connector, start, end) == []
    bounds = [(c["start_modified"], c["end_modified"]) for c in gateway.calls]
    assert len(bounds) == 48
    # Sub-second bounds round up: 08:00:00.5 Beijing becomes 08:00:01.
    assert bounds[0][0] == "2024-03-01 08:00:01"
    assert bounds[-1][1] == "2024-03-02 08:00:01"
    for (_, previous_end), (next_start, _) in itertools.pairwise(bounds):
        assert previous_end == next_start
    first = datetime.strptime(bounds[0][0], "%Y-%m-%d %H:%M:%S")
    assert datetime.strptime(bounds[0][1], "%Y-%m-%d %H:%M:%S") - first == timedelta(minutes=30)


def test_a_trade_on_the_window_end_belongs_to_the_next_window() -> None:
    gateway = TopGateway()
    gateway.add(1, WINDOW_START)
    gateway.add(2, WINDOW_END - timedelta(seconds=1))
    gateway.add(3, WINDOW_END)
    with top_shop(gateway) as (connector, _):
        first = {o.external_id for o in pull(connector)}
        second = {o.external_id for o in pull(connector, WINDOW_END, WINDOW_END + timedelta(1))}
    assert first == {"1", "2"}
    assert second == {"3"}


def test_windows_and_depth_are_the_documented_ones() -> None:
    assert TaobaoConnector.max_window == timedelta(days=1)
    assert TaobaoConnector.recommended_window == timedelta(minutes=30)
    assert TaobaoConnector.lag == timedelta(minutes=3)
    assert TaobaoConnector.overlap == timedelta(minutes=5)
    assert TaobaoConnector.history == timedelta(days=90)
    assert TaobaoConnector.credential_fields == (
        "app_key",
        "app_secret",
        "session",
        "refresh_token",
    )
    assert TaobaoConnector.webhook_secret_field is None


# Sessions and flow control.


def test_an_expired_session_is_renewed_once_and_the_walk_goes_on() -> None:
    gateway = TopGateway(expire_at_list_call=3)
    tids = seed(gateway, 250)
    with structlog.testing.capture_logs() as logs, top_shop(gateway) as (connector, _):
        orders = pull(connector)
    assert sorted(o.external_id for o in orders) == sorted(tids)
    assert len(gateway.token_calls) == 1
    assert connector.refreshed_credentials == {
        "session": "session-2",
        "refresh_token": "refresh-2",
    }
    # Every call after the renewal carries the new session.
    renewed_at = next(i for i, c in enumerate(gateway.calls) if c["session"] == "session-2")
    assert all(c["session"] == "session-2" for c in gateway.calls[renewed_at:])
    text = json.dumps(logs, default=str)
    for secret in ("session-2", "refresh-2", APP_SECRET, ENC_NAME, ENC_MOBILE, ENC_ADDRESS):
        assert secret not in text


def test_a_refused_refresh_needs_reauthorization() -> None:
    gateway = TopGateway(expire_at_list_call=1, refuse_refresh=True)
    seed(gateway, 3)
    with top_shop(gateway) as (connector, _), pytest.raises(ReauthorizationNeeded, match="400"):
        pull(connector)
    assert connector.refreshed_credentials is None


def test_a_session_refused_again_after_renewal_needs_reauthorization() -> None:
    gateway = TopGateway()
    seed(gateway, 3)
    invalid = top_error(27, "Invalid session", "invalid-sessionkey")
    gateway.errors.extend([(LIST, invalid), (LIST, invalid)])
    with top_shop(gateway) as (connector, _), pytest.raises(ReauthorizationNeeded, match="27"):
        pull(connector)
    assert len(gateway.token_calls) == 1


def test_flow_control_is_waited_out_and_retried() -> None:
    gateway = TopGateway()
    tids = seed(gateway, 3)
    ban = top_error(
        7,
        "App Call Limited",
        "accesscontrol.limited-by-app-access-count",
        "This ban will last for 2 more seconds",
    )
    gateway.errors.extend([(LIST, ban), (FULLINFO, ban)])
    with top_shop(gateway) as (connector, fake):
        orders = pull(connector)
    assert sorted(o.external_id for o in orders) == sorted(tids)
    # Two bans of 2 s each, waited out (plus jitter) on the shop's clock.
    assert sum(s for s in fake.sleeps if s >= 1.0) >= 4.0
    assert len([c for c in gateway.calls if c["method"] == LIST]) == 2


def test_endless_flow_control_gives_the_run_back() -> None:
    gateway = TopGateway()
    seed(gateway, 3)
    ban = top_error(7, "App Call Limited", "", "This ban will last for 1 more seconds")
    gateway.errors.extend([(LIST, ban)] * 20)
    with top_shop(gateway) as (connector, _), pytest.raises(RetriesExhausted):
        pull(connector)


def test_a_long_ban_is_not_waited_for() -> None:
    gateway = TopGateway()
    seed(gateway, 3)
    gateway.errors.append(
        (LIST, top_error(7, "App Call Limited", "", "ban will last for 3600 more seconds"))
    )
    with top_shop(gateway) as (connector, fake), pytest.raises(RetriesExhausted, match="wait"):
        pull(connector)
    assert sum(fake.sleeps) < 60


def test_hmac_sha256_shops_sign_with_it() -> None:
    gateway = TopGateway()
    seed(gateway, 1)
    answered: list[bool] = []
    original = gateway.answer

    def check(form: dict[str, str]) -> dict[str, Any]:
        text = "".join(k + v for k, v in sorted(form.items()) if k != "sign" and v != "")
        expected = hmac.new(APP_SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
        answered.append(form["sign_method"] == "hmac-sha256" and form["sign"] == expected.upper())
        # Re-sign with md5 so the stand-in accepts the call.
        return original({**form, "sign": top_sign(form, APP_SECRET)})

    gateway.answer = check  # type: ignore[method-assign]
    with top_shop(gateway, sign_method="hmac-sha256") as (connector, _):
        assert len(pull(connector)) == 1
    assert answered and all(answered)


def test_fetch_orders_reads_fullinfo_and_leaves_missing_trades_out() -> None:
    gateway = TopGateway()
    gateway.add(1001, WINDOW_START)
    with top_shop(gateway) as (connector, _):
        orders = connector.fetch_orders(["1001", "404", "not-a-tid", "1001"])
    assert [o.external_id for o in orders] == ["1001"]
    assert [c["tid"] for c in gateway.calls] == ["1001", "404"]
    assert all(c["method"] == FULLINFO for c in gateway.calls)


# TMC over a scripted WebSocket server.


class TmcServer:
    """TMC stand-in: checks the sign-in, sends every unconfirmed message on each connection."""

    def __init__(self, messages: list[dict[str, Any]], *, drop_first: bool = False) -> None:
        self.pending = {m["id"]: m for m in messages}
        self.events: list[tuple[str, Any]] = []
        self.connections: list[list[list[int]]] = []
        self.drop_first = drop_first
        self.done = threading.Event()
        self.lock = threading.Lock()

    def handler(self, ws: ServerConnection) -> None:
        hello = json.loads(ws.recv(timeout=5))
        text = f"app_key{hello['app_key']}timestamp{hello['timestamp']}"
        if hello.get("type") != "connect" or hello.get("sign") != md5_upper(
            APP_SECRET + text + APP_SECRET
        ):
            ws.send(json.dumps({"type": "error", "code": 25, "msg": "Invalid signature"}))
            return
        ws.send(json.dumps({"type": "connected"}))
        with self.lock:
            confirms: list[list[int]] = []
            self.connections.append(confirms)
            first = len(self.connections) == 1
            frames = [self.pending[i] for i in sorted(self.pending)]
        for frame in frames:
            ws.send(json.dumps(frame))
        if first and self.drop_first:
            return
        for raw in ws:
            doc = json.loads(raw)
            if doc.get("type") == "confirm":
                with self.lock:
                    confirms.append(doc["ids"])
                    self.events.append(("confirm", doc["ids"]))
                    for i in doc["ids"]:
                        self.pending.pop(i, None)
                    if not self.pending:
                        self.done.set()


def tmc_message(
    message_id: int, tid: int, topic: str = "taobao_trade_TradeChanged"
) -> dict[str, Any]:
    content = json.dumps({"tid": tid, "oid": tid, "seller_nick": "test-shop", "status": "X"})
    return {
        "type": "message",
        "id": message_id,
        "topic": topic,
        "content": content,
        "pub_time": "2024-03-01 10:00:00",
    }


def tmc_consumer(url: str, **credentials: str) -> TmcConsumer:
    shop = ShopAccess(
        external_id="test-shop",
        credentials={"app_key": APP_KEY, "app_secret": APP_SECRET, **credentials},
    )
    return TmcConsumer(shop, ws_url=url)


def test_tmc_default_url_comes_from_the_shop_base() -> None:
    shop = ShopAccess("s", {"app_key": "k", "app_secret": "x"}, "http://127.0.0.1:9/taobao/s")
    assert TmcConsumer(shop).url() == "ws://127.0.0.1:9/taobao/s/tmc"
    assert TmcConsumer(ShopAccess("s", {})).url() == taobao_tmc.TMC_URL


@pytest.mark.usefixtures("fast_push")
def test_tmc_hints_are_handed_on_then_confirmed() -> None:
    server = TmcServer(
        [
            tmc_message(1, 3001, "taobao_trade_TradeCreate"),
            tmc_message(2, 3001, "taobao_trade_TradeBuyerPay"),
            tmc_message(3, 3002, "taobao_refund_RefundSuccess"),
        ]
    )

    def on_hints(ids: list[str]) -> None:
        with server.lock:
            server.events.append(("hints", ids))

    with ws_server(server.handler) as url:
        run_consumer(tmc_consumer(url), on_hints, server.done)
    hinted = [tid for kind, ids in server.events if kind == "hints" for tid in ids]
    assert set(hinted) == {"3001", "3002"}
    confirmed = [i for kind, ids in server.events if kind == "confirm" for i in ids]
    assert sorted(confirmed) == [1, 2, 3]
    # Each confirmation follows the hints of its batch.
    assert server.events[0][0] == "hints"
    assert not server.pending


@pytest.mark.usefixtures("fast_push")
def test_tmc_confirms_nothing_when_on_hints_fails_and_gets_it_again() -> None:
    server = TmcServer([tmc_message(1, 3001), tmc_message(2, 3002)])
    calls: list[list[str]] = []

    def on_hints(ids: list[str]) -> None:
        calls.append(ids)
        if len(calls) == 1:
            raise RuntimeError("queue unavailable")

    with ws_server(server.handler) as url:
        run_consumer(tmc_consumer(url), on_hints, server.done)
    assert server.connections[0] == [], "confirmed although on_hints failed"
    assert len(server.connections) >= 2
    assert sorted(i for conn in server.connections[1:] for batch in conn for i in batch) == [1, 2]
    assert calls[0][0] == "3001"
    assert {tid for ids in calls[1:] for tid in ids} == {"3001", "3002"}


@pytest.mark.usefixtures("fast_push")
def test_tmc_reconnects_after_a_lost_connection() -> None:
    server = TmcServer([tmc_message(7, 3007)], drop_first=True)
    hinted: list[str] = []
    with ws_server(server.handler) as url:
        run_consumer(tmc_consumer(url), hinted.extend, server.done)
    assert len(server.connections) >= 2
    assert server.done.is_set()
    assert "3007" in hinted


@pytest.mark.usefixtures("fast_push")
def test_tmc_refused_signature_needs_reauthorization() -> None:
    server = TmcServer([tmc_message(1, 3001)])
    with (
        ws_server(server.handler) as url,
        pytest.raises(ReauthorizationNeeded, match="25"),
    ):
        run_consumer(tmc_consumer(url, app_secret="wrong"), lambda ids: None, threading.Event())
    assert server.connections == []


@pytest.mark.usefixtures("fast_push")
def test_tmc_message_without_a_trade_is_confirmed_without_a_hint() -> None:
    odd = {"type": "message", "id": 9, "topic": "taobao_trade_TradeChanged", "content": "{}"}
    server = TmcServer([odd, tmc_message(10, 3010)])
    hinted: list[list[str]] = []
    with ws_server(server.handler) as url:
        run_consumer(tmc_consumer(url), hinted.append, server.done)
    assert [i for batch in server.connections[0] for i in batch] == [9, 10]
    assert hinted == [["3010"]]


# End to end against the sandbox over real HTTP (and its TMC over a real WebSocket).

SANDBOX_SHOP = "tea-house"
SANDBOX_CREDENTIALS = {
    "app_key": "23456789",
    "app_secret": "sandbox-top-secret",
    "session": "6201sandboxsession",
    "refresh_token": "6201sandboxrefresh",
}


def test_a_sandbox_window_end_to_end() -> None:
    from daiyun.core.money import to_minor

    now = datetime.now(UTC).replace(microsecond=0)
    with sandbox_shop("taobao", SANDBOX_SHOP, SANDBOX_CREDENTIALS, seed=11, rate=500) as (
        _,
        control,
        shop,
    ):
        control.post(
            f"/_sandbox/taobao/{SANDBOX_SHOP}/orders",
            json={
                # Enough in one half-hour slice for several pages read backwards.
                "count": 230,
                "start": (now - timedelta(minutes=25)).isoformat(),
                "end": (now - timedelta(minutes=5)).isoformat(),
            },
        ).raise_for_status()
        # The sandbox shop allows 500 calls a second: so may the client.
        with shop_http_at_rate("test-taobao-sandbox", 500.0) as http:
            connector = TaobaoConnector(shop, http)
            pages: list[int] = []
            list_page = connector._walk.list_page

            def counted(lo: int, hi: int, page_no: int) -> tuple[list[dict[str, Any]], int]:
                pages.append(page_no)
                return list_page(lo, hi, page_no)

            connector._walk.list_page = counted
            start, end = now - timedelta(hours=4), now - TaobaoConnector.lag
            orders: list[NormalizedOrder] = []
            token: str | None = None
            while True:
                page = connector.fetch_page(start, end, token)
                orders.extend(page.orders)
                if token is None:
                    # Mid-walk: the session dies and the gateway bans the app for a second.
                    control.put(
                        "/_sandbox/faults",
                        json={"expire_tokens": True, "throttle_next": 1, "retry_after": 1},
                    ).raise_for_status()
                token = page.next_token
                if token is None:
                    break
        stats = control.get("/_sandbox/stats").json()
        expected = control.get(f"/_sandbox/taobao/{SANDBOX_SHOP}/orders").json()["orders"]
    ids = [o.external_id for o in orders]
    assert len(ids) == len(set(ids)) == 230
    # Some slice took several pages, read from its last one back.
    assert max(pages) >= 2
    by_id = {o.external_id: o for o in orders}
    assert set(by_id) == {str(e["id"]) for e in expected}
    for entry in expected:
        order = by_id[str(entry["id"])]
        assert order.total_minor == to_minor(entry["total"], "CNY")
        assert order.channel_status == entry["channel_status"]
        assert start <= order.source_updated_at < end
        assert order.lines and order.currency == "CNY"
        address = order.shipping_address
        assert address is not None and (address.address1 or "").startswith("~")
    assert connector.refreshed_credentials is not None
    assert connector.refreshed_credentials["session"] != SANDBOX_CREDENTIALS["session"]
    assert stats["violations"] == 0


@pytest.mark.usefixtures("fast_push")
def test_sandbox_tmc_hints_and_confirms() -> None:
    with sandbox_shop("taobao", SANDBOX_SHOP, SANDBOX_CREDENTIALS, seed=12) as (
        sandbox,
        control,
        shop,
    ):
        created = control.post(
            f"/_sandbox/taobao/{SANDBOX_SHOP}/orders", json={"count": 5, "notify": True}
        ).json()["ids"]
        hinted: set[str] = set()
        everything = threading.Event()

        def on_hints(ids: list[str]) -> None:
            hinted.update(ids)
            if hinted >= {str(i) for i in created}:
                everything.set()

        consumer = TmcConsumer(shop)
        confirmed = threading.Event()

        def watch() -> None:
            everything.wait(10)
            # The confirmation follows on_hints: wait until the sandbox has it.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if not sandbox.state.messages.pending(f"taobao/{SANDBOX_SHOP}"):
                    confirmed.set()
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        run_consumer(consumer, on_hints, confirmed)
        watcher.join(1)
    assert hinted == {str(i) for i in created}
    assert confirmed.is_set()
