"""The Chinese sandbox marketplaces over real HTTP and WebSocket: Taobao, Pinduoduo, JD, Douyin.

Every request is signed here by hand from the documented algorithm (hashlib and hmac, never the
sandbox's own code), so a sandbox that checked signatures wrongly would fail these tests. Pushes
are checked the same way: Douyin's ``event-sign`` is recomputed from the raw body received by a
plain ``http.server``, and the TMC and Pinduoduo message streams are read with a WebSocket client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import SandboxState
from tests.sandboxes.test_marketplaces import Receiver, create, register

BJ = timezone(timedelta(hours=8))
NICK, MALL, VENDOR, DY_SHOP = "lotus-tea-tmall", "889900123", "10086001", "4463798"
TOP_CREDS = {"app_key": "12345678", "app_secret": "top-secret", "session": "6100sess"}
PDD_CREDS = {"client_id": "pdd-client", "client_secret": "pdd-secret", "access_token": "pdd-at"}
JD_CREDS = {"app_key": "JDKEY", "app_secret": "jd-secret", "access_token": "jd-at"}
DY_CREDS = {"app_key": "7012345", "app_secret": "dy-secret", "access_token": "dy-at"}
CREDS = {
    "taobao": (NICK, {**TOP_CREDS, "refresh_token": "6200refresh"}),
    "pinduoduo": (MALL, {**PDD_CREDS, "refresh_token": "pdd-rt"}),
    "jd": (VENDOR, {**JD_CREDS, "refresh_token": "jd-rt"}),
    "douyin": (DY_SHOP, {**DY_CREDS, "refresh_token": "dy-rt", "shop_id": DY_SHOP}),
}
INCREMENT = "taobao.trades.sold.increment.get"
PDD_INCREMENT = "pdd.order.number.list.increment.get"
JD_STATES = "WAIT_SELLER_STOCK_OUT,WAIT_GOODS_RECEIVE_CONFIRM,FINISHED_L,TRADE_CANCELED,LOCKED"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=11)) as running:
        yield running


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, trust_env=False, timeout=30) as client:
        yield client


def shop_of(http: httpx.Client, channel: str, **extra: Any) -> str:
    name, creds = CREDS[channel]
    register(http, channel, name, creds, **extra)
    return name


def ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def bj(moment: datetime) -> str:
    return moment.astimezone(BJ).strftime("%Y-%m-%d %H:%M:%S")


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def sorted_pairs(params: dict[str, str], *, skip_empty: bool) -> str:
    return "".join(
        k + v for k, v in sorted(params.items()) if k != "sign" and (v or not skip_empty)
    )


# -- hand-signed calls ---------------------------------------------------------------------------


def top(
    http: httpx.Client,
    method: str,
    *,
    sign_method: str = "md5",
    secret: str = TOP_CREDS["app_secret"],
    when: datetime | None = None,
    tamper: dict[str, str] | None = None,
    session: str = TOP_CREDS["session"],
    **business: Any,
) -> dict[str, Any]:
    params = {
        "method": method,
        "app_key": TOP_CREDS["app_key"],
        "session": session,
        "timestamp": bj(when or datetime.now(UTC)),
        "format": "json",
        "v": "2.0",
        "sign_method": sign_method,
        **{name: str(value) for name, value in business.items()},
    }
    text = sorted_pairs(params, skip_empty=True)
    if sign_method == "md5":
        params["sign"] = md5_hex(secret + text + secret).upper()
    else:
        digest = hashlib.md5 if sign_method == "hmac" else hashlib.sha256
        params["sign"] = hmac.new(secret.encode(), text.encode(), digest).hexdigest().upper()
    response = http.post(f"/taobao/{NICK}/router/rest", data={**params, **(tamper or {})})
    assert response.status_code == 200, response.text
    return dict(response.json())


def pdd(
    http: httpx.Client,
    kind: str,
    *,
    secret: str = PDD_CREDS["client_secret"],
    tamper: dict[str, str] | None = None,
    token: str = PDD_CREDS["access_token"],
    **business: Any,
) -> dict[str, Any]:
    params = {
        "type": kind,
        "client_id": PDD_CREDS["client_id"],
        "access_token": token,
        "timestamp": str(int(datetime.now(UTC).timestamp())),
        "data_type": "JSON",
        "version": "V1",
        **{name: str(value) for name, value in business.items()},
    }
    params["sign"] = md5_hex(secret + sorted_pairs(params, skip_empty=False) + secret).upper()
    response = http.post(f"/pinduoduo/{MALL}/api/router", json={**params, **(tamper or {})})
    assert response.status_code == 200, response.text
    return dict(response.json())


def jd(
    http: httpx.Client,
    business: dict[str, Any],
    *,
    when: datetime | None = None,
    tamper: dict[str, str] | None = None,
    token: str = JD_CREDS["access_token"],
) -> dict[str, Any]:
    secret = JD_CREDS["app_secret"]
    params = {
        "method": "jingdong.pop.order.search",
        "app_key": JD_CREDS["app_key"],
        "access_token": token,
        "timestamp": bj(when or datetime.now(UTC)),
        "v": "2.0",
        "sign_method": "md5",
        "360buy_param_json": json.dumps(business, separators=(",", ":")),
    }
    params["sign"] = md5_hex(secret + sorted_pairs(params, skip_empty=False) + secret).upper()
    response = http.post(f"/jd/{VENDOR}/routerjson", data={**params, **(tamper or {})})
    assert response.status_code == 200, response.text
    return dict(response.json())


def douyin(
    http: httpx.Client,
    method: str,
    business: dict[str, Any],
    *,
    token: str = DY_CREDS["access_token"],
    body: str | None = None,
) -> dict[str, Any]:
    secret, key = DY_CREDS["app_secret"], DY_CREDS["app_key"]
    param_json = json.dumps(business, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    stamp = bj(datetime.now(UTC))
    text = f"{secret}app_key{key}method{method}param_json{param_json}timestamp{stamp}v2{secret}"
    query = {
        "app_key": key,
        "method": method,
        "access_token": token,
        "timestamp": stamp,
        "v": "2",
        "sign_method": "hmac-sha256",
        "sign": hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest(),
    }
    response = http.post(
        f"/douyin/{DY_SHOP}/{method.replace('.', '/')}",
        params=query,
        content=(param_json if body is None else body).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def error_code(answer: dict[str, Any]) -> Any:
    error = answer.get("error_response") or {}
    return error.get("code", error.get("error_code"))


def sealed(value: str, *plain: str | None) -> bool:
    """An opaque ``~...~`` string that gives away none of the plaintext values."""
    return (
        value.startswith("~")
        and value.endswith("~")
        and not any(p and (p in value or p.replace(" ", "")[-8:] in value) for p in plain)
    )


# -- Taobao --------------------------------------------------------------------------------------


def test_taobao_signatures_sessions_and_refresh(sandbox: Sandbox, http: httpx.Client) -> None:
    shop_of(http, "taobao")
    window: dict[str, Any] = {
        "start_modified": bj(ago(600)),
        "end_modified": bj(ago(1)),
        "fields": "tid",
    }
    for method in ("md5", "hmac", "hmac-sha256"):
        answer = top(http, INCREMENT, sign_method=method, **window)
        assert answer["trades_sold_increment_get_response"]["total_results"] == 0, answer
    assert error_code(top(http, INCREMENT, tamper={"fields": "tid,status"}, **window)) == 25
    assert error_code(top(http, INCREMENT, secret="guess", **window)) == 25
    assert error_code(top(http, INCREMENT, when=ago(11), **window)) == 43
    assert error_code(top(http, INCREMENT, session="nope", **window)) == 27

    http.put("/_sandbox/faults", json={"expire_tokens": True})
    expired = top(http, INCREMENT, **window)
    assert error_code(expired) == 27 and expired["error_response"]["sub_code"]
    grant = {"grant_type": "refresh_token", "client_id": TOP_CREDS["app_key"]}
    grant |= {"client_secret": TOP_CREDS["app_secret"], "refresh_token": "6200refresh"}
    token = http.post(f"/taobao/{NICK}/token", data=grant)
    assert token.status_code == 200, token.text
    fresh = token.json()
    assert fresh["taobao_user_nick"] == NICK and fresh["expires_in"] > 0
    assert fresh["refresh_token"] and fresh["re_expires_in"] > 0
    assert "error_response" not in top(http, INCREMENT, session=fresh["access_token"], **window)
    refused = http.post(f"/taobao/{NICK}/token", data={**grant, "refresh_token": "stolen"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_taobao_pages_newest_first_with_right_totals(sandbox: Sandbox, http: httpx.Client) -> None:
    shop_of(http, "taobao")
    ids = create(http, "taobao", NICK, 130, start=ago(20 * 60).isoformat(), end=ago(5).isoformat())
    create(http, "taobao", NICK, 12, start=ago(30 * 60).isoformat(), end=ago(26 * 60).isoformat())
    window: dict[str, Any] = {"start_modified": bj(ago(23 * 60)), "end_modified": bj(ago(1))}
    fields = "tid,status,modified,created,pay_time,payment"
    first = top(http, INCREMENT, fields=fields, page_no=1, page_size=40, **window)
    body = first["trades_sold_increment_get_response"]
    assert body["total_results"] == 130 and body["has_next"] is True
    # A stable walk: learn the total, then page from the last page backwards.
    seen: list[tuple[str, int]] = []
    for page in range(4, 0, -1):
        answer = top(
            http,
            INCREMENT,
            fields=fields,
            page_no=page,
            page_size=40,
            use_has_next="true",
            **window,
        )
        chunk = answer["trades_sold_increment_get_response"]
        assert "total_results" not in chunk and chunk["has_next"] is (page < 4)
        seen = [(t["modified"], t["tid"]) for t in chunk["trades"]["trade"]] + seen
        assert set(chunk["trades"]["trade"][0]) <= set(fields.split(","))
    assert seen == sorted(seen, reverse=True)
    assert sorted(tid for _, tid in seen) == sorted(ids)
    assert all(isinstance(tid, int) and len(str(tid)) == 19 for tid in ids)

    tid = ids[0]
    full = top(
        http,
        "taobao.trade.fullinfo.get",
        tid=tid,
        fields="tid,payment,total_fee,"
        "post_fee,discount_fee,receiver_name,receiver_mobile,receiver_address,orders",
    )
    trade = full["trade_fullinfo_get_response"]["trade"]
    order = sandbox.state.shops[("taobao", NICK)].orders[str(tid)]
    assert trade["tid"] == tid and order.currency == "CNY" and order.address.country_code == "CN"
    assert Decimal(trade["payment"]) == Decimal(trade["total_fee"]) - Decimal(
        trade["discount_fee"]
    ) + Decimal(trade["post_fee"])
    assert sealed(trade["receiver_name"], order.address.name, order.buyer.first_name)
    assert sealed(trade["receiver_address"], order.address.address1)
    assert trade["receiver_mobile"] == "" or sealed(trade["receiver_mobile"], order.address.phone)
    assert [o["outer_sku_id"] for o in trade["orders"]["order"]] == [x.sku for x in order.lines]
    missing = top(http, "taobao.trade.fullinfo.get", tid=1, fields="tid")
    assert error_code(missing) == 15


def test_taobao_refuses_wide_windows_and_big_pages(http: httpx.Client) -> None:
    shop_of(http, "taobao")
    wide = top(
        http, INCREMENT, fields="tid", start_modified=bj(ago(25 * 60)), end_modified=bj(ago(0))
    )
    assert error_code(wide) == 15
    old = top(
        http,
        INCREMENT,
        fields="tid",
        start_modified=bj(ago(95 * 1440)),
        end_modified=bj(ago(94 * 1440)),
    )
    assert error_code(old) == 15
    big = top(
        http,
        INCREMENT,
        fields="tid",
        start_modified=bj(ago(60)),
        end_modified=bj(ago(0)),
        page_size=101,
    )
    assert error_code(big) == 41
    assert error_code(top(http, INCREMENT, start_modified=bj(ago(60)))) == 40


def test_taobao_flow_control_says_how_long_to_wait(http: httpx.Client) -> None:
    shop_of(http, "taobao", rate={"rate": 0.01, "burst": 1})
    window: dict[str, Any] = {
        "start_modified": bj(ago(60)),
        "end_modified": bj(ago(0)),
        "fields": "tid",
    }
    assert "error_response" not in top(http, INCREMENT, **window)
    limited = top(http, INCREMENT, **window)["error_response"]
    assert limited["code"] == 7
    wait = re.fullmatch(r"This ban will last for (\d+) more seconds", limited["sub_msg"])
    assert wait is not None and int(wait.group(1)) >= 1
    stats = http.get("/_sandbox/stats").json()
    assert stats["throttled"] == 1 and stats["requests"][f"taobao/{NICK}"] == 2


# -- Pinduoduo -----------------------------------------------------------------------------------


def test_pinduoduo_pages_newest_first_tokens_and_flow_control(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    shop_of(http, "pinduoduo")
    ids = create(http, "pinduoduo", MALL, 120, start=ago(28).isoformat(), end=ago(3).isoformat())
    create(http, "pinduoduo", MALL, 15, start=ago(60).isoformat(), end=ago(40).isoformat())
    assert all(re.fullmatch(r"\d{6}-\d{15}", one) for one in ids)
    window: dict[str, Any] = {
        "start_updated_at": int(ago(29).timestamp()),
        "end_updated_at": int(ago(2).timestamp()),
        "is_lucky_flag": 0,
        "order_status": 5,
        "refund_status": 5,
        "page_size": 50,
    }
    first = pdd(http, PDD_INCREMENT, page=1, **window)["order_sn_increment_get_response"]
    assert first["total_count"] == 120 and first["has_next"] is True
    seen: list[tuple[str, str]] = []
    for page in (3, 2, 1):
        chunk = pdd(http, PDD_INCREMENT, page=page, use_has_next="true", **window)
        body = chunk["order_sn_increment_get_response"]
        assert "total_count" not in body and body["has_next"] is (page < 3)
        seen = [(o["updated_at"], o["order_sn"]) for o in body["order_sn_list"]] + seen
    assert [at for at, _ in seen] == sorted((at for at, _ in seen), reverse=True)
    assert sorted(sn for _, sn in seen) == sorted(ids)
    one = first["order_sn_list"][0]
    order = sandbox.state.shops[("pinduoduo", MALL)].orders[one["order_sn"]]
    assert sealed(one["receiver_name"], order.address.name) and one["province"]
    assert one["receiver_phone"] == "" or sealed(one["receiver_phone"], order.address.phone)
    assert Decimal(one["pay_amount"]) == Decimal(one["goods_amount"]) - Decimal(
        one["discount_amount"]
    ) + Decimal(one["postage"])
    info = pdd(http, "pdd.order.information.get", order_sn=one["order_sn"])
    assert info["order_info_get_response"]["order_info"]["order_sn"] == one["order_sn"]

    assert error_code(pdd(http, PDD_INCREMENT, tamper={"page": "2"}, page=1, **window)) == 20004
    assert error_code(pdd(http, PDD_INCREMENT, secret="guess", page=1, **window)) == 20004
    wide = {**window, "start_updated_at": window["end_updated_at"] - 1801}
    assert error_code(pdd(http, PDD_INCREMENT, page=1, **wide)) == 10000

    http.put("/_sandbox/faults", json={"expire_tokens": True})
    assert error_code(pdd(http, PDD_INCREMENT, page=1, **window)) == 10019
    refreshed = pdd(http, "pdd.pop.auth.token.refresh", token="", refresh_token="pdd-rt")
    token = refreshed["pop_auth_token_refresh_response"]["access_token"]
    assert "error_response" not in pdd(http, PDD_INCREMENT, page=1, token=token, **window)
    stale = pdd(http, "pdd.pop.auth.token.refresh", token="", refresh_token="nope")
    assert error_code(stale) == 10000

    http.put("/_sandbox/faults", json={"throttle_next": 1})
    assert error_code(pdd(http, PDD_INCREMENT, page=1, token=token, **window)) == 52101


# -- JD ------------------------------------------------------------------------------------------


def test_jd_pages_ascending_with_signature_window_and_token_checks(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    shop_of(http, "jd", rate={"rate": 1000, "burst": 1000})
    ids = create(http, "jd", VENDOR, 60, start=ago(10 * 1440).isoformat(), end=ago(5).isoformat())
    create(http, "jd", VENDOR, 7, start=ago(45 * 1440).isoformat(), end=ago(40 * 1440).isoformat())
    assert all(re.fullmatch(r"\d{12}", one) for one in ids)
    search: dict[str, Any] = {
        "start_date": bj(ago(20 * 1440)),
        "end_date": bj(ago(0)),
        "order_state": JD_STATES,
        "optional_fields": "orderId,orderState,modified,orderPayment,consigneeInfo",
        "page_size": "25",
        "sortType": "1",
        "dateType": "1",
    }
    seen: list[tuple[str, str]] = []
    for page in (1, 2, 3):
        answer = jd(http, {**search, "page": str(page)})
        result = answer["jingdong_pop_order_search_responce"]["searchorderinfo_result"]
        assert result["orderTotal"] == 60
        seen += [(o["modified"], o["orderId"]) for o in result["orderInfoList"]]
        assert set(result["orderInfoList"][0]) == set(search["optional_fields"].split(","))
    assert seen == sorted(seen) and sorted(o for _, o in seen) == sorted(ids)
    finished = jd(http, {**search, "order_state": "FINISHED_L", "page": "1", "page_size": "50"})
    summaries = http.get(f"/_sandbox/jd/{VENDOR}/orders").json()["orders"]
    want = sum(s["channel_status"] == "FINISHED_L" and s["id"] in ids for s in summaries)
    result = finished["jingdong_pop_order_search_responce"]["searchorderinfo_result"]
    assert result["orderTotal"] == want

    assert error_code(jd(http, {**search, "page": "1"}, tamper={"v": "2.1"})) == "8"
    assert error_code(jd(http, {**search, "start_date": bj(ago(40 * 1440)), "page": "1"})) == "60"
    assert error_code(jd(http, {**search, "page_size": "51", "page": "1"})) == "60"
    assert error_code(jd(http, {**search, "page": "1"}, when=ago(7))) == "60"
    http.put("/_sandbox/faults", json={"expire_tokens": True})
    assert error_code(jd(http, {**search, "page": "1"})) == "19"
    query = {"app_key": "JDKEY", "app_secret": "jd-secret", "grant_type": "refresh_token"}
    grant = http.post(
        f"/jd/{VENDOR}/oauth2/refresh_token", params={**query, "refresh_token": "jd-rt"}
    )
    assert grant.status_code == 200, grant.text
    token = grant.json()["access_token"]
    assert "error_response" not in jd(http, {**search, "page": "1"}, token=token)
    http.put("/_sandbox/faults", json={"throttle_next": 1})
    assert error_code(jd(http, {**search, "page": "1"}, token=token)) == "67"


# -- Douyin --------------------------------------------------------------------------------------


def test_douyin_pages_in_fen_with_signature_tokens_and_faults(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    shop_of(http, "douyin", rate={"rate": 0.01, "burst": 6})
    ids = create(http, "douyin", DY_SHOP, 45, start=ago(1200).isoformat(), end=ago(5).isoformat())
    assert all(isinstance(one, str) and len(one) == 19 for one in ids)
    search: dict[str, Any] = {
        "update_time_start": int(ago(1380).timestamp()),
        "update_time_end": int(ago(1).timestamp()),
        "size": 20,
        "order_by": "update_time",
        "order_asc": True,
    }
    seen: list[tuple[int, str]] = []
    for page in (0, 1, 2):
        answer = douyin(http, "order.searchList", {**search, "page": page})
        assert answer["code"] == 10000, answer
        assert answer["data"]["total"] == 45 and answer["data"]["page"] == page
        seen += [(o["update_time"], o["order_id"]) for o in answer["data"]["shop_order_list"]]
    assert seen == sorted(seen) and sorted(o for _, o in seen) == sorted(ids)
    detail = douyin(http, "order.orderDetail", {"shop_order_id": ids[0]})["data"]
    order = detail["shop_order_detail"]
    plain = sandbox.state.shops[("douyin", DY_SHOP)].orders[ids[0]].address
    assert order["pay_amount"] == order["order_amount"] - order["promotion_amount"]
    assert all(isinstance(order[k], int) for k in ("pay_amount", "post_amount", "order_amount"))
    assert sealed(order["encrypt_post_receiver"], plain.name)
    assert sealed(order["post_addr"]["encrypt_detail"], plain.address1)
    assert order["post_addr"]["province"]["name"] == plain.province

    tampered = douyin(http, "order.searchList", {**search, "page": 0}, body='{"page":1}')
    assert tampered["code"] == 40004
    wide = {**search, "page": 0, "update_time_start": search["update_time_end"] - 86401}
    assert douyin(http, "order.searchList", wide)["code"] == 40001
    assert douyin(http, "order.searchList", {**search, "page": 0}, token="nope")["code"] == 30002
    http.put("/_sandbox/faults", json={"expire_tokens": True})
    assert douyin(http, "order.searchList", {**search, "page": 0})["code"] == 30001
    grant = {"grant_type": "refresh_token", "refresh_token": "dy-rt"}
    refreshed = douyin(http, "token.refresh", grant, token="")
    assert refreshed["code"] == 10000 and refreshed["data"]["shop_id"] == int(DY_SHOP)
    token = refreshed["data"]["access_token"]
    assert douyin(http, "order.searchList", {**search, "page": 0}, token=token)["code"] == 10000
    # Six calls reached the bucket of six: Douyin's own flow-control code, HTTP 200.
    assert douyin(http, "order.searchList", {**search, "page": 0}, token=token)["code"] == 50002
    http.put("/_sandbox/faults", json={"fail_next": 1})
    failed = http.post(f"/douyin/{DY_SHOP}/order/searchList", params={"app_key": "x"})
    assert failed.status_code == 500 and failed.json()["code"] != 10000


def test_douyin_push_is_signed_and_shaped_by_faults(sandbox: Sandbox, http: httpx.Client) -> None:
    receiver = Receiver()
    try:
        shop_of(http, "douyin", webhook_url=receiver.url)
        ids = create(http, "douyin", DY_SHOP, 2, notify=True, history=False)
        assert sandbox.state.webhooks_idle(10)
        assert len(receiver.received) == 2
        for _, headers, body in receiver.received:
            assert headers["app-id"] == DY_CREDS["app_key"]
            expected = hashlib.md5(
                DY_CREDS["app_key"].encode() + body + b"dy-secret", usedforsecurity=False
            ).hexdigest()
            assert hmac.compare_digest(headers["event-sign"], expected)
            [event] = json.loads(body)
            assert event["tag"] == "101" and len(event["msg_id"]) == 19
            assert str(json.loads(event["data"])["p_id"]) in ids

        http.put("/_sandbox/faults", json={"duplicate_webhooks": 2})
        http.post(f"/_sandbox/douyin/{DY_SHOP}/orders/{ids[0]}/events", json={"action": "ship"})
        assert sandbox.state.webhooks_idle(10)
        copies = [json.loads(body)[0] for _, _, body in receiver.received[2:]]
        assert len(copies) == 2 and copies[0] == copies[1] and copies[0]["tag"] == "103"

        http.put("/_sandbox/faults", json={"hold_webhooks": True, "reverse_webhooks": True})
        held = create(http, "douyin", DY_SHOP, 3, notify=True, history=False)
        assert sandbox.state.webhooks_idle(10) and len(receiver.received) == 4
        assert http.post("/_sandbox/webhooks/flush").json() == {"flushed": 3}
        assert sandbox.state.webhooks_idle(10)
        late = [
            str(json.loads(json.loads(b)[0]["data"])["p_id"]) for _, _, b in receiver.received[4:]
        ]
        assert late == held[::-1]
        assert http.get("/_sandbox/stats").json()["webhooks_sent"] == 7
    finally:
        receiver.close()


# -- WebSocket push ------------------------------------------------------------------------------


def ws_url(sandbox: Sandbox, path: str) -> str:
    return sandbox.url.replace("http://", "ws://") + path


def frames(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(ws.recv(timeout=10)) for _ in range(count)]


@contextmanager
def tmc_connect(
    sandbox: Sandbox, secret: str = TOP_CREDS["app_secret"]
) -> Iterator[ClientConnection]:
    """A TMC connection that has sent its signed connect frame (sign over app_key, timestamp)."""
    with connect(ws_url(sandbox, f"/taobao/{NICK}/tmc"), open_timeout=10, proxy=None) as ws:
        stamp = str(int(datetime.now(UTC).timestamp() * 1000))
        text = f"app_key{TOP_CREDS['app_key']}timestamp{stamp}"
        sign = md5_hex(secret + text + secret).upper()
        hello = {"type": "connect", "app_key": TOP_CREDS["app_key"], "timestamp": stamp}
        ws.send(json.dumps({**hello, "sign": sign}))
        yield ws


def test_tmc_sends_trade_messages_and_resends_unconfirmed(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    shop_of(http, "taobao")
    with tmc_connect(sandbox, secret="guess") as refused:
        assert json.loads(refused.recv(timeout=10)) == {"type": "error", "code": 25}
    with tmc_connect(sandbox) as ws:
        assert json.loads(ws.recv(timeout=10)) == {"type": "connected"}
        tids = create(http, "taobao", NICK, 3, notify=True, history=False)
        received = frames(ws, 3)
        assert [json.loads(f["content"])["tid"] for f in received] == tids
        assert {f["topic"] for f in received} == {"taobao_trade_TradeCreate"}
        assert all(f["type"] == "message" and len(f["pub_time"]) == 19 for f in received)
        ws.send(json.dumps({"type": "confirm", "ids": [received[0]["id"], received[1]["id"]]}))
    # A change while disconnected waits; the unconfirmed message comes again on reconnect.
    events = f"/_sandbox/taobao/{NICK}/orders/{tids[0]}/events"
    assert http.post(events, json={"action": "cancel"}).status_code == 200
    with tmc_connect(sandbox) as ws:
        assert json.loads(ws.recv(timeout=10)) == {"type": "connected"}
        again = frames(ws, 2)
        assert again[0] == received[2]
        assert again[1]["topic"] == "taobao_trade_TradeClose"
        assert json.loads(again[1]["content"])["tid"] == tids[0]
        ws.send(json.dumps({"type": "confirm", "ids": [f["id"] for f in again]}))
        ws.close()
    stats = http.get("/_sandbox/stats").json()
    assert stats["messages"][f"taobao/{NICK}"]["pending"] == 0
    assert stats["messages_confirmed"] == 4 and stats["messages_sent"] == 5


def pdd_connect(sandbox: Sandbox, secret: str = PDD_CREDS["client_secret"]) -> ClientConnection:
    client, stamp = PDD_CREDS["client_id"], str(int(datetime.now(UTC).timestamp() * 1000))
    sign = md5_hex(secret + client + stamp + secret).upper()
    url = ws_url(sandbox, f"/pinduoduo/{MALL}/message/{client}/{stamp}/{sign}")
    return connect(url, open_timeout=10, proxy=None)


def test_pinduoduo_messages_need_a_sign_and_an_ack(sandbox: Sandbox, http: httpx.Client) -> None:
    shop_of(http, "pinduoduo")
    with pdd_connect(sandbox, secret="guess") as refused, pytest.raises(ConnectionClosed) as closed:
        refused.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with pdd_connect(sandbox) as ws:
        sns = create(http, "pinduoduo", MALL, 2, notify=True, history=False)
        received = frames(ws, 2)
        for frame, sn in zip(received, sns, strict=True):
            assert frame["commandType"] == "Common" and frame["sendTime"] >= frame["time"]
            assert frame["message"]["type"] == "pdd_trade_TradeConfirmed"
            assert frame["message"]["mallID"] == int(MALL)
            assert json.loads(frame["message"]["content"]) == {"tid": sn, "mall_id": int(MALL)}
        ws.send(json.dumps({"commandType": "Ack", "id": received[0]["id"], "sendTime": 1}))
        events = f"/_sandbox/pinduoduo/{MALL}/orders/{sns[0]}/events"
        assert http.post(events, json={"action": "ship"}).status_code == 200
        shipped = frames(ws, 1)[0]
        assert shipped["message"]["type"] == "pdd_trade_TradeSellerShip"
    with pdd_connect(sandbox) as ws:
        again = frames(ws, 2)
        assert [f["id"] for f in again] == [received[1]["id"], shipped["id"]]
        for frame in again:
            ws.send(json.dumps({"commandType": "Ack", "id": frame["id"], "sendTime": 1}))
        ws.close()
    stats = http.get("/_sandbox/stats").json()["messages"][f"pinduoduo/{MALL}"]
    assert stats == {"sent": 5, "confirmed": 3, "pending": 0, "connections": 0}


# -- registration and generated data -------------------------------------------------------------


def test_chinese_shops_need_their_credentials_and_sell_in_yuan(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    incomplete = http.post(
        "/_sandbox/shops", json={"channel": "jd", "shop": VENDOR, "credentials": JD_CREDS}
    )
    assert incomplete.status_code == 400 and "refresh_token" in incomplete.text
    for channel in CREDS:
        described = register(http, channel, CREDS[channel][0], CREDS[channel][1], currency="USD")
        assert described["currency"] == "CNY"
        assert described["api_base_url"] == f"{sandbox.url}/{channel}/{CREDS[channel][0]}"
        create(
            http,
            channel,
            CREDS[channel][0],
            200,
            start=ago(3000).isoformat(),
            end=ago(5).isoformat(),
            seed=3,
        )
    for (channel, _), shop in sandbox.state.shops.items():
        orders = list(shop.orders.values())
        assert all(o.address.country_code == "CN" and o.buyer.cjk for o in orders)
        assert all(o.tax == 0 and o.currency == "CNY" for o in orders)
        if channel in ("pinduoduo", "jd"):
            assert all(o.paid_at for o in orders)
        else:
            assert any(o.paid_at is None for o in orders)
        assert any(o.refunds for o in orders) and any(o.cancelled_at for o in orders)
