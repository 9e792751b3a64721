"""Sandbox JD (JOS): the ``routerjson`` gateway, its order search, and the OAuth refresh endpoint.

Served under ``/jd/{vendor_id}``, which replaces ``https://api.jd.com``. Business parameters
travel as compact JSON in ``360buy_param_json`` and are signed with the system parameters;
clock skew over six minutes is refused. Errors come back HTTP 200 in JD's envelope, with the
code as a string. ``jingdong.pop.order.search`` pages in ascending modification time, and its
answer keeps JD's own spelling: ``jingdong_pop_order_search_responce``.

JD shows POP sellers orders from payment on (the order states asked for never include an unpaid
one), so every sandbox order here is paid at creation. There is no HTTP push: JD's message
service is a queue (JMQ), so a JD connector only pulls.
"""

from __future__ import annotations

import calendar
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from daiyun.sandboxes.marketplaces import china_listings, china_messages, china_shipments
from daiyun.sandboxes.marketplaces.china import (
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
    read_params,
    refresh_grant,
    same,
    seal,
    skewed,
    token_state,
    yuan,
)
from daiyun.sandboxes.marketplaces.numbering import BEIJING
from daiyun.sandboxes.marketplaces.state import (
    Order,
    SandboxState,
    Shop,
    lower_bound,
    upper_bound,
)

MAX_PAGE_SIZE = 50
MAX_SKEW = timedelta(minutes=6)
SEARCH = "jingdong.pop.order.search"
STATES = {
    "WAIT_SELLER_STOCK_OUT": "等待出库",
    "WAIT_GOODS_RECEIVE_CONFIRM": "等待确认收货",
    "FINISHED_L": "完成",
    "TRADE_CANCELED": "(删除)已取消",
    "LOCKED": "已锁定",
}
# Invalid token, bad signature, rate limited, missing and invalid parameters, service down.
TOKEN_INVALID, SIGN_ERROR, RATE_LIMITED, MISSING, INVALID, UNAVAILABLE = (
    "19",
    "8",
    "67",
    "21",
    "60",
    "66",
)

router = APIRouter(prefix="/jd/{shop}", tags=["sandbox: jd"])


# -- rendering ---------------------------------------------------------------------------------


def order_state(order: Order) -> str:
    if order.cancelled_at:
        return "TRADE_CANCELED"
    if order.delivered_at:
        return "FINISHED_L"
    shipped = order.items and order.items_shipped >= order.items
    if shipped:
        return "WAIT_GOODS_RECEIVE_CONFIRM"
    # Refunded in full before it left the warehouse: JD cancels the order.
    if order.paid_at and order.refunded >= order.total > 0:
        return "TRADE_CANCELED"
    return "WAIT_SELLER_STOCK_OUT"


def render_order(shop: Shop, order: Order) -> dict[str, Any]:
    """The order as an entry of ``orderInfoList``, every optional field included."""
    address = order.address
    state = order_state(order)
    document: dict[str, Any] = {
        "orderId": order.external_id,
        "venderId": shop.name,
        "orderType": "22",
        "payType": "4-在线支付",
        "orderState": state,
        "orderStateRemark": STATES[state],
        "orderTotalPrice": yuan(order.gross),
        "orderSellerPrice": yuan(order.gross - order.discounts),
        "orderPayment": yuan(order.total),
        "freightPrice": yuan(order.shipping),
        "sellerDiscount": yuan(order.discounts),
        "orderStartTime": beijing(order.created_at),
        "paymentConfirmTime": beijing(order.paid_at),
        "modified": beijing(order.updated_at),
        "orderRemark": order.note,
        "consigneeInfo": {
            "fullname": seal(shop, address.name),
            "mobile": seal(shop, address.phone),
            "fullAddress": seal(
                shop,
                address.province
                + address.city
                + address.district
                + address.address1
                + address.address2,
            ),
            "province": address.province,
            "city": address.city,
            "county": address.district,
        },
        "itemInfoList": [
            {
                "skuId": str(catalogue_id(line.sku, 100_000_000_000)),
                "wareId": str(catalogue_id(line.sku, 10_000_000_000)),
                "outerSkuId": line.sku,
                "skuName": line.title,
                "itemTotal": str(line.quantity),
                "jdPrice": yuan(line.unit_price),
            }
            for line in order.lines
        ],
    }
    return {name: value for name, value in document.items() if value is not None}


