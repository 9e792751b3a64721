"""The sandbox app: every marketplace on one port, and the control API under ``/_sandbox``.

Tests and the demo drive the sandbox through the control API: register shops, create orders,
move them on, inject faults, read the counters. Faults apply to the channel endpoints only, so
the control API always answers, whatever misbehaviour is in force.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from daiyun.sandboxes import rates
from daiyun.sandboxes.marketplaces import (
    amazon,
    amazon_listings,
    catalog,
    china_messages,
    douyin,
    fulfillments,
    jd,
    pinduoduo,
    shopify,
    shopify_products,
    sites,
    stock,
    taobao,
    woocommerce,
    woocommerce_products,
)
from daiyun.sandboxes.marketplaces.generator import format_minor, parse_amount
from daiyun.sandboxes.marketplaces.state import (
    CHINA_CHANNELS,
    Faults,
    Order,
    OrderConflict,
    SandboxState,
    Shop,
)

Channel = Literal["shopify", "woocommerce", "amazon", "taobao", "pinduoduo", "jd", "douyin"]
RENDERERS: dict[str, Callable[[Shop, Order], dict[str, Any]]] = {
    "shopify": shopify.render_order,
    "woocommerce": woocommerce.render_order,
    "amazon": amazon.render_order,
    "taobao": taobao.render_trade,
    "pinduoduo": pinduoduo.render_order,
    "jd": jd.render_order,
    "douyin": douyin.render_order,
}
CHANNEL_STATUS: dict[str, Callable[[Order], Any]] = {
    "shopify": shopify.financial_status,
    "woocommerce": woocommerce.order_status,
    "amazon": amazon.order_status,
    "taobao": taobao.trade_status,
    "pinduoduo": pinduoduo.order_status,
    "jd": jd.order_state,
    "douyin": douyin.order_status,
}
# Channels whose order ids are strings on the wire (Taobao's tid is an integer, as Shopify's).
STRING_IDS = ("amazon", "pinduoduo", "jd", "douyin")

control = APIRouter(prefix="/_sandbox", tags=["sandbox: control"])


class ShopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    shop: str = Field(min_length=1, max_length=200, pattern=r"^[^/?#\s]+$")
    credentials: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str | None = None
    currency: str = Field("USD", min_length=3, max_length=3)
    utc_offset_minutes: int = Field(0, ge=-720, le=840)
    rate: dict[str, float] | None = None
    # The chat widget's script the shop's own storefront page carries (Shopify, WooCommerce).
    widget_script: str | None = Field(None, max_length=500, pattern=r"^https?://[^\s\"'<>]+$")


class OrdersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(1, ge=0, le=1_000_000)
    start: datetime | None = None
    end: datetime | None = None
    seed: int | None = None
    notify: bool = False
    # Without history every order is new: created and last updated at the same moment.
    history: bool = True


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["pay", "fulfill", "ship", "deliver", "cancel", "refund"]
    amount: str | None = None
    at: datetime | None = None
    # Ship only this many items (a partial fulfilment); all of the rest by default.
    items: int | None = Field(None, ge=1)


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    throttle_next: int = Field(0, ge=0)
    retry_after: float = Field(1.0, ge=0, le=3600)
    fail_next: int = Field(0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    slow_ms: int = Field(0, ge=0, le=60_000)
    duplicate_webhooks: int = Field(1, ge=0, le=10)
    reverse_webhooks: bool = False
    hold_webhooks: bool = False
    webhook_delay_ms: int = Field(0, ge=0, le=60_000)
    expire_tokens: bool = False


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def api_base_url(root: str, channel: str, shop: str) -> str:
    """What Daiyun stores as the shop's ``api_base_url`` to reach it in this sandbox."""
    root = root.rstrip("/")
    if channel == "amazon":
        return f"{root}/amazon"
    return f"{root}/{channel}/{shop}"


def public_id(channel: str, order: Order) -> int | str:
    """The order's id as its marketplace writes it, and as the control API's URLs take it."""
    return order.external_id if channel in STRING_IDS else order.id


def _describe(shop: Shop, root: str) -> dict[str, Any]:
    return {
        "channel": shop.channel,
        "shop": shop.name,
        "api_base_url": api_base_url(root, shop.channel, shop.name),
        "webhook_url": shop.webhook_url,
        "webhook_id": shop.webhook_id if shop.channel == "woocommerce" else None,
        "currency": shop.currency,
        "utc_offset_minutes": shop.utc_offset_minutes,
        "rate": (
            {"leak_per_second": shop.leak_per_second, "burst": shop.capacity}
            if shop.channel == "shopify"
            else {"rate": shop.rate, "burst": shop.burst}
            if shop.channel in ("amazon", *CHINA_CHANNELS)
            else {}
        ),
        "orders": len(shop.orders),
    }


