"""Sandbox Amazon Listings Items API (2021-08-01): an offer per seller SKU.

``PUT`` puts a listing whole (``attributes.purchasable_offer``: ``our_price`` and an optional
``discounted_price``, each a schedule of ``value_with_tax`` numbers), ``PATCH`` replaces the
offer, ``DELETE`` removes the listing. Answers carry ``status`` ``ACCEPTED`` or ``INVALID`` with
``issues``, as SP-API's do; a listing of another seller is a 403. Faults, the access token and
the rate limit are the orders endpoints' (``amazon._admit``).
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from daiyun.sandboxes.marketplaces import stock
from daiyun.sandboxes.marketplaces.amazon import DENIED, _admit
from daiyun.sandboxes.marketplaces.catalog import catalog
from daiyun.sandboxes.marketplaces.generator import minor_digits
from daiyun.sandboxes.marketplaces.state import Shop

PATH = "/listings/2021-08-01/items/{seller_id}/{sku}"

router = APIRouter(prefix="/amazon", tags=["sandbox: amazon"])


def _answer(sku: str, issues: list[dict[str, Any]], headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(
        {
            "sku": sku,
            "status": "INVALID" if issues else "ACCEPTED",
            "submissionId": uuid.uuid4().hex,
            "issues": issues,
        },
        headers=headers,
    )


def _issue(message: str) -> list[dict[str, Any]]:
    return [{"code": "90220", "message": message, "severity": "ERROR"}]


def _schedule_amount(shop: Shop, entries: Any) -> int | str | None:
    """Minor units of a price's first schedule entry; None when absent; text for a bad one."""
    if entries is None:
        return None
    try:
        value = entries[0]["schedule"][0]["value_with_tax"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "value_with_tax is a number"
        amount = Decimal(repr(value)).scaleb(minor_digits(shop.currency))
    except (KeyError, IndexError, TypeError, InvalidOperation):
        return "a price is a schedule of value_with_tax"
    if amount != amount.to_integral_value() or amount <= 0:
        return "value_with_tax is a positive amount in the currency's units"
    return int(amount)


def _offer(shop: Shop, offers: Any) -> tuple[int, int | None] | str:
    if not isinstance(offers, list) or not offers or not isinstance(offers[0], dict):
        return "purchasable_offer is required"
    offer = offers[0]
    if offer.get("currency") != shop.currency:
        return f"currency must be {shop.currency}"
    price = _schedule_amount(shop, offer.get("our_price"))
    sale = _schedule_amount(shop, offer.get("discounted_price"))
    for value in (price, sale):
        if isinstance(value, str):
            return value
    if not isinstance(price, int):
        return "our_price is required"
    assert not isinstance(sale, str)
    if sale is not None and sale >= price:
        return "discounted_price must be below our_price"
    return price, sale


def _seller(shop: Shop, seller_id: str, headers: dict[str, str]) -> JSONResponse | None:
    if seller_id != shop.name:
        return JSONResponse(DENIED, status_code=403, headers=headers)
    return None


async def _doc(request: Request) -> dict[str, Any]:
    try:
        doc = await request.json()
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


@router.put(PATH)
async def put_listing(request: Request, seller_id: str, sku: str) -> Response:
    admitted = _admit(request)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    refused = _seller(shop, seller_id, headers)
    if refused is not None:
        return refused
    books = catalog(request)
    books.call("amazon", shop.name, 1)
    attributes = (await _doc(request)).get("attributes") or {}
    offer = _offer(shop, attributes.get("purchasable_offer"))
    if isinstance(offer, str):
        return _answer(sku, _issue(offer), headers)
    names = attributes.get("item_name") or [{}]
    title = str(names[0].get("value") or sku) if isinstance(names[0], dict) else sku
    price, sale = offer
    found = books.find("amazon", shop.name, sku)
    if found is None:
        found = books.create("amazon", shop.name, sku, title, shop.currency, price)
    books.update(
        found,
        title=title,
        price=sale if sale is not None else price,
        compare_at=price if sale is not None else None,
        status="active",
    )
    return _answer(sku, [], headers)


@router.patch(PATH)
async def patch_listing(request: Request, seller_id: str, sku: str) -> Response:
    admitted = _admit(request)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    refused = _seller(shop, seller_id, headers)
    if refused is not None:
        return refused
    books = catalog(request)
    books.call("amazon", shop.name, 1)
    found = books.find("amazon", shop.name, sku)
    if found is None:
        errors = [{"code": "NOT_FOUND", "message": f"SKU {sku} is not listed"}]
        return JSONResponse({"errors": errors}, status_code=404, headers=headers)
    patches = (await _doc(request)).get("patches") or []
    for patch in patches if isinstance(patches, list) else []:
        if isinstance(patch, dict) and patch.get("path") == "/attributes/purchasable_offer":
            offer = _offer(shop, patch.get("value"))
            if isinstance(offer, str):
                return _answer(sku, _issue(offer), headers)
            price, sale = offer
            books.update(
                found,
                price=sale if sale is not None else price,
                compare_at=price if sale is not None else None,
            )
        elif isinstance(patch, dict) and patch.get("path") == stock.AMAZON_STOCK_PATH:
            try:
                stock.set_product(books, shop, found, stock.amazon_quantity(patch.get("value")))
            except stock.StockRefused as exc:
                return _answer(sku, _issue(str(exc)), headers)
    return _answer(sku, [], headers)


@router.delete(PATH)
def delete_listing(request: Request, seller_id: str, sku: str) -> Response:
    admitted = _admit(request)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    refused = _seller(shop, seller_id, headers)
    if refused is not None:
        return refused
    books = catalog(request)
    books.call("amazon", shop.name, 1)
    found = books.find("amazon", shop.name, sku)
    if found is not None:
        books.update(found, status="deleted")
    return _answer(sku, [], headers)