# -- errors and signatures -----------------------------------------------------------------------


def _error(code: str, zh: str, en: str, status: int = 200) -> JSONResponse:
    return JSONResponse(
        {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}}, status_code=status
    )


def _missing(name: str) -> JSONResponse:
    return _error(MISSING, f"缺少参数: {name}", f"Missing parameter: {name}")


def _invalid(name: str, why: str = "") -> JSONResponse:
    return _error(INVALID, f"参数错误: {name} {why}".strip(), f"Invalid parameter: {name} {why}")


def sign(params: dict[str, str], secret: str) -> str:
    return md5_upper(secret + concat(params, skip_empty=False) + secret)


def _plus_month(moment: datetime) -> datetime:
    """The same Beijing wall-clock time a calendar month later (the 31st becomes the 30th...)."""
    local = moment.astimezone(BEIJING)
    year, month = local.year + local.month // 12, local.month % 12 + 1
    return local.replace(
        year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1])
    )


# -- the gateway ---------------------------------------------------------------------------------


@router.api_route("/routerjson", methods=["GET", "POST"])
async def gateway(request: Request, shop: str) -> Response:
    params = await read_params(request)
    # The state's lock can be held for a while (a bulk load): wait for it off the event loop.
    return await run_in_threadpool(_call, request.app.state.sandbox, shop, params)


def _call(state: SandboxState, name: str, params: dict[str, str]) -> Response:
    shop, verdict = open_gateway(state, "jd", name)
    if shop is None:
        return _invalid("vendor", "not found")
    if verdict.fault == "throttle":
        state.throttled(shop, 0)
        return _error(RATE_LIMITED, "调用频率超限", "Call frequency exceeded")
    if verdict.fault == "fail":
        return _error(UNAVAILABLE, "平台连接后端服务不可用", "Service unavailable", 500)
    for required in ("method", "app_key", "timestamp", "sign", "360buy_param_json"):
        if not params.get(required):
            return _missing(required)
    if not same(params["app_key"], app_key(shop)):
        return _invalid("app_key")
    try:
        moment = parse_beijing(params["timestamp"])
    except ValueError:
        return _invalid("timestamp")
    if skewed(moment, MAX_SKEW):
        return _invalid("timestamp", "differs from the server clock by more than 6 minutes")
    if params.get("sign_method", "md5") != "md5":
        return _invalid("sign_method")
    if not same(params["sign"], sign(params, app_secret(shop))):
        return _error(SIGN_ERROR, "签名无效", "Invalid signature")
    if token_state(state, shop, params.get("access_token")) != "valid":
        return _error(TOKEN_INVALID, "token已过期或者不存在，请重新授权", "Invalid access_token")
    if flow_wait(state, shop) is not None:
        # JD says nothing of how long to wait, so no deadline is recorded for the client.
        state.throttled(shop, 0)
        return _error(RATE_LIMITED, "调用频率超限", "Call frequency exceeded")
    writes = (
        *china_listings.METHODS["jd"],
        *china_messages.METHODS["jd"],
        china_shipments.METHODS["jd"],
    )
    if params["method"] != SEARCH and params["method"] not in writes:
        return _invalid("method", params["method"])
    try:
        business = json.loads(params["360buy_param_json"])
    except ValueError:
        return _invalid("360buy_param_json", "is not JSON")
    if not isinstance(business, dict):
        return _invalid("360buy_param_json", "is not a JSON object")
    if params["method"] == china_shipments.METHODS["jd"]:  # shipments: china_shipments.py
        try:
            payload = china_shipments.handle(state, shop, business)
        except china_listings.Refused as exc:
            return _invalid(params["method"], str(exc))
        return JSONResponse({china_listings.response_key("jd", params["method"]): payload})
    if params["method"] in china_messages.METHODS["jd"]:  # chat: china_messages.py
        try:
            payload = china_messages.handle(state, shop, params["method"], business)
        except china_listings.Refused as exc:
            return _invalid(params["method"], str(exc))
        return JSONResponse({china_listings.response_key("jd", params["method"]): payload})
    if params["method"] != SEARCH:  # item writes: china_listings.py
        try:
            payload = china_listings.handle(state, shop, params["method"], business)
        except china_listings.Refused as exc:
            return _invalid(params["method"], str(exc))
        return JSONResponse({china_listings.response_key("jd", params["method"]): payload})
    return _search(state, shop, business)


