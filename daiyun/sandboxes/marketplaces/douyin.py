"""Sandbox Douyin Shop (抖店): the open API, its token refresh, and the order documents it pushes.

Served under ``/douyin/{shop_id}``, which replaces ``https://openapi-fxg.jinritemai.com``. The
method is in the path (``/order/searchList``) and again in the query with the other system
parameters; the body is ``param_json``, the business parameters as compact JSON with sorted
keys, and the signature is an HMAC-SHA256 over the system parameters and that exact body. Every
answer is HTTP 200 with ``{"code": 10000, "msg": "success", "data": ...}`` or an error code.
Money is integer fen, times Unix seconds. Pushes (HTTP POSTs of event arrays signed with MD5) are
sent by :mod:`webhooks`; :func:`push_event` renders one event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from daiyun.sandboxes.marketplaces import china_listings, china_messages, china_shipments
from daiyun.sandboxes.marketplaces.china import (
    app_key,
    app_secret,
    bounded,
    catalogue_id,
    flow_wait,
    lifetime,
    mall_id,
    open_gateway,
    parse_beijing,
    refresh_grant,
    same,
    seal,
    skewed,
    token_state,
)
from daiyun.sandboxes.marketplaces.state import Order, SandboxState, Shop, epoch

SUCCESS = 10000
# Token expired, token invalid, bad signature, bad parameter, rate limited, service down.
TOKEN_EXPIRED, TOKEN_INVALID, SIGN_ERROR, BAD_PARAMETER, RATE_LIMITED, UNAVAILABLE = (
    30001,
    30002,
    40004,
    40001,
    50002,
    20000,
)
MAX_SIZE = 100
# UNCONFIRMED: the widest window Douyin accepts is not documented; one day is what passes here.
MAX_WINDOW = 86400
MAX_SKEW = timedelta(minutes=10)
STATUS_DESC = {1: "待支付", 2: "备货中", 3: "已发货", 4: "已取消", 5: "已完成", 105: "部分发货"}
# Push tags for each sandbox event; "110" (completed) is not in the contract's list of tags.
TAGS = {
    "create": "101",
    "pay": "102",
    "fulfill": "103",
    "ship": "103",
    "deliver": "110",
    "cancel": "105",
    "refund": "206",
}
# after_sale_status of a refund that went through.
REFUNDED = 12

router = APIRouter(prefix="/douyin/{shop}", tags=["sandbox: douyin"])


# -- rendering ---------------------------------------------------------------------------------


def order_status(order: Order) -> int:
    if order.cancelled_at:
        return 4
    if order.paid_at is None:
        return 1
    if order.delivered_at:
        return 5
    shipped = order.items_shipped
    if shipped and shipped >= order.items:
        return 3
    return 105 if shipped else 2


def shop_id(shop: Shop) -> int:
    given = str(shop.credentials.get("shop_id") or "")
    return int(given) if given.isdigit() else mall_id(shop)


def _place(name: str) -> dict[str, str]:
    return {"name": name, "id": str(catalogue_id(name, 0) % 1_000_000)}


def render_order(shop: Shop, order: Order) -> dict[str, Any]:
    """The order as an entry of ``shop_order_list`` (and ``shop_order_detail``)."""
    status = order_status(order)
    address = order.address
    document: dict[str, Any] = {
        "order_id": order.external_id,
        "shop_id": shop_id(shop),
        "order_status": status,
        "order_status_desc": STATUS_DESC[status],
        "create_time": epoch(order.created_at),
        "pay_time": epoch(order.paid_at) if order.paid_at else 0,
        "update_time": epoch(order.updated_at),
        "finish_time": epoch(order.delivered_at) if order.delivered_at else 0,
        "order_amount": order.gross + order.shipping,
        "pay_amount": order.total,
        "post_amount": order.shipping,
        "promotion_amount": order.discounts,
        "encrypt_post_receiver": seal(shop, address.name),
        "encrypt_post_tel": seal(shop, address.phone),
        "post_addr": {
            "province": _place(address.province),
            "city": _place(address.city),
            "town": _place(address.district),
            "street": {"name": "", "id": ""},
            "encrypt_detail": seal(shop, address.address1 + address.address2),
        },
        "buyer_words": order.note,
        "sku_order_list": [
            {
                "sku_order_id": str(line.id),
                "parent_order_id": order.external_id,
                "order_status": status,
                "product_id": str(catalogue_id(line.sku, 3_500_000_000_000_000_000)),
                "sku_id": catalogue_id(line.sku, 1_700_000_000_000),
                "code": line.sku,
                "product_name": line.title,
                "item_num": line.quantity,
                "origin_amount": line.gross,
                "pay_amount": line.net,
            }
            for line in order.lines
        ],
    }
    if order.refunds:
        document["after_sale_info"] = {
            "after_sale_status": REFUNDED,
            "refund_amount": order.refunded,
            "refund_time": epoch(order.refunds[-1].created_at),
        }
    return document


def push_event(shop: Shop, order: Order, action: str) -> dict[str, Any]:
    """One event of a push body: its tag, a unique ``msg_id`` and its data as a JSON string."""
    data: dict[str, Any] = {
        "p_id": int(order.external_id),
        "shop_id": shop_id(shop),
        "update_time": epoch(order.updated_at),
    }
    if action == "refund" and order.refunds:
        refund = order.refunds[-1]
        data.update(
            s_id=order.lines[0].id if order.lines else 0,
            aftersale_id=refund.id,
            aftersale_status=REFUNDED,
            refund_amount=refund.amount,
        )
    else:
        data.update(
            s_ids=[line.id for line in order.lines], order_status=order_status(order), biz=2
        )
    return {
        "tag": TAGS.get(action, "101"),
        "msg_id": str(7 * 10**18 + uuid.uuid4().int % 10**18),
        "data": json.dumps(data, separators=(",", ":")),
    }


# -- errors and signatures -----------------------------------------------------------------------


def _answer(
    code: int, msg: str, data: Any = None, sub_msg: str = "", status: int = 200
) -> Response:
    return JSONResponse(
        {
            "code": code,
            "msg": msg,
            "sub_code": "" if code == SUCCESS else f"isv.{code}",
            "sub_msg": sub_msg,
            "log_id": uuid.uuid4().hex,
            "data": data if data is not None else {},
        },
        status_code=status,
    )


def _bad(sub_msg: str) -> Response:
    return _answer(BAD_PARAMETER, "参数错误", sub_msg=sub_msg)


def sign(key: str, method: str, param_json: str, timestamp: str, secret: str) -> str:
    text = f"{secret}app_key{key}method{method}param_json{param_json}timestamp{timestamp}v2{secret}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


# -- the API -------------------------------------------------------------------------------------


@router.post("/{method_path:path}")
async def gateway(request: Request, shop: str, method_path: str) -> Response:
    body = (await request.body()).decode(errors="replace")
    query = dict(request.query_params)
    # The state's lock can be held for a while (a bulk load): wait for it off the event loop.
    return await run_in_threadpool(_call, request.app.state.sandbox, shop, method_path, query, body)


def _call(
    state: SandboxState, name: str, path: str, query: dict[str, str], param_json: str
) -> Response:
    shop, verdict = open_gateway(state, "douyin", name)
    if shop is None:
        return _answer(BAD_PARAMETER, "参数错误", sub_msg="shop not found", status=404)
    if verdict.fault == "throttle":
        state.throttled(shop, 0)
        return _answer(RATE_LIMITED, "请求过于频繁")
    if verdict.fault == "fail":
        return _answer(UNAVAILABLE, "服务暂不可用", status=500)
    for required in ("app_key", "method", "timestamp", "v", "sign"):
        if not query.get(required):
            return _bad(f"missing {required}")
    method = query["method"]
    if method.replace(".", "/") != path.strip("/"):
        return _bad("method does not match the path")
    if not same(query["app_key"], app_key(shop)):
        return _bad("app_key not found")
    if query["v"] != "2" or query.get("sign_method", "hmac-sha256") != "hmac-sha256":
        return _bad("v must be 2 and sign_method hmac-sha256")
    try:
        moment = parse_beijing(query["timestamp"])
    except ValueError:
        return _bad("timestamp must be yyyy-MM-dd HH:mm:ss")
    if skewed(moment, MAX_SKEW):
        return _bad("timestamp is more than 10 minutes off")
    param_json = param_json or "{}"
    secret = app_secret(shop)
    expected = sign(query["app_key"], method, param_json, query["timestamp"], secret)
    if not same(query["sign"], expected):
        return _answer(SIGN_ERROR, "签名错误", sub_msg="sign is invalid")
    try:
        business = json.loads(param_json)
    except ValueError:
        return _bad("param_json is not JSON")
    if not isinstance(business, dict):
        return _bad("param_json is not a JSON object")
    if method == "token.refresh":
        return _refresh(state, shop, business)
    token = token_state(state, shop, query.get("access_token"))
    if token == "expired":
        return _answer(TOKEN_EXPIRED, "access_token已过期", sub_msg="access_token expired")
    if token != "valid":
        return _answer(TOKEN_INVALID, "access_token不存在", sub_msg="access_token invalid")
    if flow_wait(state, shop) is not None:
        # Douyin says nothing of how long to wait, so no deadline is recorded for the client.
        state.throttled(shop, 0)
        return _answer(RATE_LIMITED, "请求过于频繁")
    if method == china_shipments.METHODS["douyin"]:  # shipments: china_shipments.py
        try:
            return _answer(SUCCESS, "success", china_shipments.handle(state, shop, business))
        except china_listings.Refused as exc:
            return _bad(str(exc))
    if method in china_messages.METHODS["douyin"]:  # chat: china_messages.py
        try:
            return _answer(SUCCESS, "success", china_messages.handle(state, shop, method, business))
        except china_listings.Refused as exc:
            return _bad(str(exc))
    if method in china_listings.METHODS["douyin"]:  # item writes: china_listings.py
        try:
            return _answer(SUCCESS, "success", china_listings.handle(state, shop, method, business))
        except china_listings.Refused as exc:
            return _bad(str(exc))
    if method == "order.searchList":
        return _search(state, shop, business)
    if method == "order.orderDetail":
        return _detail(state, shop, business)
    return _bad(f"unknown method {method}")


def _refresh(state: SandboxState, shop: Shop, business: dict[str, Any]) -> Response:
    if business.get("grant_type") != "refresh_token":
        return _bad("grant_type must be refresh_token")
    try:
        access, refresh = refresh_grant(state, shop, str(business.get("refresh_token") or ""))
    except LookupError:
        return _bad("refresh_token is invalid")
    data = {
        "access_token": access,
        "expires_in": lifetime(state),
        "refresh_token": refresh,
        "scope": "SCOPE",
        "shop_id": shop_id(shop),
        "shop_name": shop.name,
    }
    return _answer(SUCCESS, "success", data)


def _detail(state: SandboxState, shop: Shop, business: dict[str, Any]) -> Response:
    wanted = str(business.get("shop_order_id") or "")
    if not wanted:
        return _bad("shop_order_id is required")
    with state.lock:
        order = shop.orders.get(wanted)
        if order is None:
            return _bad(f"order {wanted} not found")
        document = render_order(shop, order)
    return _answer(SUCCESS, "success", {"shop_order_detail": document})


def _search(state: SandboxState, shop: Shop, business: dict[str, Any]) -> Response:
    try:
        start = bounded(business, "update_time_start", -1, 0)
        end = bounded(business, "update_time_end", -1, 0)
        page = bounded(business, "page", 0, 0)
        size = bounded(business, "size", 10, 1, MAX_SIZE)
    except ValueError as exc:
        return _bad(f"invalid {exc}")
    if not 0 <= end - start <= MAX_WINDOW:
        return _bad("update_time_end must be within one day after update_time_start")
    if business.get("order_by") != "update_time":
        return _bad("order_by must be update_time (the only order the sandbox keeps)")
    ascending = str(business.get("order_asc", "false")).lower() == "true"
    skip = page * size
    with state.lock:
        begin, finish = shop.window(start, end)
        total = finish - begin
        if ascending:
            keys = shop.keys[begin + skip : min(finish, begin + skip + size)]
        else:
            top = max(begin, finish - skip)
            keys = shop.keys[max(begin, top - size) : top][::-1]
        orders = [render_order(shop, shop.by_id[key[1]]) for key in keys]
    data = {"total": total, "page": page, "size": size, "shop_order_list": orders}
    return _answer(SUCCESS, "success", data)
