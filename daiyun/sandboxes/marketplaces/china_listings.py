"""Sandbox item writes of the four Chinese marketplaces: create an item with its single SKU,
change its price, take it off sale and put it back, kept in the sandbox's catalog.

Each gateway (``taobao.py``, ``pinduoduo.py``, ``jd.py``, ``douyin.py``) hands a listing method,
once signed, token and flow control checked, to :func:`handle` and wraps what it returns in its
own envelope: TOP and Pinduoduo as ``{"<method>_response": ...}``, JD as ``..._responce`` (its
spelling), Douyin as ``data``; an error text in its own error shape. Prices are yuan as decimal
strings on TOP and JD, fen as integers on Pinduoduo and Douyin. The Pinduoduo, JD and Douyin
off-sale method names are as uncertain as MARKETPLACES.md says: they answer what the connector
sends.
"""

from __future__ import annotations

import json
from typing import Any

from daiyun.sandboxes.marketplaces import stock
from daiyun.sandboxes.marketplaces.catalog import Catalog, Product, catalog_of
from daiyun.sandboxes.marketplaces.generator import parse_amount
from daiyun.sandboxes.marketplaces.state import SandboxState, Shop

# method -> what it does, per channel.
METHODS: dict[str, dict[str, str]] = {
    "taobao": {
        "taobao.item.add": "create",
        "taobao.item.update": "price",
        "taobao.item.update.delisting": "off",
        "taobao.item.update.listing": "on",
    },
    "pinduoduo": {
        "pdd.goods.add": "create",
        "pdd.goods.sku.price.update": "price",
        "pdd.goods.sale.status.set": "status",
    },
    "jd": {
        "jingdong.ware.write.add": "create",
        "jingdong.ware.write.updateSkuPrice": "price",
        "jingdong.ware.write.offShelf": "off",
        "jingdong.ware.write.upShelf": "on",
    },
    "douyin": {
        "product.addV2": "create",
        "product.editV2": "price",
        "product.setOffline": "off",
        "product.setOnline": "on",
    },
}
# The quantity methods: stock.py keeps what they set.
for _channel, _methods in stock.GATEWAY_METHODS.items():
    METHODS[_channel].update(dict.fromkeys(_methods, "stock"))
ON_SALE = "onsale"
OFF_SALE = "instock"


class Refused(ValueError):
    """What the marketplace would say of a bad item write."""


def response_key(channel: str, method: str) -> str:
    """The key of a success answer: TOP drops "taobao.", Pinduoduo "pdd."; JD keeps it all and
    spells "responce"."""
    if channel == "jd":
        return method.replace(".", "_") + "_responce"
    return method.split(".", 1)[1].replace(".", "_") + "_response"


def _yuan(value: Any, name: str) -> int:
    try:
        amount = parse_amount(str(value or ""), "CNY")
    except ValueError:
        raise Refused(f"{name} is a yuan amount") from None
    if amount <= 0:
        raise Refused(f"{name} must be above zero")
    return amount


def _fen(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Refused(f"{name} is a whole number of fen")
    if int(value) <= 0:
        raise Refused(f"{name} must be above zero")
    return int(value)


def _json(value: Any, name: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise Refused(f"{name} is not JSON") from None
    if not isinstance(parsed, list) or not parsed or not isinstance(parsed[0], dict):
        raise Refused(f"{name} is a list of objects")
    return parsed


def _item(books: Catalog, shop: Shop, key: Any) -> Product:
    found = books.find(shop.channel, shop.name, str(key or ""))
    if found is None:
        raise Refused(f"no item {key}")
    return found


def handle(
    state: SandboxState, shop: Shop, method: str, business: dict[str, Any]
) -> dict[str, Any]:
    """The payload of a listing method's success answer; raises :class:`Refused`."""
    books = catalog_of(state)
    kind = METHODS[shop.channel][method]
    if kind == "stock":
        try:
            return stock.set_from_gateway(books, shop, method, business)
        except stock.StockRefused as exc:
            raise Refused(str(exc)) from exc
    books.call(shop.channel, shop.name, 1)
    channel = shop.channel
    if kind == "create":
        return _create(books, shop, business)
    if kind == "status":  # Pinduoduo: one method, on or off
        product = _item(books, shop, business.get("goods_id"))
        onsale = str(business.get("is_onsale"))
        if onsale not in ("0", "1"):
            raise Refused("is_onsale is 0 or 1")
        books.update(product, status=ON_SALE if onsale == "1" else OFF_SALE)
        return {"is_success": True}
    if kind in ("on", "off"):
        key = {"taobao": "num_iid", "jd": "wareId", "douyin": "product_id"}[channel]
        product = _item(books, shop, business.get(key))
        books.update(product, status=ON_SALE if kind == "on" else OFF_SALE)
        return _done(channel, product)
    return _reprice(books, shop, business)


def _create(books: Catalog, shop: Shop, business: dict[str, Any]) -> dict[str, Any]:
    channel = shop.channel
    if channel == "taobao":
        title, code = business.get("title"), business.get("outer_id")
        price = _yuan(business.get("price"), "price")
    elif channel == "pinduoduo":
        title, code = business.get("goods_name"), business.get("out_goods_id")
        price = _fen(
            _json(business.get("sku_list"), "sku_list")[0].get("group_price"), "group_price"
        )
    elif channel == "jd":
        title, code = business.get("title"), business.get("outerId")
        price = _yuan(business.get("jdPrice"), "jdPrice")
    else:
        title, code = business.get("name"), business.get("outer_product_id")
        price = _fen(_json(business.get("spec_prices"), "spec_prices")[0].get("price"), "price")
    if not title or not code:
        raise Refused("a title and the merchant's code are required")
    if books.find(channel, shop.name, str(code)) is not None:
        raise Refused(f"code {code} is already used by another item")
    product = books.create(channel, shop.name, str(code), str(title), "CNY", price, status=ON_SALE)
    if channel == "taobao":
        return {"item": {"num_iid": int(product.id)}}
    if channel == "pinduoduo":
        return {"goods_id": int(product.id), "sku_ids": [int(product.sku_id)]}
    if channel == "jd":
        return {"code": "0", "wareId": int(product.id), "skuId": int(product.sku_id)}
    return {"product_id": product.id, "sku": [{"sku_id": product.sku_id, "code": product.sku}]}


def _reprice(books: Catalog, shop: Shop, business: dict[str, Any]) -> dict[str, Any]:
    channel = shop.channel
    if channel == "taobao":
        product = _item(books, shop, business.get("num_iid"))
        price = _yuan(business.get("price"), "price")
    elif channel == "pinduoduo":
        entry = _json(business.get("sku_price_list"), "sku_price_list")[0]
        product = _item(books, shop, entry.get("sku_id"))
        price = _fen(entry.get("group_price"), "group_price")
    elif channel == "jd":
        product = _item(books, shop, business.get("skuId"))
        price = _yuan(business.get("jdPrice"), "jdPrice")
    else:
        entry = _json(business.get("spec_prices"), "spec_prices")[0]
        product = _item(books, shop, business.get("product_id"))
        price = _fen(entry.get("price"), "price")
    books.update(product, price=price, compare_at=None)
    return _done(channel, product)


def _done(channel: str, product: Product) -> dict[str, Any]:
    if channel == "taobao":
        return {"item": {"num_iid": int(product.id)}}
    if channel == "jd":
        return {"code": "0", "success": True}
    if channel == "douyin":
        return {"product_id": product.id}
    return {"is_success": True}