def _search(state: SandboxState, shop: Shop, business: dict[str, Any]) -> Response:
    for required in ("start_date", "end_date", "order_state", "optional_fields"):
        if not business.get(required):
            return _missing(required)
    for required in ("sortType", "dateType"):
        if str(business.get(required, "")) == "":
            return _missing(required)
    try:
        start = parse_beijing(str(business["start_date"]))
        end = parse_beijing(str(business["end_date"]))
    except ValueError:
        return _invalid("start_date/end_date", "must be yyyy-MM-dd HH:mm:ss")
    if end < start or end > _plus_month(start):
        return _invalid("end_date", "must be within one month after start_date")
    states = {one.strip() for one in str(business["order_state"]).split(",") if one.strip()}
    if not states or not states <= set(STATES):
        return _invalid("order_state")
    fields = {one.strip() for one in str(business["optional_fields"]).split(",") if one.strip()}
    try:
        page = bounded(business, "page", 1, 1)
        size = bounded(business, "page_size", 20, 1, MAX_PAGE_SIZE)
    except ValueError as exc:
        return _invalid(str(exc))
    if str(business["sortType"]) not in ("0", "1"):
        return _invalid("sortType")
    if str(business["dateType"]) != "1":
        # Only modification time: the sandbox indexes orders by their last update.
        return _invalid("dateType", "the sandbox searches on modification time (1) only")
    ascending = str(business["sortType"]) == "1"
    everything = states >= set(STATES)

    def keep(order: Order) -> bool:
        return order_state(order) in states

    skip = (page - 1) * size
    with state.lock:
        begin, finish = shop.window(lower_bound(start), upper_bound(end))
        if everything:
            total = finish - begin
            if ascending:
                keys = shop.keys[begin + skip : min(finish, begin + skip + size)]
            else:
                top = max(begin, finish - skip)
                keys = shop.keys[max(begin, top - size) : top][::-1]
            chosen = [shop.by_id[key[1]] for key in keys]
        else:
            matched = shop.scan(begin, finish, finish - begin + 1, keep)
            if not ascending:
                matched.reverse()
            total = len(matched)
            chosen = matched[skip : skip + size]
        orders = [
            {
                name: value
                for name, value in render_order(shop, order).items()
                if name == "orderId" or name in fields
            }
            for order in chosen
        ]
    return JSONResponse(
        {
            "jingdong_pop_order_search_responce": {
                "code": "0",
                "searchorderinfo_result": {
                    "apiResult": {"success": True, "code": "0"},
                    "orderTotal": total,
                    "orderInfoList": orders,
                },
            }
        }
    )


# -- OAuth refresh -------------------------------------------------------------------------------


@router.api_route("/oauth2/refresh_token", methods=["GET", "POST"])
async def refresh_token(request: Request, shop: str) -> Response:
    params = await read_params(request)
    return await run_in_threadpool(_refresh, request.app.state.sandbox, shop, params)


def _refresh(state: SandboxState, name: str, params: dict[str, str]) -> Response:
    found = state.shop("jd", name)
    state.open_call(found, f"jd/{name}", inject=False)
    if params.get("grant_type") != "refresh_token":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    if found is None or not (
        same(params.get("app_key"), app_key(found))
        and same(params.get("app_secret"), app_secret(found))
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
            "expires_in": lifetime(state),
            "refresh_token": refresh,
            "token_type": "bearer",
            "uid": uuid.uuid5(uuid.NAMESPACE_URL, found.label).hex,
        }
    )
