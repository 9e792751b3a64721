"""Sandbox WooCommerce products: ``POST /wp-json/wc/v3/products/batch``, as WC REST v3 has it.

One request carries ``create``, ``update`` and ``delete`` lists of up to 100 objects in all
(more is a 413 ``woocommerce_rest_batch_too_many``, as the real limit answers); the answer lists
each object back, with its id, or with an ``error`` for that object alone. Prices travel as
decimal strings (``regular_price``, ``sale_price``; an empty sale price ends a sale). Faults,
authentication and rate limits are the orders endpoint's (``woocommerce._admit``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from daiyun.sandboxes.marketplaces import stock
from daiyun.sandboxes.marketplaces.catalog import Catalog, catalog
from daiyun.sandboxes.marketplaces.generator import format_minor, parse_amount
from daiyun.sandboxes.marketplaces.state import Shop
from daiyun.sandboxes.marketplaces.woocommerce import _admit, _error

BATCH_LIMIT = 100
STATUSES = ("draft", "pending", "private", "publish")

router = APIRouter(prefix="/woocommerce/{store}", tags=["sandbox: woocommerce"])


def _object_error(code: str, message: str, status: int = 400) -> dict[str, Any]:
    return {"id": 0, "error": {"code": code, "message": message, "data": {"status": status}}}


def _prices(shop: Shop, item: dict[str, Any]) -> tuple[int, int | None] | str:
    try:
        regular = parse_amount(str(item.get("regular_price") or ""), shop.currency)
        sale_text = str(item.get("sale_price") or "")
        sale = parse_amount(sale_text, shop.currency) if sale_text else None
    except ValueError:
        return "regular_price and sale_price are decimal strings"
    if regular <= 0 or (sale is not None and not 0 < sale < regular):
        return "sale_price must be below regular_price, both above zero"
    return regular, sale


def _render(product: Any, currency: str) -> dict[str, Any]:
    on_sale = product.compare_at is not None
    regular = product.compare_at if on_sale else product.price
    return {
        "id": int(product.id),
        "name": product.title,
        "sku": product.sku,
        "type": "simple",
        "status": product.status,
        "price": format_minor(product.price, currency),
        "regular_price": format_minor(regular, currency),
        "sale_price": format_minor(product.price, currency) if on_sale else "",
        "on_sale": on_sale,
    }


def _create(books: Catalog, shop: Shop, item: dict[str, Any]) -> dict[str, Any]:
    sku, name = str(item.get("sku") or ""), str(item.get("name") or "")
    if not sku or not name:
        return _object_error("woocommerce_rest_invalid_product", "name and sku are required")
    if books.find("woocommerce", shop.name, sku) is not None:
        return _object_error("product_invalid_sku", "Invalid or duplicated SKU.", status=400)
    prices = _prices(shop, item)
    if isinstance(prices, str):
        return _object_error("rest_invalid_param", prices)
    regular, sale = prices
    product = books.create(
        "woocommerce",
        shop.name,
        sku,
        name,
        shop.currency,
        sale if sale is not None else regular,
        regular if sale is not None else None,
        str(item.get("status") or "publish"),
    )
    return _render(product, shop.currency)


def _update(books: Catalog, shop: Shop, item: dict[str, Any]) -> dict[str, Any]:
    product = books.find("woocommerce", shop.name, str(item.get("id") or ""))
    if product is None:
        return _object_error("woocommerce_rest_product_invalid_id", "Invalid ID.", status=404)
    if "stock_quantity" in item and "regular_price" not in item:  # a stock update: stock.py
        try:
            stock.set_product(books, shop, product, item.get("stock_quantity"), call=False)
        except stock.StockRefused as exc:
            return _object_error("rest_invalid_param", str(exc))
        return {**_render(product, shop.currency), "stock_quantity": item["stock_quantity"]}
    prices = _prices(shop, item)
    if isinstance(prices, str):
        return _object_error("rest_invalid_param", prices)
    regular, sale = prices
    status = str(item.get("status") or product.status)
    if status not in STATUSES:
        return _object_error("rest_invalid_param", "Invalid parameter(s): status")
    books.update(
        product,
        title=str(item.get("name") or product.title),
        price=sale if sale is not None else regular,
        compare_at=regular if sale is not None else None,
        status=status,
    )
    return _render(product, shop.currency)


@router.post("/wp-json/wc/v3/products/batch")
async def batch(request: Request, store: str) -> Response:
    admitted = _admit(request, store)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop = admitted
    try:
        doc = await request.json()
    except ValueError:
        return _error(400, "rest_invalid_json", "Invalid JSON body passed.")
    if not isinstance(doc, dict):
        return _error(400, "rest_invalid_json", "Invalid JSON body passed.")
    lists = {name: doc.get(name) or [] for name in ("create", "update", "delete")}
    if not all(isinstance(items, list) for items in lists.values()):
        return _error(400, "rest_invalid_param", "create, update and delete are lists")
    total = sum(len(items) for items in lists.values())
    if total > BATCH_LIMIT:
        return _error(
            413,
            "woocommerce_rest_batch_too_many",
            f"Unable to accept more than {BATCH_LIMIT} items for this request.",
        )
    books = catalog(request)
    books.call("woocommerce", store, total)
    if any(isinstance(item, dict) and "stock_quantity" in item for item in lists["update"]):
        stock.stock_of(books).call("woocommerce", store)  # one call, however many it sets
    answer: dict[str, list[dict[str, Any]]] = {}
    if lists["create"]:
        answer["create"] = [
            _create(books, shop, item)
            if isinstance(item, dict)
            else _object_error("rest_invalid_param", "not an object")
            for item in lists["create"]
        ]
    if lists["update"]:
        answer["update"] = [
            _update(books, shop, item)
            if isinstance(item, dict)
            else _object_error("rest_invalid_param", "not an object")
            for item in lists["update"]
        ]
    if lists["delete"]:
        answer["delete"] = []
        for key in lists["delete"]:
            product = books.find("woocommerce", store, str(key))
            if product is None:
                answer["delete"].append(
                    _object_error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
                )
            else:
                books.update(product, status="trash")
                answer["delete"].append(_render(product, shop.currency))
    return JSONResponse(answer)
