"""Sandbox stock (库存): the quantities each marketplace received, and orders refused beyond them.

Each marketplace's set-stock call lands here: Shopify's ``inventory_levels/set.json`` (with
``locations.json`` to find the one location), WooCommerce's ``products/batch`` updates carrying
``stock_quantity`` (``woocommerce_products``), Amazon's Listings Items PATCH of
``fulfillment_availability`` (``amazon_listings``), and the Chinese gateways' quantity methods
(``china_listings``). Quantities are kept per shop and SKU code, beside the shop's catalog.

A SKU with a quantity is sold only while it lasts: a generated order wanting more than is left
of any of its SKUs is not created (counted as refused), and one created takes its units off,
as a marketplace's own stock does. SKUs never given a quantity sell without limit.
Tests, the demo and the benchmark read the book through :func:`stock_of` or the control API
(``GET /_sandbox/{channel}/{shop}/stock``) and place orders for one SKU through
``POST /_sandbox/{channel}/{shop}/stock/orders`` (409 beyond the quantity held).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from daiyun.sandboxes.marketplaces.catalog import Catalog, Product, catalog, catalog_of
from daiyun.sandboxes.marketplaces.shopify import _admit as shopify_admit
from daiyun.sandboxes.marketplaces.state import Order, SandboxState, Shop

AMAZON_STOCK_PATH = "/attributes/fulfillment_availability"
# The one location of every sandbox Shopify shop.
SHOPIFY_LOCATION = 61_000_001
STRING_IDS = ("amazon", "pinduoduo", "jd", "douyin")


class StockRefused(ValueError):
    """What a marketplace would say of a bad quantity."""


@dataclass
class ShopStock:
    quantities: dict[str, int] = field(default_factory=dict)
    # When each SKU's quantity was last set (epoch seconds): the benchmark's latency.
    set_at: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    refused_orders: int = 0


class StockBook:
    """Every shop's quantities, behind one lock (handlers run in a thread pool)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shops: dict[tuple[str, str], ShopStock] = {}

    def shop(self, channel: str, name: str) -> ShopStock:
        with self.lock:
            return self.shops.setdefault((channel, name), ShopStock())

    def call(self, channel: str, name: str) -> None:
        found = self.shop(channel, name)
        with self.lock:
            found.calls += 1

    def set(self, channel: str, name: str, sku: str, quantity: Any) -> int:
        try:
            units = int(str(quantity))
        except ValueError:
            raise StockRefused("quantity is not a whole number") from None
        if units < 0:
            raise StockRefused("quantity cannot be negative")
        found = self.shop(channel, name)
        with self.lock:
            found.quantities[sku] = units
            found.set_at[sku] = time.time()
        return units

    def take(self, channel: str, name: str, wanted: Mapping[str, int]) -> bool:
        """Take the units of one order, or nothing when any SKU with a quantity lacks them."""
        found = self.shop(channel, name)
        with self.lock:
            held = found.quantities
            if any(sku in held and held[sku] < units for sku, units in wanted.items()):
                found.refused_orders += 1
                return False
            for sku, units in wanted.items():
                if sku in held:
                    held[sku] -= units
            return True

    def clear(self) -> None:
        with self.lock:
            self.shops.clear()


_BOOKS: weakref.WeakKeyDictionary[Catalog, StockBook] = weakref.WeakKeyDictionary()
_BOOKS_LOCK = threading.Lock()


def stock_of(books: Catalog) -> StockBook:
    """The stock kept beside a sandbox's catalog (created on first use)."""
    with _BOOKS_LOCK:
        found = _BOOKS.get(books)
        if found is None:
            found = _BOOKS[books] = StockBook()
        return found


def state_stock(state: SandboxState) -> StockBook:
    return stock_of(catalog_of(state))


def _wanted(order: Order) -> Counter[str]:
    wanted: Counter[str] = Counter()
    for line in order.lines:
        wanted[line.sku] += line.quantity
    return wanted


def admit(state: SandboxState, shop: Shop, orders: Iterable[Order]) -> list[Order]:
    """The generated orders the shop's stock allows (each takes its units); the rest refused."""
    book = state_stock(state)
    return [o for o in orders if book.take(shop.channel, shop.name, _wanted(o))]


# --- Marketplace writes ------------------------------------------------------------------


def set_product(
    books: Catalog, shop: Shop, product: Product, quantity: Any, *, call: bool = True
) -> int:
    """A quantity for a catalog product, counting the call unless a batch counted it."""
    book = stock_of(books)
    if call:
        book.call(shop.channel, shop.name)
    return book.set(shop.channel, shop.name, product.sku, quantity)


def amazon_quantity(value: Any) -> Any:
    """The quantity of a ``fulfillment_availability`` patch value, or a refusal."""
    entries = value if isinstance(value, list) else []
    if not entries or not isinstance(entries[0], dict) or "quantity" not in entries[0]:
        raise StockRefused("fulfillment_availability needs a quantity")
    return entries[0]["quantity"]


