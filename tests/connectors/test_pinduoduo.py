"""Pinduoduo: signing, normalization, the backwards walk, tokens, flow control, message service.

Signature vectors are worked out in the test from the documented recipe. The pull runs over real
HTTP against a scripted ``/api/router`` on loopback whose increment list answers newest first and
can change between two page requests; the message consumer runs against a scripted WebSocket
server in a thread. No database is needed.
"""

from __future__ import annotations

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
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from websockets.sync.server import ServerConnection

from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.pinduoduo import PinduoduoConnector, decrypt_receiver, sign
from daiyun.connectors.channels.pinduoduo_messages import PddMessageConsumer, message_sign
from daiyun.connectors.errors import MalformedPayload, ReauthorizationNeeded, RetriesExhausted
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

CLIENT_ID = "4b6c9c0f5d2e4a1b8c3d7e6f5a4b3c2d"
CLIENT_SECRET = "pdd-client-secret"
LIST = "pdd.order.number.list.increment.get"
DETAIL = "pdd.order.information.get"
REFRESH = "pdd.pop.auth.token.refresh"
ENC_NAME = "~AgAAAAFu3vQBQ1hRrDt1c0mT+0yL3qkO0sX1vmcVQ0E=~0~~"
ENC_PHONE = "~AgAAAAFu3vQC5Tk1B2vJ2Yz1QpY0kq8pW1t8VhH5Z8g=~0~~"
ENC_ADDRESS = "~AgAAAAFu3vQDk0lL1Q0H8O1eQp2sZfYx7s6TkYH7Uq0=~0~~"


def pdd_sign(params: dict[str, str], secret: str) -> str:
    """The recipe, written out independently for the scripted router to check requests."""
    return md5_signature(params, secret)


# Signing.


def test_signature_wraps_the_sorted_pairs_in_the_secret() -> None:
    params = {
        "type": "pdd.order.information.get",
        "client_id": "abc",
        "access_token": "tok",
        "timestamp": "1700000000",
        "data_type": "JSON",
        "version": "V1",
        "order_sn": "231122-123456789012345",
    }
    text = (
        "access_tokentok"
        "client_idabc"
        "data_typeJSON"
        "order_sn231122-123456789012345"
        "timestamp1700000000"
        "typepdd.order.information.get"
        "versionV1"
    )
    expected = md5_upper("s3cret" + text + "s3cret")
    assert sign(params, "s3cret") == expected
    assert sign({**params, "sign": "ignored"}, "s3cret") == expected


def test_message_service_url_signature() -> None:
    expected = md5_upper("s3cret" + "abc" + "1700000000000" + "s3cret")
    assert message_sign("abc", "1700000000000", "s3cret") == expected


# Normalization, from the documented order shape.


def pdd_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_sn": "231122-123456789012345",
        "order_status": 2,
        "refund_status": 1,
        "confirm_status": 1,
        "created_time": "2023-11-22 20:01:02",
        "confirm_time": "2023-11-22 20:01:30",
        "shipping_time": "2023-11-23 08:30:00",
        "updated_at": "2023-11-23 09:00:00",
        "pay_amount": "35.80",
        "goods_amount": "39.80",
        "discount_amount": "6.00",
        "postage": "2.00",
        "item_list": [
            {
                "goods_id": 123456789,
                "sku_id": 987654321,
                "outer_id": "CUP-01",
                "goods_name": "陶瓷马克杯",
                "goods_count": 2,
                "goods_price": "19.90",
            }
        ],
        "receiver_name": ENC_NAME,
        "receiver_phone": ENC_PHONE,
        "receiver_address": ENC_ADDRESS,
        "province": "浙江省",
        "city": "杭州市",
        "town": "西湖区",
    }
    order.update(overrides)
    return order


def test_order_normalizes_to_exact_fen_and_utc_times() -> None:
    order = PinduoduoConnector.normalize(pdd_order())
    assert order.external_id == "231122-123456789012345"
    assert order.status == OrderStatus.shipped
    assert order.channel_status == "order:2,refund:1,confirm:1"
    assert order.currency == "CNY"
    assert (order.total_minor, order.subtotal_minor) == (3580, 3980)
    assert (order.discount_minor, order.shipping_minor) == (600, 200)
    assert order.placed_at == datetime(2023, 11, 22, 12, 1, 2, tzinfo=UTC)
    assert order.paid_at == datetime(2023, 11, 22, 12, 1, 30, tzinfo=UTC)
    assert order.source_updated_at == datetime(2023, 11, 23, 1, 0, tzinfo=UTC)
    assert order.source_offset_minutes == 480
    (line,) = order.lines
    assert (line.sku, line.title, line.quantity) == ("CUP-01", "陶瓷马克杯", 2)
    assert (line.unit_price_minor, line.discount_minor, line.total_minor) == (1990, 0, 3980)
    assert line.external_id == "987654321"


