"""Sandbox Taobao / Tmall: the TOP gateway, the OAuth refresh endpoint and TMC push over WebSocket.

Served under ``/taobao/{seller_nick}``, which replaces ``https://eco.taobao.com``:
``POST /router/rest`` takes the system and business parameters form-encoded (or in the query),
checks them in TOP's order (arguments, app key, timestamp, signature, session, flow control)
and answers HTTP 200 with either ``{"<method>_response": ...}`` or ``{"error_response": ...}``.
``taobao.trades.sold.increment.get`` lists trades newest first, as TOP does, so a client that
wants a stable walk learns ``total_results`` and pages from the last page backwards.

TMC (``/taobao/{seller_nick}/tmc``) sends a message for every trade created or moved on; each is
a hint to call ``taobao.trade.fullinfo.get``. Unconfirmed messages come again on reconnect.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from daiyun.sandboxes.marketplaces import china_listings, china_shipments
from daiyun.sandboxes.marketplaces.china import (
    HISTORY,
    app_key,
    app_secret,
    beijing,
    bounded,
    catalogue_id,
    concat,
    flow_wait,
    lifetime,
    md5_upper,
    open_gateway,
    parse_beijing,
    parse_clock,
    read_params,
    refresh_grant,
    same,
    seal,
    skewed,
    token_state,
    wire_value,
    yuan,
)
from daiyun.sandboxes.marketplaces.push import Message, run_session
from daiyun.sandboxes.marketplaces.state import (
    Order,
    SandboxState,
    Shop,
    lower_bound,
    upper_bound,
)

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 40
MAX_WINDOW = timedelta(days=1)
MAX_SKEW = timedelta(minutes=10)
# How long a refresh token lives, as reported (the sandbox never retires one).
REFRESH_LIFETIME = 30 * 86400
INCREMENT = "taobao.trades.sold.increment.get"
FULLINFO = "taobao.trade.fullinfo.get"
TOPICS = {
    "create": "taobao_trade_TradeCreate",
    "pay": "taobao_trade_TradeBuyerPay",
    "fulfill": "taobao_trade_TradeSellerShip",
    "ship": "taobao_trade_TradeSellerShip",
    "deliver": "taobao_trade_TradeSuccess",
    "cancel": "taobao_trade_TradeClose",
    "refund": "taobao_refund_RefundSuccess",
}

router = APIRouter(prefix="/taobao/{shop}", tags=["sandbox: taobao"])


# -- rendering ---------------------------------------------------------------------------------


def trade_status(order: Order) -> str:
    if order.cancelled_at:
        # Never paid: Taobao closes it; paid then cancelled: closed after the refund.
        return "TRADE_CLOSED" if order.paid_at else "TRADE_CLOSED_BY_TAOBAO"
    if order.paid_at and order.refunded >= order.total > 0:
        return "TRADE_CLOSED"
    if order.delivered_at:
        return "TRADE_FINISHED"
    if order.paid_at is None:
        return "WAIT_BUYER_PAY"
    shipped = order.items_shipped
    if shipped >= order.items:
        return "WAIT_BUYER_CONFIRM_GOODS"
    return "SELLER_CONSIGNED_PART" if shipped else "WAIT_SELLER_SEND_GOODS"


def line_refunds(order: Order) -> list[int]:
    """The refunded amount of each sub-order: refunds fill the lines in turn, and whatever is
    left (the shipping of a whole refund) goes with the last one, so they add up exactly."""
    left = order.refunded
    shares = []
    for line in order.lines:
        share = min(left, line.net)
        shares.append(share)
        left -= share
    if left and shares:
        shares[-1] += left
    return shares


def _end_time(order: Order) -> datetime | None:
    if order.cancelled_at:
        return order.cancelled_at
    if order.delivered_at:
        return order.delivered_at
    if order.paid_at and order.refunded >= order.total > 0:
        return order.refunds[-1].created_at
    return None


def _uid(*parts: object) -> str:
    return hashlib.sha256("/".join(str(one) for one in parts).encode()).hexdigest()


def render_trade(shop: Shop, order: Order) -> dict[str, Any]:
    """The trade as ``taobao.trade.fullinfo.get`` returns it (absent times are left out)."""
    status = trade_status(order)
    address = order.address
    sub_orders = []
    for line, refunded in zip(order.lines, line_refunds(order), strict=True):
        sub_orders.append(
            {
                "oid": line.id,
                "num_iid": catalogue_id(line.sku, 600_000_000_000),
                "outer_sku_id": line.sku,
                "title": line.title,
                "num": line.quantity,
                "price": yuan(line.unit_price),
                "total_fee": yuan(line.gross),
                "discount_fee": yuan(line.discount),
                "payment": yuan(line.net),
                "status": "TRADE_CLOSED" if refunded and refunded >= line.net else status,
                "refund_status": "SUCCESS" if refunded else "NO_REFUND",
                "refund_fee": yuan(refunded),
            }
        )
    trade: dict[str, Any] = {
        "tid": order.id,
        "type": "fixed",
        "status": status,
        "seller_nick": shop.name,
        "created": beijing(order.created_at),
        "modified": beijing(order.updated_at),
        "pay_time": beijing(order.paid_at),
        "consign_time": beijing(order.fulfilled_at),
        "end_time": beijing(_end_time(order)),
        "payment": yuan(order.total),
        "total_fee": yuan(order.gross),
        "post_fee": yuan(order.shipping),
        "discount_fee": yuan(order.discounts),
        "buyer_open_uid": "AAH" + _uid(shop.name, order.buyer.customer_id)[:21],
        "buyer_message": order.note,
        "receiver_name": seal(shop, address.name),
        "receiver_mobile": seal(shop, address.phone),
        "receiver_state": address.province,
        "receiver_city": address.city,
        "receiver_district": address.district,
        "receiver_address": seal(shop, address.address1 + address.address2),
        "receiver_zip": address.zip,
        "oaid": _uid(shop.name, order.buyer.customer_id, address.address1)[:32],
        "orders": {"order": sub_orders},
    }
    return {name: value for name, value in trade.items() if value is not None}


def _pick(trade: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    # "orders.title" asks for the sub-orders too; the sandbox sends them whole.
    wanted = {name.split(".")[0] for name in fields}
    return {name: value for name, value in trade.items() if name in wanted}


def tmc_messages(shop: Shop, order: Order, action: str) -> list[tuple[str, str]]:
    """The TMC message for one change: its topic and its content (a JSON string)."""
    content: dict[str, Any] = {
        "tid": order.id,
        "oid": order.lines[0].id if order.lines else order.id,
        "seller_nick": shop.name,
        "status": trade_status(order),
        "payment": yuan(order.total),
        "type": "fixed",
    }
    if action == "refund" and order.refunds:
        refund = order.refunds[-1]
        content.update(refund_id=refund.id, refund_fee=yuan(refund.amount))
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return [(TOPICS.get(action, "taobao_trade_TradeChanged"), text)]


# -- errors and signatures -----------------------------------------------------------------------


def _error(
    code: int, msg: str, sub_code: str = "", sub_msg: str = "", status: int = 200
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if sub_code:
        body["sub_code"] = sub_code
    if sub_msg:
        body["sub_msg"] = sub_msg
    body["request_id"] = uuid.uuid4().hex[:13]
    return JSONResponse({"error_response": body}, status_code=status)


def _missing(name: str) -> JSONResponse:
    return _error(40, "Missing required arguments:" + name)


def _invalid(name: str) -> JSONResponse:
    return _error(41, "Invalid arguments:" + name)


def _refused(sub_msg: str) -> JSONResponse:
    return _error(15, "Remote service error", "isv.invalid-parameter", sub_msg)


def sign(params: dict[str, str], secret: str, method: str) -> str | None:
    """TOP's signature of the parameters, or None for an unknown ``sign_method``."""
    text = concat(params, skip_empty=True)
    if method == "md5":
        return md5_upper(secret + text + secret)
    if method == "hmac":
        return hmac.new(secret.encode(), text.encode(), hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    return None


# -- the gateway ---------------------------------------------------------------------------------


@router.api_route("/router/rest", methods=["GET", "POST"])
async def gateway(request: Request, shop: str) -> Response:
    params = await read_params(request)
    # The state's lock can be held for a while (a bulk load): wait for it off the event loop.
    return await run_in_threadpool(_call, request.app.state.sandbox, shop, params)


def _call(state: SandboxState, name: str, params: dict[str, str]) -> Response:
    shop, verdict = open_gateway(state, "taobao", name)
    if shop is None:
        return _error(29, "Invalid app Key", status=404)
    if verdict.fault == "throttle":
        seconds = max(1, math.ceil(verdict.retry_after))
        state.throttled(shop, seconds)
        return _flow_control(seconds)
    if verdict.fault == "fail":
        return _error(10, "Service currently unavailable", "isp.top-remote-unknown-error", "", 500)
    for required in ("method", "app_key", "timestamp", "sign"):
        if not params.get(required):
            return _missing(required)
    if not same(params["app_key"], app_key(shop)):
        return _error(29, "Invalid app Key")
    try:
        moment = parse_beijing(params["timestamp"])
    except ValueError:
        return _invalid("timestamp")
    if skewed(moment, MAX_SKEW):
        return _error(43, "Invalid timestamp", sub_msg="timestamp is more than 10 minutes off")
    expected = sign(params, app_secret(shop), params.get("sign_method") or "md5")
    if expected is None:
        return _invalid("sign_method")
    if not same(params["sign"], expected):
        return _error(25, "Invalid signature")
    if token_state(state, shop, params.get("session")) != "valid":
        return _error(27, "Invalid session", "invalid-sessionkey", "SessionKey非法或已过期")
    wait = flow_wait(state, shop)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        state.throttled(shop, seconds)
        return _flow_control(seconds)
    method = params["method"]
    if method == china_shipments.METHODS["taobao"]:  # shipments: china_shipments.py
        try:
            payload = china_shipments.handle(state, shop, params)
        except china_listings.Refused as exc:
            return _refused(str(exc))
        return JSONResponse({china_listings.response_key("taobao", method): payload})
    if method in china_listings.METHODS["taobao"]:  # item writes: china_listings.py
        try:
            payload = china_listings.handle(state, shop, method, params)
        except china_listings.Refused as exc:
            return _refused(str(exc))
        return JSONResponse({china_listings.response_key("taobao", method): payload})
    fields = {one.strip() for one in params.get("fields", "").split(",") if one.strip()}
    if method not in (INCREMENT, FULLINFO):
        return _error(22, "Invalid method")
    if not fields:
        return _missing("fields")
    if method == FULLINFO:
        return _fullinfo(state, shop, params, fields)
    return _increment(state, shop, params, fields)


def _flow_control(seconds: int) -> JSONResponse:
    return _error(
        7,
        "App Call Limited",
        "accesscontrol.limited-by-app-access-count",
        f"This ban will last for {seconds} more seconds",
    )


def _fullinfo(
    state: SandboxState, shop: Shop, params: dict[str, str], fields: set[str]
) -> Response:
    if not params.get("tid"):
        return _missing("tid")
    if not params["tid"].isdigit():
        return _invalid("tid")
    with state.lock:
        order = shop.orders.get(str(int(params["tid"])))
        if order is None:
            return _error(15, "Remote service error", "isv.trade-not-exist", "交易不存在")
        trade = _pick(render_trade(shop, order), fields)
    return JSONResponse({"trade_fullinfo_get_response": {"trade": trade}})


def _increment(
    state: SandboxState, shop: Shop, params: dict[str, str], fields: set[str]
) -> Response:
    for required in ("start_modified", "end_modified"):
        if not params.get(required):
            return _missing(required)
    try:
        start = parse_beijing(params["start_modified"])
    except ValueError:
        return _invalid("start_modified")
    try:
        end = parse_beijing(params["end_modified"])
    except ValueError:
        return _invalid("end_modified")
    if end < start:
        return _refused("start_modified must not be later than end_modified")
    if end - start > MAX_WINDOW:
        return _refused("end_modified and start_modified must be within one day")
    if start < datetime.now(UTC) - HISTORY:
        return _refused("start_modified must be within the last three months")
    try:
        page_no = bounded(params, "page_no", 1, 1)
        size = bounded(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    except ValueError as exc:
        return _invalid(str(exc))
    use_has_next = params.get("use_has_next", "").lower() == "true"
    with state.lock:
        begin, finish = shop.window(lower_bound(start), upper_bound(end))
        total = finish - begin
        # Newest first: page 1 is the top of the window in the ascending index.
        top = max(begin, finish - (page_no - 1) * size)
        keys = shop.keys[max(begin, top - size) : top][::-1]
        trades = [_pick(render_trade(shop, shop.by_id[key[1]]), fields) for key in keys]
    body: dict[str, Any] = {}
    if not use_has_next:
        body["total_results"] = total
    body["has_next"] = page_no * size < total
    body["trades"] = {"trade": trades}
    return JSONResponse({"trades_sold_increment_get_response": body})


# -- OAuth refresh -------------------------------------------------------------------------------


@router.post("/token")
async def token(request: Request, shop: str) -> Response:
    params = await read_params(request)
    return await run_in_threadpool(_token, request.app.state.sandbox, shop, params)


def _token(state: SandboxState, name: str, params: dict[str, str]) -> Response:
    found = state.shop("taobao", name)
    state.open_call(found, f"taobao/{name}", inject=False)
    if params.get("grant_type") != "refresh_token":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    if found is None or not (
        same(params.get("client_id"), app_key(found))
        and same(params.get("client_secret"), app_secret(found))
    ):
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    try:
        access, refresh = refresh_grant(state, found, params.get("refresh_token"))
    except LookupError:
        return JSONResponse(
            {"error": "invalid_grant", "error_description": "refresh_token is invalid"},
            status_code=400,
        )
    return JSONResponse(
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime(state),
            "refresh_token": refresh,
            "re_expires_in": REFRESH_LIFETIME,
            "taobao_user_nick": found.name,
        }
    )


# -- TMC -----------------------------------------------------------------------------------------


def _tmc_frame(message: Message) -> dict[str, Any]:
    return {
        "type": "message",
        "id": message.id,
        "topic": message.topic,
        "content": message.content,
        "pub_time": beijing(datetime.fromtimestamp(message.created_ms / 1000, UTC)),
    }


def _tmc_confirmed(frame: Any) -> list[int]:
    if not isinstance(frame, dict) or frame.get("type") != "confirm":
        return []
    return [int(one) for one in frame.get("ids") or []]


def _tmc_refusal(shop: Shop | None, hello: Any) -> int | None:
    """None if the connect frame authenticates the app, else the error code to answer."""
    if shop is None or not isinstance(hello, dict) or hello.get("type") != "connect":
        return 25
    key, stamp = wire_value(hello.get("app_key")), wire_value(hello.get("timestamp"))
    try:
        if skewed(parse_clock(stamp), MAX_SKEW):
            return 43
    except (ValueError, OverflowError, OSError):
        return 43
    expected = sign({"app_key": key, "timestamp": stamp}, app_secret(shop), "md5")
    if not same(key, app_key(shop)) or not same(wire_value(hello.get("sign")), expected or ""):
        return 25
    return None


@router.websocket("/tmc")
async def tmc(websocket: WebSocket, shop: str) -> None:
    state: SandboxState = websocket.app.state.sandbox
    found = state.shop("taobao", shop)
    await websocket.accept()
    try:
        hello = json.loads(await asyncio.wait_for(websocket.receive_text(), 30))
    except (TimeoutError, ValueError, KeyError, WebSocketDisconnect, RuntimeError):
        hello = None
    refusal = _tmc_refusal(found, hello)
    if found is None or refusal is not None:
        try:
            await websocket.send_text(json.dumps({"type": "error", "code": refusal or 25}))
            await websocket.close(code=1008)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        return
    await websocket.send_text(json.dumps({"type": "connected"}))
    await run_session(websocket, state.messages, found.label, _tmc_frame, _tmc_confirmed)