# method -> (the field naming the product, the field of the quantity), per gateway.
GATEWAY_METHODS: dict[str, dict[str, tuple[str, str]]] = {
    "taobao": {"taobao.item.quantity.update": ("num_iid", "quantity")},
    "pinduoduo": {"pdd.goods.quantity.update": ("goods_id", "quantity")},
    "jd": {"jingdong.stock.write.updateSkuStock": ("skuId", "stockNum")},
    "douyin": {"sku.syncStock": ("product_id", "stock_num")},
}


def set_from_gateway(
    books: Catalog, shop: Shop, method: str, business: Mapping[str, Any]
) -> dict[str, Any]:
    """A Chinese gateway's quantity method: the payload of its success answer."""
    key, quantity_field = GATEWAY_METHODS[shop.channel][method]
    product = books.find(shop.channel, shop.name, str(business.get(key) or ""))
    if product is None:
        raise StockRefused(f"no item {business.get(key)}")
    # Taobao's ``type`` and Pinduoduo's ``update_type``: 1 full, 2 a delta.
    mode = business.get("update_type") if shop.channel == "pinduoduo" else business.get("type")
    if shop.channel in ("taobao", "pinduoduo") and str(mode or "1") != "1":
        raise StockRefused("only full quantities are kept by this sandbox")
    if str(business.get("incremental") or "false").lower() not in ("false", "0"):
        raise StockRefused("only full quantities are kept by this sandbox")
    units = set_product(books, shop, product, business.get(quantity_field))
    if shop.channel == "taobao":
        return {"item": {"num_iid": int(product.id), "num": units}}
    if shop.channel == "jd":
        return {"code": "0", "success": True}
    if shop.channel == "douyin":
        return {"product_id": product.id}
    return {"is_success": True}


router = APIRouter(prefix="/shopify/{shop_domain}", tags=["sandbox: shopify"])


@router.get("/admin/api/{version}/locations.json")
def shopify_locations(request: Request, shop_domain: str, version: str) -> Response:
    admitted = shopify_admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    _, headers = admitted
    location = {"id": SHOPIFY_LOCATION, "name": "Shop location", "active": True}
    return JSONResponse({"locations": [location]}, headers=headers)


@router.post("/admin/api/{version}/inventory_levels/set.json")
async def shopify_set(request: Request, shop_domain: str, version: str) -> Response:
    admitted = shopify_admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    books = catalog(request)
    try:
        doc = await request.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or str(doc.get("location_id")) != str(SHOPIFY_LOCATION):
        return JSONResponse({"errors": {"location_id": ["is invalid"]}}, 422, headers=headers)
    item = str(doc.get("inventory_item_id") or "")
    product = next(
        (
            p
            for p in books.shop("shopify", shop.name).products.values()
            if p.inventory_item_id == item
        ),
        None,
    )
    if product is None:
        return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)
    try:
        units = set_product(books, shop, product, doc.get("available"))
    except StockRefused as exc:
        return JSONResponse({"errors": {"available": [str(exc)]}}, 422, headers=headers)
    level = {
        "inventory_item_id": int(item),
        "location_id": SHOPIFY_LOCATION,
        "available": units,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    return JSONResponse({"inventory_level": level}, headers=headers)


# --- Control ------------------------------------------------------------------------------

control = APIRouter(prefix="/_sandbox", tags=["sandbox: control"])


class BuyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(1, ge=1, le=10_000)


def _shop(request: Request, channel: str, name: str) -> tuple[SandboxState, Shop]:
    state: SandboxState = request.app.state.sandbox
    shop = state.shop(channel, name)
    if shop is None:
        raise HTTPException(404, f"no {channel} shop {name!r}")
    return state, shop


@control.get("/{channel}/{shop}/stock")
def shop_stock(channel: str, shop: str, request: Request) -> dict[str, Any]:
    """The quantities a shop received, the calls that set them and the orders refused."""
    _shop(request, channel, shop)
    found = stock_of(catalog(request)).shop(channel, shop)
    return {
        "calls": found.calls,
        "quantities": dict(found.quantities),
        "refused_orders": found.refused_orders,
    }


@control.post("/{channel}/{shop}/stock/orders", status_code=201)
def buy(channel: str, shop: str, body: BuyIn, request: Request) -> dict[str, Any]:
    """A buyer orders ``quantity`` of one SKU: created (paid) while the shop holds that many,
    refused (409) beyond it."""
    from daiyun.sandboxes.marketplaces.generator import OrderFactory

    state, found = _shop(request, channel, shop)
    book = stock_of(catalog(request))
    now = datetime.now(UTC).replace(microsecond=0)
    with state.lock:
        if not book.take(channel, shop, {body.sku: body.quantity}):
            left = book.shop(channel, shop).quantities.get(body.sku, 0)
            raise HTTPException(409, f"only {left} of {body.sku} left in {found.label}")
        [order] = OrderFactory(found.rng, found).batch(1, now, now, history=False)
        line = order.lines[0]
        line.sku, line.quantity, line.discount, line.tax = body.sku, body.quantity, 0, 0
        order.lines = [line]
        order.paid_at = order.paid_at or now
        found.insert(order)
    return {"id": order.external_id if channel in STRING_IDS else order.id}
