"""Sandbox Pinduoduo: the open-platform router, token refresh on it, and the message service.

Served under ``/pinduoduo/{mall_id}``, which replaces ``https://gw-api.pinduoduo.com``:
``POST /api/router`` takes its parameters as a JSON object or a form, checks the client,
timestamp (Unix seconds, ten minutes either way), signature and access token, and answers
HTTP 200 with ``{"<type minus pdd., dots as underscores>_response": ...}`` or an
``error_response``. The incremental order list comes newest first, like Taobao's.

Pinduoduo shows a seller only paid orders, so every sandbox order here is paid at creation.
The message service (``/pinduoduo/{mall_id}/message/{client_id}/{timestamp}/{sign}``) sends a
frame for every order created or moved on, until the client acknowledges it.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from daiyun.sandboxes.marketplaces import china_listings, china_messages, china_shipments
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
    mall_id,
    md5_upper,
    open_gateway,
    parse_clock,
    read_params,
    refresh_grant,
    same,
    seal,
    skewed,
    token_state,
    yuan,
)
from daiyun.sandboxes.marketplaces.push import Message, run_session
from daiyun.sandboxes.marketplaces.state import Order, SandboxState, Shop

MAX_PAGE_SIZE = 100
MAX_WINDOW = 1800
MAX_SKEW = timedelta(minutes=10)
INCREMENT = "pdd.order.number.list.increment.get"
INFORMATION = "pdd.order.information.get"
REFRESH = "pdd.pop.auth.token.refresh"
# Flow control, an expired or unknown token, a bad signature, a bad parameter.
FLOW_CONTROL, TOKEN_EXPIRED, SIGN_ERROR, BAD_PARAMETER = 52101, 10019, 20004, 10000
TOPICS = {
    "create": "pdd_trade_TradeConfirmed",
    "pay": "pdd_trade_TradeConfirmed",
    "fulfill": "pdd_trade_TradeSellerShip",
    "ship": "pdd_trade_TradeSellerShip",
    "deliver": "pdd_trade_TradeSuccess",
    "cancel": "pdd_refund_RefundCreated",
    "refund": "pdd_refund_RefundCreated",
}

router = APIRouter(prefix="/pinduoduo/{shop}", tags=["sandbox: pinduoduo"])


# -- rendering ---------------------------------------------------------------------------------


def order_status(order: Order) -> int:
    """1 awaiting shipment, 2 shipped, 3 received (partial shipments stay 1, as on PDD)."""
    if order.delivered_at:
        return 3
    return 2 if order.items and order.items_shipped >= order.items else 1


def refund_status(order: Order) -> int:
    """1 no refund, 3 refunded (the sandbox's refunds complete at once)."""
    return 3 if order.refunds else 1


def render_order(shop: Shop, order: Order) -> dict[str, Any]:
    """The order as ``pdd.order.information.get`` and the increment list return it."""
    address = order.address
    document: dict[str, Any] = {
        "order_sn": order.external_id,
        "order_status": order_status(order),
        "refund_status": refund_status(order),
        "confirm_status": 1,
        "trade_type": 0,
        "created_time": beijing(order.created_at),
        "confirm_time": beijing(order.paid_at),
        "shipping_time": beijing(order.fulfilled_at),
        "receive_time": beijing(order.delivered_at),
        "updated_at": beijing(order.updated_at),
        "pay_amount": yuan(order.total),
        "goods_amount": yuan(order.gross),
        "discount_amount": yuan(order.discounts),
        "postage": yuan(order.shipping),
        "item_list": [
            {
                "goods_id": catalogue_id(line.sku, 100_000_000_000),
                "sku_id": catalogue_id(line.sku, 1_200_000_000_000),
                "outer_id": line.sku,
                "goods_name": line.title,
                "goods_count": line.quantity,
                "goods_price": yuan(line.unit_price),
            }
            for line in order.lines
        ],
        "receiver_name": seal(shop, address.name),
        "receiver_phone": seal(shop, address.phone),
        "receiver_address": seal(shop, address.address1 + address.address2),
        "province": address.province,
        "city": address.city,
        "town": address.district,
        "buyer_memo": order.note,
    }
    if order.refunds:
        document["refund_amount"] = yuan(order.refunded)
    return {name: value for name, value in document.items() if value is not None}


def push_messages(shop: Shop, order: Order, action: str) -> list[tuple[str, str]]:
    """The message for one change: its type and its content (a JSON string)."""
    content: dict[str, Any] = {"tid": order.external_id, "mall_id": mall_id(shop)}
    if action in ("refund", "cancel") and order.refunds:
        content["refund_id"] = order.refunds[-1].id
    text = json.dumps(content, separators=(",", ":"))
    return [(TOPICS.get(action, "pdd_trade_TradeConfirmed"), text)]


# -- errors and signatures -----------------------------------------------------------------------


def _error(code: int, message: str, status: int = 200) -> JSONResponse:
    body = {
        "error_code": code,
        "error_msg": message,
        "sub_msg": "",
        "sub_code": "",
        "request_id": uuid.uuid4().hex,
    }
    return JSONResponse({"error_response": body}, status_code=status)


def _bad(message: str) -> JSONResponse:
    return _error(BAD_PARAMETER, message)


def sign(params: dict[str, str], secret: str) -> str:
    return md5_upper(secret + concat(params, skip_empty=False) + secret)


# -- the router ----------------------------------------------------------------------------------


@router.api_route("/api/router", methods=["GET", "POST"])
async def gateway(request: Request, shop: str) -> Response:
    params = await read_params(request)
    # The state's lock can be held for a while (a bulk load): wait for it off the event loop.
    return await run_in_threadpool(_call, request.app.state.sandbox, shop, params)


def _call(state: SandboxState, name: str, params: dict[str, str]) -> Response:
    shop, verdict = open_gateway(state, "pinduoduo", name)
    if shop is None:
        return _error(BAD_PARAMETER, "mall not found", status=404)
    if verdict.fault == "throttle":
        state.throttled(shop, 0)
        return _error(FLOW_CONTROL, "服务限流，请稍后重试")
    if verdict.fault == "fail":
        return _error(50000, "系统内部错误", status=500)
    for required in ("type", "client_id", "timestamp", "sign"):
        if not params.get(required):
            return _bad(f"公共参数错误: {required}")
    if not same(params["client_id"], app_key(shop)):
        return _bad("client_id 不存在")
    if not params["timestamp"].isdigit() or skewed(
        datetime.fromtimestamp(int(params["timestamp"]), UTC), MAX_SKEW
    ):
        return _bad("timestamp 已过期，须在服务器时间前后 10 分钟内")
    if not same(params["sign"], sign(params, app_secret(shop))):
        return _error(SIGN_ERROR, "sign 签名错误")
    if params["type"] == REFRESH:
        return _refresh(state, shop, params)
    if token_state(state, shop, params.get("access_token")) != "valid":
        return _error(TOKEN_EXPIRED, "access_token 已过期")
    if flow_wait(state, shop) is not None:
        # PDD says nothing of how long to wait, so no deadline is recorded for the client.
        state.throttled(shop, 0)
        return _error(FLOW_CONTROL, "服务限流，请稍后重试")
    if params["type"] == china_shipments.METHODS["pinduoduo"]:  # china_shipments.py
        try:
            payload = china_shipments.handle(state, shop, params)
        except china_listings.Refused as exc:
            return _bad(str(exc))
        return JSONResponse({china_listings.response_key("pinduoduo", params["type"]): payload})
    if params["type"] in china_messages.METHODS["pinduoduo"]:  # chat: china_messages.py
        try:
            payload = china_messages.handle(state, shop, params["type"], params)
        except china_listings.Refused as exc:
            return _bad(str(exc))
        return JSONResponse({china_listings.response_key("pinduoduo", params["type"]): payload})
    if params["type"] in china_listings.METHODS["pinduoduo"]:  # item writes: china_listings.py
        try:
            payload = china_listings.handle(state, shop, params["type"], params)
        except china_listings.Refused as exc:
            return _bad(str(exc))
        return JSONResponse({china_listings.response_key("pinduoduo", params["type"]): payload})
    if params["type"] == INCREMENT:
        return _increment(state, shop, params)
    if params["type"] == INFORMATION:
        return _information(state, shop, params)
    return _bad(f"type 不存在: {params['type']}")


def _refresh(state: SandboxState, shop: Shop, params: dict[str, str]) -> Response:
    try:
        access, refresh = refresh_grant(state, shop, params.get("refresh_token"))
    except LookupError:
        return _bad("refresh_token 无效")
    seconds = lifetime(state)
    return JSONResponse(
        {
            "pop_auth_token_refresh_response": {
                "access_token": access,
                "expires_in": seconds,
                "expires_at": int(time.time()) + seconds,
                "refresh_token": refresh,
                "owner_id": str(mall_id(shop)),
                "owner_name": shop.name,
            }
        }
    )


def _information(state: SandboxState, shop: Shop, params: dict[str, str]) -> Response:
    if not params.get("order_sn"):
        return _bad("order_sn 不能为空")
    with state.lock:
        order = shop.orders.get(params["order_sn"])
        if order is None:
            return _bad(f"订单不存在: {params['order_sn']}")
        document = render_order(shop, order)
    return JSONResponse({"order_info_get_response": {"order_info": document}})


def _increment(state: SandboxState, shop: Shop, params: dict[str, str]) -> Response:
    try:
        start = bounded(params, "start_updated_at", -1, 0)
        end = bounded(params, "end_updated_at", -1, 0)
        wanted_status = bounded(params, "order_status", -1, 1, 5)
        wanted_refund = bounded(params, "refund_status", -1, 1, 5)
        page = bounded(params, "page", 1, 1)
        size = bounded(params, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        bounded(params, "is_lucky_flag", 0, 0, 2)
    except ValueError as exc:
        return _bad(f"参数错误: {exc}")
    if not 0 <= end - start <= MAX_WINDOW:
        return _bad("end_updated_at 与 start_updated_at 的间隔须在 0 到 30 分钟之间")
    if start < (datetime.now(UTC) - HISTORY).timestamp():
        return _bad("start_updated_at 须在三个月以内")
    if wanted_status == 4:
        return _bad("参数错误: order_status")
    everything = wanted_status == 5 and wanted_refund == 5

    def keep(order: Order) -> bool:
        return (wanted_status == 5 or order_status(order) == wanted_status) and (
            wanted_refund == 5 or refund_status(order) == wanted_refund
        )

    skip = (page - 1) * size
    with state.lock:
        begin, finish = shop.window(start, end)
        if everything:
            total = finish - begin
            top = max(begin, finish - skip)
            chosen = [shop.by_id[key[1]] for key in shop.keys[max(begin, top - size) : top]]
            chosen.reverse()
        else:
            matched = shop.scan(begin, finish, finish - begin + 1, keep)
            matched.reverse()
            total = len(matched)
            chosen = matched[skip : skip + size]
        orders = [render_order(shop, order) for order in chosen]
    body: dict[str, Any] = {}
    if params.get("use_has_next", "").lower() != "true":
        body["total_count"] = total
    body["has_next"] = page * size < total
    body["order_sn_list"] = orders
    return JSONResponse({"order_sn_increment_get_response": body})


# -- the message service -------------------------------------------------------------------------


def _frame(shop: Shop) -> Any:
    mall = mall_id(shop)

    def frame(message: Message) -> dict[str, Any]:
        return {
            "id": message.id,
            "commandType": "Common",
            "time": message.created_ms,
            "sendTime": int(time.time() * 1000),
            "message": {"type": message.topic, "mallID": mall, "content": message.content},
        }

    return frame


def _acknowledged(frame: Any) -> list[int]:
    if not isinstance(frame, dict) or frame.get("commandType") != "Ack":
        return []
    return [int(frame["id"])]


def _message_refused(shop: Shop | None, client_id: str, timestamp: str, signed: str) -> bool:
    if shop is None or not same(client_id, app_key(shop)):
        return True
    try:
        if skewed(parse_clock(timestamp), MAX_SKEW):
            return True
    except (ValueError, OverflowError, OSError):
        return True
    secret = app_secret(shop)
    return not same(signed, md5_upper(secret + client_id + timestamp + secret))


@router.websocket("/message/{client_id}/{timestamp}/{sign}")
async def message_service(
    websocket: WebSocket, shop: str, client_id: str, timestamp: str, sign: str
) -> None:
    state: SandboxState = websocket.app.state.sandbox
    found = state.shop("pinduoduo", shop)
    await websocket.accept()
    if found is None or _message_refused(found, client_id, timestamp, sign):
        # 1008: policy violation, the close Pinduoduo sends to a client it does not trust.
        await websocket.close(code=1008, reason="invalid sign")
        return
    await run_session(websocket, state.messages, found.label, _frame(found), _acknowledged)
