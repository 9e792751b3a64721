"""Sandbox Shopify products: the REST Admin API's product and variant writes.

``POST /products.json`` creates a product with its variants (the answer carries the product id,
each variant's id and inventory item id); ``PUT /products/{id}.json`` changes its status (and
the variants given); ``PUT /variants/{id}.json`` changes a variant's ``price`` and
``compare_at_price`` (decimal strings; null ends a sale). A price that is not a decimal, or a
compare-at price not above the price, is a 422 with ``errors`` as Shopify words them. Faults,
authentication and the leaky bucket are the orders endpoint's (``shopify._admit``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from daiyun.sandboxes.marketplaces.catalog import Product, catalog
from daiyun.sandboxes.marketplaces.generator import format_minor, parse_amount
from daiyun.sandboxes.marketplaces.shopify import _admit
from daiyun.sandboxes.marketplaces.state import Shop

STATUSES = ("active", "draft", "archived")

router = APIRouter(prefix="/shopify/{shop_domain}", tags=["sandbox: shopify"])


def _unprocessable(errors: dict[str, list[str]], headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"errors": errors}, status_code=422, headers=headers)


def _not_found(headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)


def _prices(shop: Shop, variant: dict[str, Any]) -> tuple[int, int | None] | dict[str, list[str]]:
    try:
        price = parse_amount(str(variant.get("price") or ""), shop.currency)
        compare = variant.get("compare_at_price")
        compare_at = parse_amount(str(compare), shop.currency) if compare else None
    except ValueError:
        return {"price": ["is not a number"]}
    if price <= 0:
        return {"price": ["must be greater than 0"]}
    if compare_at is not None and compare_at <= price:
        return {"compare_at_price": ["must be greater than price"]}
    return price, compare_at


def _variant(product: Product, currency: str) -> dict[str, Any]:
    return {
        "id": int(product.sku_id),
        "product_id": int(product.id),
        "sku": product.sku,
        "price": format_minor(product.price, currency),
        "compare_at_price": (
            format_minor(product.compare_at, currency) if product.compare_at is not None else None
        ),
        "inventory_item_id": int(product.inventory_item_id),
    }


def _product(product: Product, currency: str) -> dict[str, Any]:
    return {
        "id": int(product.id),
        "title": product.title,
        "status": product.status,
        "variants": [_variant(product, currency)],
    }


async def _body(request: Request, key: str) -> dict[str, Any] | None:
    try:
        doc = await request.json()
    except ValueError:
        return None
    inner = doc.get(key) if isinstance(doc, dict) else None
    return inner if isinstance(inner, dict) else None


@router.post("/admin/api/{version}/products.json")
async def create_product(request: Request, shop_domain: str, version: str) -> Response:
    admitted = _admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    books = catalog(request)
    books.call("shopify", shop_domain, 1)
    body = await _body(request, "product")
    if body is None:
        return _unprocessable({"product": ["Required parameter missing or invalid"]}, headers)
    variants = body.get("variants") or [{}]
    variant = variants[0] if isinstance(variants, list) and isinstance(variants[0], dict) else {}
    title = str(body.get("title") or "")
    if not title:
        return _unprocessable({"title": ["can't be blank"]}, headers)
    prices = _prices(shop, variant)
    if isinstance(prices, dict):
        return _unprocessable(prices, headers)
    status = str(body.get("status") or "active")
    if status not in STATUSES:
        return _unprocessable({"status": ["is not included in the list"]}, headers)
    product = books.create(
        "shopify",
        shop_domain,
        str(variant.get("sku") or ""),
        title,
        shop.currency,
        prices[0],
        prices[1],
        status,
    )
    return JSONResponse(
        {"product": _product(product, shop.currency)}, status_code=201, headers=headers
    )


@router.put("/admin/api/{version}/products/{product_id}.json")
async def update_product(
    request: Request, shop_domain: str, version: str, product_id: str
) -> Response:
    admitted = _admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    books = catalog(request)
    books.call("shopify", shop_domain, 1)
    product = books.find("shopify", shop_domain, product_id)
    if product is None or product.id != product_id:
        return _not_found(headers)
    body = await _body(request, "product")
    if body is None:
        return _unprocessable({"product": ["Required parameter missing or invalid"]}, headers)
    status = str(body.get("status") or product.status)
    if status not in STATUSES:
        return _unprocessable({"status": ["is not included in the list"]}, headers)
    changes: dict[str, Any] = {"status": status, "title": str(body.get("title") or product.title)}
    variants = body.get("variants")
    if isinstance(variants, list) and variants and isinstance(variants[0], dict):
        prices = _prices(shop, variants[0])
        if isinstance(prices, dict):
            return _unprocessable(prices, headers)
        changes["price"], changes["compare_at"] = prices
    books.update(product, **changes)
    return JSONResponse({"product": _product(product, shop.currency)}, headers=headers)


@router.put("/admin/api/{version}/variants/{variant_id}.json")
async def update_variant(
    request: Request, shop_domain: str, version: str, variant_id: str
) -> Response:
    admitted = _admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    books = catalog(request)
    books.call("shopify", shop_domain, 1)
    product = books.find("shopify", shop_domain, variant_id)
    if product is None or product.sku_id != variant_id:
        return _not_found(headers)
    body = await _body(request, "variant")
    if body is None:
        return _unprocessable({"variant": ["Required parameter missing or invalid"]}, headers)
    prices = _prices(shop, body)
    if isinstance(prices, dict):
        return _unprocessable(prices, headers)
    books.update(product, price=prices[0], compare_at=prices[1])
    return JSONResponse({"variant": _variant(product, shop.currency)}, headers=headers)