def test_receiver_fields_stay_encrypted_and_untouched() -> None:
    address = PinduoduoConnector.normalize(pdd_order()).shipping_address
    assert address is not None
    assert (address.name, address.phone, address.address1) == (ENC_NAME, ENC_PHONE, ENC_ADDRESS)
    assert PinduoduoConnector.normalize(pdd_order()).receiver_encrypted
    assert (address.province, address.city, address.district) == ("浙江省", "杭州市", "西湖区")
    with pytest.raises(NotImplementedError, match="decrypt"):
        decrypt_receiver({"client_id": CLIENT_ID}, {"receiver_name": ENC_NAME})


@pytest.mark.parametrize(
    ("order_status", "status"),
    [(1, OrderStatus.paid), (2, OrderStatus.shipped), (3, OrderStatus.delivered)],
)
def test_order_statuses(order_status: int, status: OrderStatus) -> None:
    assert PinduoduoConnector.normalize(pdd_order(order_status=order_status)).status == status


def test_refund_in_progress_or_rejected_keeps_the_status() -> None:
    for refund_status in (2, 4):
        order = PinduoduoConnector.normalize(pdd_order(refund_status=refund_status))
        assert order.status == OrderStatus.shipped
        assert order.refunds == []


def test_a_completed_refund_is_recorded() -> None:
    order = PinduoduoConnector.normalize(pdd_order(refund_status=3, refund_amount="35.80"))
    assert order.status == OrderStatus.refunded
    (refund,) = order.refunds
    assert (refund.external_id, refund.amount_minor) == ("231122-123456789012345:refund", 3580)
    assert refund.refunded_at == datetime(2023, 11, 23, 1, 0, tzinfo=UTC)
    partial = PinduoduoConnector.normalize(pdd_order(refund_status=3, refund_amount="19.90"))
    assert partial.status == OrderStatus.partially_refunded
    assert partial.refunded_minor == 1990


def test_unconfirmed_and_cancelled_orders() -> None:
    assert PinduoduoConnector.normalize(pdd_order(order_status=1, confirm_status=0)).status == (
        OrderStatus.pending
    )
    assert PinduoduoConnector.normalize(pdd_order(order_status=1, confirm_status=2)).status == (
        OrderStatus.cancelled
    )


def test_garbled_orders_are_malformed() -> None:
    with pytest.raises(MalformedPayload, match="pay_amount"):
        PinduoduoConnector.normalize(pdd_order(pay_amount="35.8x"))
    with pytest.raises(MalformedPayload, match="updated_at"):
        PinduoduoConnector.normalize(pdd_order(updated_at=1700000000))


def test_windows_and_depth_are_the_documented_ones() -> None:
    assert PinduoduoConnector.max_window == timedelta(minutes=30)
    assert PinduoduoConnector.lag == timedelta(minutes=5)
    assert PinduoduoConnector.overlap == timedelta(minutes=2)
    assert PinduoduoConnector.history == timedelta(days=90)
    assert PinduoduoConnector.credential_fields == (
        "client_id",
        "client_secret",
        "access_token",
        "refresh_token",
    )


# The scripted router.


def make_order(order_sn: str, updated: datetime) -> dict[str, Any]:
    return pdd_order(
        order_sn=order_sn,
        order_status=1,
        created_time=bj(updated - timedelta(hours=1)),
        confirm_time=bj(updated - timedelta(minutes=59)),
        updated_at=bj(updated),
    )


def pdd_error(code: int, message: str) -> dict[str, Any]:
    return {"error_response": {"error_code": code, "error_msg": message, "sub_msg": ""}}


