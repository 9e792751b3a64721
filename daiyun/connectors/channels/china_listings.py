"""Listings on the four Chinese marketplaces: the gateway methods each one takes, one call per
listing (none of them has a batch method for items).

Each marketplace's wire is one :class:`GatewayListings`: the method that creates an item with its
single SKU and how its answer names the ids, the methods that change a price, take an item off
sale and put it back. The method names and fields marked UNCONFIRMED are MARKETPLACES.md's own
uncertainty; each sits behind its constant so that confirming it is a one-line change. The
gateway loop (signing, flow control, token renewal) is :class:`.china.GatewayConnector`'s; an
error answer for a listing refuses that listing alone.

These marketplaces show one price: what a buyer pays (the sale price while there is one); a
struck-through "was" price comes from their own promotion tools, not the item API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from daiyun.connectors.channels.china import GatewayConnector
from daiyun.connectors.channels.outbound import (
    ListingPush,
    ListingResult,
    accepted,
    decimal_text,
    refused,
)
from daiyun.connectors.errors import MalformedPayload

Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class GatewayListings:
    create: Callable[[ListingPush], Call]
    # (product id, SKU id) from the create method's answer.
    created_ids: Callable[[dict[str, Any]], tuple[str, str]]
    update: Callable[[ListingPush], list[Call]]
    unlist: Callable[[ListingPush], Call]
    relist: Callable[[ListingPush], list[Call]]


def push(
    connector: GatewayConnector, wire: GatewayListings, pushes: Sequence[ListingPush]
) -> list[ListingResult]:
    return [_one(connector, wire, p) for p in pushes]


def _one(connector: GatewayConnector, wire: GatewayListings, push: ListingPush) -> ListingResult:
    if push.product_id is None:
        if push.action == "unlist":
            return accepted(push)  # never reached the marketplace: nothing to take down
        method, business = wire.create(push)
        answer = connector.answer(method, business)
        if answer.failed:
            return refused(push, f"{connector.channel} {method}: {answer.code} {answer.text}")
        try:
            product_id, sku_id = wire.created_ids(answer.doc)
        except (KeyError, TypeError, IndexError) as exc:
            raise MalformedPayload(f"{connector.channel} {method} answered no item id") from exc
        return accepted(push, product_id=product_id, sku_id=sku_id)
    calls = {
        "update": wire.update,
        "publish": wire.relist,
        "unlist": lambda p: [wire.unlist(p)],
    }[push.action](push)
    for method, business in calls:
        answer = connector.answer(method, business)
        if answer.failed:
            return refused(push, f"{connector.channel} {method}: {answer.code} {answer.text}")
    return accepted(push)


def _fen(amount_minor: int) -> int:
    return amount_minor  # CNY minor units are fen, which these gateways take as integers


# --- Taobao/Tmall (TOP): prices in yuan as decimal strings ----------------------------------

TAOBAO_ADD = "taobao.item.add"
TAOBAO_UPDATE = "taobao.item.update"
TAOBAO_DELIST = "taobao.item.update.delisting"
TAOBAO_LIST = "taobao.item.update.listing"


def _top_create(p: ListingPush) -> Call:
    return TAOBAO_ADD, {
        "title": p.title,
        "outer_id": p.sku_code,
        "price": decimal_text(p.price_minor, p.currency),
        "approve_status": "onsale",
        "type": "fixed",
    }


def _top_update(p: ListingPush) -> list[Call]:
    return [
        (TAOBAO_UPDATE, {"num_iid": p.product_id, "price": decimal_text(p.price_minor, p.currency)})
    ]


TAOBAO = GatewayListings(
    create=_top_create,
    created_ids=lambda doc: (
        str(doc["item_add_response"]["item"]["num_iid"]),
        str(doc["item_add_response"]["item"]["num_iid"]),
    ),
    update=_top_update,
    unlist=lambda p: (TAOBAO_DELIST, {"num_iid": p.product_id}),
    relist=lambda p: [*_top_update(p), (TAOBAO_LIST, {"num_iid": p.product_id})],
)


# --- Pinduoduo: prices in fen; the SKU list as JSON text (UNCONFIRMED) -----------------------

PDD_ADD = "pdd.goods.add"  # UNCONFIRMED
PDD_PRICE = "pdd.goods.sku.price.update"  # UNCONFIRMED
PDD_SALE_STATUS = "pdd.goods.sale.status.set"  # UNCONFIRMED


def _pdd_price(p: ListingPush) -> Call:
    prices = [{"sku_id": p.sku_id, "group_price": _fen(p.price_minor)}]
    return PDD_PRICE, {"goods_id": p.product_id, "sku_price_list": json.dumps(prices)}


PINDUODUO = GatewayListings(
    create=lambda p: (
        PDD_ADD,
        {
            "goods_name": p.title,
            "out_goods_id": p.sku_code,
            "sku_list": json.dumps([{"out_sku_sn": p.sku_code, "group_price": p.price_minor}]),
        },
    ),
    created_ids=lambda doc: (
        str(doc["goods_add_response"]["goods_id"]),
        str(doc["goods_add_response"]["sku_ids"][0]),
    ),
    update=lambda p: [_pdd_price(p)],
    unlist=lambda p: (PDD_SALE_STATUS, {"goods_id": p.product_id, "is_onsale": 0}),
    relist=lambda p: [_pdd_price(p), (PDD_SALE_STATUS, {"goods_id": p.product_id, "is_onsale": 1})],
)


# --- JD (JOS): prices in yuan; every method UNCONFIRMED (jingdong.ware.write.*) --------------

JD_ADD = "jingdong.ware.write.add"  # UNCONFIRMED
JD_PRICE = "jingdong.ware.write.updateSkuPrice"  # UNCONFIRMED
JD_OFF_SHELF = "jingdong.ware.write.offShelf"  # UNCONFIRMED
JD_ON_SHELF = "jingdong.ware.write.upShelf"  # UNCONFIRMED


def _jd_price(p: ListingPush) -> Call:
    return JD_PRICE, {"skuId": p.sku_id, "jdPrice": decimal_text(p.price_minor, p.currency)}


JD = GatewayListings(
    create=lambda p: (
        JD_ADD,
        {
            "title": p.title,
            "outerId": p.sku_code,
            "jdPrice": decimal_text(p.price_minor, p.currency),
        },
    ),
    # JD's answers keep the envelope's "responce" spelling.
    created_ids=lambda doc: (
        str(doc["jingdong_ware_write_add_responce"]["wareId"]),
        str(doc["jingdong_ware_write_add_responce"]["skuId"]),
    ),
    update=lambda p: [_jd_price(p)],
    unlist=lambda p: (JD_OFF_SHELF, {"wareId": p.product_id}),
    relist=lambda p: [_jd_price(p), (JD_ON_SHELF, {"wareId": p.product_id})],
)


# --- Douyin Shop: prices in fen; taking off sale UNCONFIRMED --------------------------------

DOUYIN_ADD = "product.addV2"
DOUYIN_EDIT = "product.editV2"
DOUYIN_OFFLINE = "product.setOffline"  # UNCONFIRMED
DOUYIN_ONLINE = "product.setOnline"  # UNCONFIRMED


def _douyin_edit(p: ListingPush) -> Call:
    return DOUYIN_EDIT, {
        "product_id": p.product_id,
        "spec_prices": [{"sku_id": p.sku_id, "price": _fen(p.price_minor), "code": p.sku_code}],
    }


DOUYIN = GatewayListings(
    create=lambda p: (
        DOUYIN_ADD,
        {
            "name": p.title,
            "outer_product_id": p.sku_code,
            "spec_prices": [{"price": _fen(p.price_minor), "code": p.sku_code}],
        },
    ),
    created_ids=lambda data: (str(data["product_id"]), str(data["sku"][0]["sku_id"])),
    update=lambda p: [_douyin_edit(p)],
    unlist=lambda p: (DOUYIN_OFFLINE, {"product_id": p.product_id}),
    relist=lambda p: [_douyin_edit(p), (DOUYIN_ONLINE, {"product_id": p.product_id})],
)