def _summary(shop: Shop, order: Order) -> dict[str, Any]:
    return {
        "id": public_id(shop.channel, order),
        "status": order.status,
        "channel_status": CHANNEL_STATUS[shop.channel](order),
        "updated_at": order.updated_at.isoformat(),
        "total": format_minor(order.total, order.currency),
        "currency": order.currency,
        "tracking": [t["number"] for t in order.tracking],
    }


@control.post("/shops", status_code=201)
def register_shop(body: ShopIn, request: Request) -> dict[str, Any]:
    state = _state(request)
    root = str(request.base_url)
    try:
        shop = state.register_shop(
            body.channel,
            body.shop,
            body.credentials,
            webhook_url=body.webhook_url,
            currency=body.currency,
            utc_offset_minutes=body.utc_offset_minutes,
            rate=body.rate,
            base_url=root,
            widget_script=body.widget_script,
        )
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, str(exc)) from exc
    with state.lock:
        return _describe(shop, root)


@control.get("/shops")
def list_shops(request: Request) -> dict[str, Any]:
    state = _state(request)
    root = str(request.base_url)
    with state.lock:
        return {"shops": [_describe(shop, root) for shop in state.shops.values()]}


@control.post("/{channel}/{shop}/orders", status_code=201)
def create_orders(channel: Channel, shop: str, body: OrdersIn, request: Request) -> Response:
    state = _state(request)
    try:
        orders = state.create_orders(
            channel,
            shop,
            body.count,
            start=_utc(body.start),
            end=_utc(body.end),
            seed=body.seed,
            notify=body.notify,
            history=body.history,
        )
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    ids: list[Any] = [public_id(channel, order) for order in orders]
    return JSONResponse({"ids": ids}, status_code=201)


@control.get("/{channel}/{shop}/orders")
def list_orders(channel: Channel, shop: str, request: Request) -> Response:
    state = _state(request)
    with state.lock:
        found = state.shop(channel, shop)
        if found is None:
            raise HTTPException(404, f"no {channel} shop {shop!r}")
        orders = [_summary(found, found.by_id[key[1]]) for key in found.keys]
    return JSONResponse({"orders": orders})


@control.post("/{channel}/{shop}/orders/{order_id}/events")
def order_event(
    channel: Channel, shop: str, order_id: str, body: EventIn, request: Request
) -> Response:
    state = _state(request)
    found = state.shop(channel, shop)
    if found is None:
        raise HTTPException(404, f"no {channel} shop {shop!r}")
    amount = None
    if body.amount is not None:
        try:
            amount = parse_amount(body.amount, found.currency)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
    try:
        order = state.apply_event(
            channel, shop, order_id, body.action, amount=amount, at=_utc(body.at), items=body.items
        )
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    except OrderConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    with state.lock:
        return JSONResponse(RENDERERS[channel](found, order))


@control.get("/faults")
def get_faults(request: Request) -> dict[str, Any]:
    return _state(request).faults.as_dict()


@control.put("/faults")
def put_faults(body: FaultsIn, request: Request) -> dict[str, Any]:
    return _state(request).set_faults(Faults(**body.model_dump())).as_dict()


@control.delete("/faults")
def clear_faults(request: Request) -> dict[str, Any]:
    return _state(request).set_faults(Faults()).as_dict()


@control.post("/webhooks/flush")
def flush_webhooks(request: Request) -> dict[str, int]:
    return {"flushed": _state(request).flush_webhooks()}


@control.get("/stats")
def stats(request: Request) -> dict[str, Any]:
    return _state(request).stats()


@control.post("/reset")
def reset(request: Request) -> dict[str, bool]:
    _state(request).reset()
    catalog.catalog(request).clear()
    stock.stock_of(catalog.catalog(request)).clear()
    return {"reset": True}


def create_sandbox_app(state: SandboxState | None = None) -> FastAPI:
    """One app for every marketplace and the control API; ``state`` is shared if given."""
    app = FastAPI(
        title="Daiyun sandbox marketplaces",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = state if state is not None else SandboxState()
    app.include_router(control)
    app.include_router(sites.router)
    app.include_router(china_messages.control)
    app.include_router(catalog.control)
    app.include_router(stock.control)
    app.include_router(stock.router)
    app.include_router(shopify.router)
    app.include_router(fulfillments.shopify_router)
    app.include_router(fulfillments.woocommerce_router)
    app.include_router(fulfillments.amazon_router)
    app.include_router(shopify_products.router)
    app.include_router(woocommerce.router)
    app.include_router(woocommerce_products.router)
    app.include_router(amazon.router)
    app.include_router(amazon_listings.router)
    app.include_router(taobao.router)
    app.include_router(pinduoduo.router)
    app.include_router(jd.router)
    app.include_router(douyin.router)
    # The rates service the demo's beat fetches from (DAIYUN_RATES_URL, set by serve --sandbox).
    app.mount("/_rates", rates.create_app())
    return app