@dataclass
class PddRouter:
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=lambda: {"token-1"})
    refresh_token: str = "refresh-1"
    issued: int = 1
    calls: list[dict[str, str]] = field(default_factory=list)
    between_pages: Callable[[PddRouter], None] | None = None
    errors: deque[tuple[str, dict[str, Any]]] = field(default_factory=deque)
    expire_at_list_call: int | None = None
    list_calls: int = 0

    def add(self, order_sn: str, updated: datetime) -> None:
        self.orders[order_sn] = make_order(order_sn, updated)

    def list_pages(self) -> list[int]:
        return [int(c["page"]) for c in self.calls if c["type"] == LIST]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/router")
        async def router(request: Request) -> JSONResponse:
            form = {k: str(v) for k, v in (await request.form()).items()}
            self.calls.append(form)
            return JSONResponse(self.answer(form))

        return app

    def answer(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("client_id") != CLIENT_ID or form.get("sign") != pdd_sign(form, CLIENT_SECRET):
            return pdd_error(20004, "sign error")
        kind = form["type"]
        if kind == LIST:
            self.list_calls += 1
            if self.expire_at_list_call == self.list_calls:
                self.tokens.clear()
        if self.errors and self.errors[0][0] == kind:
            return self.errors.popleft()[1]
        if kind == REFRESH:
            if form.get("refresh_token") != self.refresh_token:
                return pdd_error(10000, "refresh_token invalid")
            self.issued += 1
            token, self.refresh_token = f"token-{self.issued}", f"refresh-{self.issued}"
            self.tokens.add(token)
            return {
                "pop_auth_token_refresh_response": {
                    "access_token": token,
                    "expires_in": 86400,
                    "refresh_token": self.refresh_token,
                }
            }
        if form.get("access_token") not in self.tokens:
            return pdd_error(10019, "access_token expired")
        if kind == LIST:
            if self.list_calls > 1 and self.between_pages is not None:
                self.between_pages(self)
            return self.list_answer(form)
        if kind == DETAIL:
            found = self.orders.get(form["order_sn"])
            if found is None:
                return pdd_error(10000, "order not found")
            return {"order_info_get_response": {"order_info": found}}
        return pdd_error(10000, "unknown type")

    def list_answer(self, form: dict[str, str]) -> dict[str, Any]:
        assert "use_has_next" not in form
        lo, hi = int(form["start_updated_at"]), int(form["end_updated_at"])
        if not 0 <= hi - lo <= 1800:
            return pdd_error(10000, "window wider than 30 minutes")
        assert (form["order_status"], form["refund_status"]) == ("5", "5")

        def stamp(order: dict[str, Any]) -> int:
            local = datetime.strptime(order["updated_at"], "%Y-%m-%d %H:%M:%S")
            return int(local.replace(tzinfo=BJ).timestamp())

        found = sorted(
            (o for o in self.orders.values() if lo <= stamp(o) <= hi),
            key=lambda o: (stamp(o), o["order_sn"]),
            reverse=True,
        )
        page, size = int(form["page"]), int(form["page_size"])
        return {
            "order_sn_increment_get_response": {
                "total_count": len(found),
                "has_next": page * size < len(found),
                "order_sn_list": found[(page - 1) * size : page * size],
            }
        }


@contextmanager
def pdd_shop(router: PddRouter) -> Iterator[tuple[PinduoduoConnector, FakeTime]]:
    with serving(router.app(), "pdd-router") as url:
        shop = ShopAccess(
            external_id="556677",
            credentials={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "access_token": "token-1",
                "refresh_token": "refresh-1",
            },
            api_base_url=url,
        )
        with fake_time_http("test-pdd") as (http, fake):
            yield PinduoduoConnector(shop, http), fake


def seed(router: PddRouter, count: int) -> list[str]:
    sns = [f"240301-{100000000000000 + i}" for i in range(count)]
    for i, sn in enumerate(sns):
        router.add(sn, WINDOW_START + timedelta(seconds=7 * i))
    return sns


def test_pages_are_read_from_the_last_one_back() -> None:
    router = PddRouter()
    sns = seed(router, 230)
    with pdd_shop(router) as (connector, _):
        orders = pull(connector)
    assert sorted(o.external_id for o in orders) == sorted(sns)
    assert router.list_pages() == [1, 3, 2, 1]
    # The list carries whole orders: no second call per order.
    assert all(c["type"] == LIST for c in router.calls)


def test_orders_arriving_or_moving_mid_walk_are_neither_missed_nor_doubled() -> None:
    router = PddRouter()
    sns = seed(router, 230)
    added: list[str] = []
    moved: list[str] = []

    def churn(r: PddRouter) -> None:
        # A new order after the window's end, one inside it at its newest end, and an older
        # one updated again (it leaves the window).
        n = r.list_calls
        r.add(f"240301-9{n:014d}", WINDOW_END + timedelta(minutes=3))
        if n in (2, 4):
            sn = f"240301-8{n:014d}"
            r.add(sn, WINDOW_END - timedelta(seconds=1))
            added.append(sn)
        if n == 3:
            victim = sns[150]
            r.orders[victim]["updated_at"] = bj(WINDOW_END + timedelta(minutes=4))
            moved.append(victim)

    router.between_pages = churn
    with pdd_shop(router) as (connector, _):
        orders = pull(connector)
    ids = [o.external_id for o in orders]
    assert len(ids) == len(set(ids)), "an order was read twice"
    assert (set(sns) - set(moved)) | set(added) <= set(ids)
    assert not any(sn.startswith("240301-9") for sn in ids)


def test_window_bounds_round_up_and_stay_within_thirty_minutes() -> None:
    router = PddRouter()
    router.add("240301-000000000000001", WINDOW_START)
    router.add("240301-000000000000002", WINDOW_END)
    start = WINDOW_START - timedelta(microseconds=1)
    with pdd_shop(router) as (connector, _):
        first = [o.external_id for o in pull(connector, start, start + connector.max_window)]
    (call,) = router.calls
    lo, hi = int(call["start_updated_at"]), int(call["end_updated_at"])
    assert lo == int(WINDOW_START.timestamp())
    assert hi - lo == 1800
    # The order on the end second belongs to the next window.
    assert first == ["240301-000000000000001"]


def test_an_expired_token_is_refreshed_once_and_the_walk_goes_on() -> None:
    router = PddRouter(expire_at_list_call=3)
    sns = seed(router, 230)
    with pdd_shop(router) as (connector, _):
        orders = pull(connector)
    assert sorted(o.external_id for o in orders) == sorted(sns)
    assert connector.refreshed_credentials == {
        "access_token": "token-2",
        "refresh_token": "refresh-2",
    }
    (refresh,) = [c for c in router.calls if c["type"] == REFRESH]
    assert "access_token" not in refresh
    assert refresh["refresh_token"] == "refresh-1"


def test_a_refused_refresh_needs_reauthorization() -> None:
    router = PddRouter(expire_at_list_call=1, refresh_token="someone-else")
    seed(router, 3)
    with pdd_shop(router) as (connector, _), pytest.raises(ReauthorizationNeeded, match="10000"):
        pull(connector)
    assert connector.refreshed_credentials is None


def test_a_token_refused_again_after_refresh_needs_reauthorization() -> None:
    router = PddRouter()
    seed(router, 3)
    expired = pdd_error(10019, "access_token expired")
    router.errors.extend([(LIST, expired), (LIST, expired)])
    with pdd_shop(router) as (connector, _), pytest.raises(ReauthorizationNeeded, match="10019"):
        pull(connector)


def test_flow_control_is_backed_off_and_retried() -> None:
    router = PddRouter()
    sns = seed(router, 3)
    limited = pdd_error(52101, "service flow control")
    router.errors.extend([(LIST, limited), (LIST, limited)])
    with pdd_shop(router) as (connector, fake):
        orders = pull(connector)
    assert sorted(o.external_id for o in orders) == sorted(sns)
    assert len(router.list_pages()) == 3
    # Bounded exponential backoff: 0.5 s then 1 s (plus jitter) on the shop's clock.
    assert sum(s for s in fake.sleeps if s >= 0.5) >= 1.5


def test_endless_flow_control_gives_the_run_back() -> None:
    router = PddRouter()
    seed(router, 3)
    router.errors.extend([(LIST, pdd_error(52101, "service flow control"))] * 20)
    with pdd_shop(router) as (connector, _), pytest.raises(RetriesExhausted):
        pull(connector)


def test_fetch_orders_reads_each_and_leaves_unknown_ones_out() -> None:
    router = PddRouter()
    router.add("240301-000000000000001", WINDOW_START)
    with pdd_shop(router) as (connector, _):
        orders = connector.fetch_orders(
            ["240301-000000000000001", "240301-404", "240301-000000000000001"]
        )
    assert [o.external_id for o in orders] == ["240301-000000000000001"]
    assert [c["order_sn"] for c in router.calls] == ["240301-000000000000001", "240301-404"]


# The message service over a scripted WebSocket server.


class MessageServer:
    """PDD stand-in: checks the URL's signature, re-sends what is unacknowledged per connection."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.pending = {m["id"]: m for m in messages if "id" in m}
        # Frames without an id (heartbeats) are sent first on every connection.
        self.other = [m for m in messages if "id" not in m]
        self.events: list[tuple[str, Any]] = []
        self.connections: list[list[int]] = []
        self.paths: list[str] = []
        self.done = threading.Event()
        self.lock = threading.Lock()

    def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path
        self.paths.append(path)
        *_, client_id, timestamp, signature = path.split("/")
        if client_id != CLIENT_ID or signature != md5_upper(
            CLIENT_SECRET + client_id + timestamp + CLIENT_SECRET
        ):
            ws.close(code=1008, reason="invalid sign")
            return
        with self.lock:
            acks: list[int] = []
            self.connections.append(acks)
            frames = self.other + [self.pending[i] for i in sorted(self.pending)]
        for frame in frames:
            ws.send(json.dumps(frame))
        for raw in ws:
            doc = json.loads(raw)
            if doc.get("commandType") == "Ack":
                with self.lock:
                    acks.append(doc["id"])
                    self.events.append(("ack", doc["id"]))
                    self.pending.pop(doc["id"], None)
                    if not self.pending:
                        self.done.set()


def pdd_message(
    message_id: int, order_sn: str, kind: str = "pdd_trade_TradeConfirmed"
) -> dict[str, Any]:
    return {
        "id": message_id,
        "commandType": "Common",
        "time": 1700000000000,
        "sendTime": 1700000000100,
        "message": {
            "type": kind,
            "mallID": 556677,
            "content": json.dumps({"tid": order_sn, "mall_id": 556677}),
        },
    }


def consumer(url: str, secret: str = CLIENT_SECRET) -> PddMessageConsumer:
    shop = ShopAccess("556677", {"client_id": CLIENT_ID, "client_secret": secret})
    return PddMessageConsumer(shop, ws_url=url + "/message")


def test_message_url_comes_from_the_shop_base() -> None:
    shop = ShopAccess(
        "556677",
        {"client_id": "cid", "client_secret": "sec"},
        "http://127.0.0.1:9/pinduoduo/556677",
    )
    url = PddMessageConsumer(shop).url()
    prefix = "ws://127.0.0.1:9/pinduoduo/556677/message/cid/"
    assert url.startswith(prefix)
    timestamp, signature = url.removeprefix(prefix).split("/")
    assert signature == md5_upper("sec" + "cid" + timestamp + "sec")


@pytest.mark.usefixtures("fast_push")
def test_hints_are_handed_on_then_acknowledged() -> None:
    server = MessageServer(
        [
            pdd_message(11, "231122-000000000000001"),
            pdd_message(12, "231122-000000000000001", "pdd_trade_TradeSellerShip"),
            pdd_message(13, "231122-000000000000002", "pdd_refund_RefundCreated"),
            {"commandType": "HeartBeat", "sendTime": 1700000000000},
        ]
    )

    def on_hints(ids: list[str]) -> None:
        with server.lock:
            server.events.append(("hints", ids))

    with ws_server(server.handler) as url:
        run_consumer(consumer(url), on_hints, server.done)
    hinted = {sn for kind, ids in server.events if kind == "hints" for sn in ids}
    assert hinted == {"231122-000000000000001", "231122-000000000000002"}
    assert sorted(i for kind, i in server.events if kind == "ack") == [11, 12, 13]
    assert server.events[0][0] == "hints"


@pytest.mark.usefixtures("fast_push")
def test_nothing_is_acknowledged_when_on_hints_fails() -> None:
    server = MessageServer([pdd_message(21, "231122-000000000000021")])
    calls: list[list[str]] = []

    def on_hints(ids: list[str]) -> None:
        calls.append(ids)
        if len(calls) == 1:
            raise RuntimeError("queue unavailable")

    with ws_server(server.handler) as url:
        run_consumer(consumer(url), on_hints, server.done)
    assert server.connections[0] == []
    assert [i for acks in server.connections[1:] for i in acks] == [21]
    assert calls[0] == calls[-1] == ["231122-000000000000021"]
    # Each connection signs a fresh URL.
    assert len(server.paths) >= 2


@pytest.mark.usefixtures("fast_push")
def test_a_refused_signature_needs_reauthorization() -> None:
    server = MessageServer([pdd_message(31, "231122-000000000000031")])
    with ws_server(server.handler) as url, pytest.raises(ReauthorizationNeeded):
        run_consumer(consumer(url, secret="wrong"), lambda ids: None, threading.Event())
    assert server.connections == []


# End to end against the sandbox over real HTTP (and its message service over a WebSocket).

SANDBOX_MALL = "556677"
SANDBOX_CREDENTIALS = {
    "client_id": CLIENT_ID,
    "client_secret": "sandbox-pdd-secret",
    "access_token": "sandbox-access-token",
    "refresh_token": "sandbox-refresh-token",
}


def expected_status(sandbox_status: str, order: NormalizedOrder) -> set[OrderStatus]:
    """What the sandbox's own word for an order's state becomes on Pinduoduo."""
    if sandbox_status in ("refunded", "cancelled"):
        return {OrderStatus.refunded}
    if order.refunds:
        return {OrderStatus.partially_refunded}
    return {
        "paid": {OrderStatus.paid},
        # PDD has no partial shipment: the order awaits shipment until all of it left.
        "partially_shipped": {OrderStatus.paid},
        "shipped": {OrderStatus.shipped},
        "delivered": {OrderStatus.delivered},
    }[sandbox_status]


def test_a_sandbox_window_end_to_end() -> None:
    from daiyun.core.money import to_minor

    now = datetime.now(UTC).replace(microsecond=0)
    with sandbox_shop("pinduoduo", SANDBOX_MALL, SANDBOX_CREDENTIALS, seed=21, rate=500) as (
        _,
        control,
        shop,
    ):
        control.post(
            f"/_sandbox/pinduoduo/{SANDBOX_MALL}/orders",
            json={
                # Enough in one window for several pages read backwards.
                "count": 230,
                "start": (now - timedelta(minutes=25)).isoformat(),
                "end": (now - timedelta(minutes=7)).isoformat(),
            },
        ).raise_for_status()
        orders: list[NormalizedOrder] = []
        with shop_http_at_rate("test-pdd-sandbox", 500.0) as http:
            connector = PinduoduoConnector(shop, http)
            start, end = now - timedelta(minutes=60), now - PinduoduoConnector.lag
            # Windows as the sync engine cuts them.
            window_start = start
            while window_start < end:
                window_end = min(window_start + PinduoduoConnector.max_window, end)
                token: str | None = None
                while True:
                    page = connector.fetch_page(window_start, window_end, token)
                    orders.extend(page.orders)
                    if page.orders and token is None:
                        # Mid-walk: the token dies and the router limits the app once.
                        control.put(
                            "/_sandbox/faults", json={"expire_tokens": True, "throttle_next": 1}
                        ).raise_for_status()
                    token = page.next_token
                    if token is None:
                        break
                window_start = window_end
        expected = control.get(f"/_sandbox/pinduoduo/{SANDBOX_MALL}/orders").json()["orders"]
    ids = [o.external_id for o in orders]
    assert len(ids) == len(set(ids)) == 230
    by_id = {o.external_id: o for o in orders}
    assert set(by_id) == {str(e["id"]) for e in expected}
    for entry in expected:
        order = by_id[str(entry["id"])]
        assert order.total_minor == to_minor(entry["total"], "CNY")
        assert start <= order.source_updated_at < end
        assert order.status in expected_status(entry["status"], order)
        assert order.lines and order.currency == "CNY"
        address = order.shipping_address
        assert address is not None and (address.address1 or "").startswith("~")
    assert connector.refreshed_credentials is not None
    assert connector.refreshed_credentials["access_token"] != "sandbox-access-token"


@pytest.mark.usefixtures("fast_push")
def test_sandbox_messages_hint_and_are_acknowledged() -> None:
    with sandbox_shop("pinduoduo", SANDBOX_MALL, SANDBOX_CREDENTIALS, seed=22) as (
        sandbox,
        control,
        shop,
    ):
        created = control.post(
            f"/_sandbox/pinduoduo/{SANDBOX_MALL}/orders", json={"count": 4, "notify": True}
        ).json()["ids"]
        hinted: set[str] = set()
        acknowledged = threading.Event()

        def watch() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pending = sandbox.state.messages.pending(f"pinduoduo/{SANDBOX_MALL}")
                if hinted >= set(created) and not pending:
                    acknowledged.set()
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        run_consumer(PddMessageConsumer(shop), hinted.update, acknowledged)
        watcher.join(1)
    assert hinted == set(created)
    assert acknowledged.is_set()
