"""Setting stock on the marketplaces (库存同步): one wire per marketplace, dispatched by channel.

A connector has the set-stock capability when its channel has a wire here. Each wire takes
:class:`StockPush` items (at most its ``batch`` per call) and answers one :class:`StockResult`
per item, in order: ``ok``, or the marketplace's refusal of that item (sending it again unchanged
would be refused again). A call that cannot get through at all (5xx or 429 after the client's
bounded retries, a refused token) raises instead, and says nothing about the items.

Quantities are always sent whole (the marketplaces' "full" mode, never a delta): a repeat of a
push is harmless. Method names and fields marked UNCONFIRMED are MARKETPLACES.md's own
uncertainty, each behind its constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from daiyun.connectors.channels import amazon, china, shopify, woocommerce
from daiyun.connectors.channels.base import Connector
from daiyun.connectors.channels.outbound import CapabilityMissing
from daiyun.connectors.errors import (
    ConnectorError,
    MalformedPayload,
    ReauthorizationNeeded,
    excerpt,
)

STOCK = "stock"


@dataclass(frozen=True)
class StockPush:
    """One listing's quantity as the marketplace should show it, with the marketplace's ids."""

    key: str
    sku_code: str
    quantity: int
    product_id: str | None = None
    sku_id: str | None = None
    inventory_item_id: str | None = None


@dataclass(frozen=True)
class StockResult:
    key: str
    ok: bool
    error: str | None = None


def _ok(push: StockPush) -> StockResult:
    return StockResult(push.key, True)


def _refused(push: StockPush, error: str) -> StockResult:
    return StockResult(push.key, False, excerpt(error))


Wire = Callable[[Any, Sequence[StockPush]], list[StockResult]]


@dataclass(frozen=True)
class StockWire:
    send: Wire
    # Items per call: 1 where the marketplace has no batch method for stock.
    batch: int = 1


# --- Shopify: inventory is per (inventory item, location) ------------------------------------

SHOPIFY_SET = "/inventory_levels/set.json"
SHOPIFY_LOCATIONS = "/locations.json"


def _shopify_location(connector: shopify.ShopifyConnector) -> str:
    """The location stock is set at: the shop's ``location_id`` credential, else its first
    location (asked once per connector)."""
    known = connector.shop.credentials.get("location_id") or getattr(
        connector, "_stock_location", None
    )
    if known:
        return str(known)
    response = connector.http.request(
        "GET", connector._admin_url(SHOPIFY_LOCATIONS), headers=_shopify_headers(connector)
    )
    _shopify_raise(response.status_code, response.text)
    try:
        locations = response.json()["locations"]
        location = str(locations[0]["id"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise MalformedPayload("shopify answered no location") from exc
    connector._stock_location = location  # type: ignore[attr-defined]
    return location


def _shopify_headers(connector: shopify.ShopifyConnector) -> dict[str, str]:
    return {"X-Shopify-Access-Token": str(connector.shop.credentials["access_token"])}


def _shopify_raise(status: int, text: str) -> None:
    if status in (401, 403):
        raise ReauthorizationNeeded(f"shopify answered HTTP {status}: {excerpt(text)}")
    if status not in (200, 201, 400, 404, 406, 422):
        raise ConnectorError(f"shopify answered HTTP {status}: {excerpt(text)}")


def _shopify(connector: shopify.ShopifyConnector, pushes: Sequence[StockPush]) -> list[StockResult]:
    location = _shopify_location(connector)
    results = []
    for push in pushes:
        if not push.inventory_item_id:
            results.append(_refused(push, "the listing has no Shopify inventory item"))
            continue
        response = connector.http.request(
            "POST",
            connector._admin_url(SHOPIFY_SET),
            json={
                "location_id": int(location),
                "inventory_item_id": int(push.inventory_item_id),
                "available": push.quantity,
            },
            headers=_shopify_headers(connector),
        )
        _shopify_raise(response.status_code, response.text)
        if response.status_code in (200, 201):
            results.append(_ok(push))
        else:
            results.append(_refused(push, f"shopify answered HTTP {response.status_code}: "))
    return results


# --- WooCommerce: products/batch with stock_quantity, up to 100 per call ---------------------


def _woocommerce(
    connector: woocommerce.WooCommerceConnector, pushes: Sequence[StockPush]
) -> list[StockResult]:
    known = [p for p in pushes if p.product_id]
    results = {p.key: _refused(p, "the listing has no WooCommerce product id") for p in pushes}
    if known:
        response = connector.http.request(
            "POST",
            connector._url(woocommerce.PRODUCTS_BATCH_PATH),
            json={
                "update": [
                    {
                        "id": int(str(p.product_id)),
                        "manage_stock": True,
                        "stock_quantity": p.quantity,
                    }
                    for p in known
                ]
            },
            auth=connector._auth(),
        )
        woocommerce._refuse_unless_ok(response)
        try:
            answers = response.json().get("update") or []
        except (ValueError, AttributeError) as exc:
            raise MalformedPayload("woocommerce batch answer is not an object") from exc
        if len(answers) != len(known) or not all(isinstance(a, dict) for a in answers):
            raise MalformedPayload("woocommerce batch answer does not match the request")
        for push, answer in zip(known, answers, strict=True):
            error = answer.get("error")
            results[push.key] = (
                _refused(push, f"{error.get('code')}: {error.get('message')}")
                if isinstance(error, dict)
                else _ok(push)
            )
    return [results[p.key] for p in pushes]


# --- Amazon: Listings Items PATCH of fulfillment_availability (UNCONFIRMED shape) ------------

AMAZON_STOCK_PATH = "/attributes/fulfillment_availability"
AMAZON_FULFILLMENT = "DEFAULT"  # merchant-fulfilled; FBA stock is Amazon's own


def _amazon(connector: amazon.AmazonConnector, pushes: Sequence[StockPush]) -> list[StockResult]:
    seller = str(connector.shop.credentials.get("seller_id") or connector.shop.external_id)
    results = []
    for push in pushes:
        path = amazon.LISTINGS_PATH.format(
            seller_id=quote(seller, safe=""), sku=quote(push.sku_code, safe="")
        )
        body = {
            "productType": amazon.LISTING_PRODUCT_TYPE,
            "patches": [
                {
                    "op": "replace",
                    "path": AMAZON_STOCK_PATH,
                    "value": [
                        {"fulfillment_channel_code": AMAZON_FULFILLMENT, "quantity": push.quantity}
                    ],
                }
            ],
        }
        response = connector._send("PATCH", path, body)
        if response.status_code in (400, 404, 422):
            code, message = amazon._error(response)
            results.append(
                _refused(push, f"amazon answered HTTP {response.status_code}: {code} {message}")
            )
            continue
        try:
            doc = response.json()
        except ValueError as exc:
            raise MalformedPayload("amazon listing answer is not JSON") from exc
        if isinstance(doc, dict) and doc.get("status") == "INVALID":
            issues = doc.get("issues") or [{}]
            first = issues[0] if isinstance(issues[0], dict) else {}
            results.append(_refused(push, f"amazon: {first.get('code')} {first.get('message')}"))
        else:
            results.append(_ok(push))
    return results


# --- The Chinese gateways: one method call per SKU, quantities in full mode ------------------

TAOBAO_QUANTITY = "taobao.item.quantity.update"
PDD_QUANTITY = "pdd.goods.quantity.update"
JD_STOCK = "jingdong.stock.write.updateSkuStock"  # UNCONFIRMED
DOUYIN_STOCK = "sku.syncStock"

GatewayCall = Callable[[StockPush], tuple[str, dict[str, Any]]]


def _taobao(p: StockPush) -> tuple[str, dict[str, Any]]:
    business: dict[str, Any] = {"num_iid": p.product_id, "quantity": p.quantity, "type": 1}
    if p.sku_id and p.sku_id != p.product_id:
        business["sku_id"] = p.sku_id  # an item with SKUs: set the SKU's own quantity
    return TAOBAO_QUANTITY, business


def _pdd(p: StockPush) -> tuple[str, dict[str, Any]]:
    return PDD_QUANTITY, {
        "goods_id": p.product_id,
        "sku_id": p.sku_id,
        "quantity": p.quantity,
        "update_type": 1,
    }


def _jd(p: StockPush) -> tuple[str, dict[str, Any]]:
    return JD_STOCK, {"skuId": p.sku_id, "stockNum": p.quantity}


def _douyin(p: StockPush) -> tuple[str, dict[str, Any]]:
    return DOUYIN_STOCK, {
        "product_id": p.product_id,
        "sku_id": p.sku_id,
        "stock_num": p.quantity,
        "incremental": False,
    }


def _gateway(call: GatewayCall) -> Wire:
    def send(connector: china.GatewayConnector, pushes: Sequence[StockPush]) -> list[StockResult]:
        results = []
        for push in pushes:
            if not push.product_id:
                results.append(_refused(push, f"the listing has no {connector.channel} item id"))
                continue
            method, business = call(push)
            answer = connector.answer(method, business)
            if answer.failed:
                results.append(
                    _refused(push, f"{connector.channel} {method}: {answer.code} {answer.text}")
                )
            else:
                results.append(_ok(push))
        return results

    return send


WIRES: dict[str, StockWire] = {
    "shopify": StockWire(_shopify),
    "woocommerce": StockWire(_woocommerce, batch=woocommerce.BATCH_LIMIT),
    "amazon": StockWire(_amazon),
    "taobao": StockWire(_gateway(_taobao)),
    "pinduoduo": StockWire(_gateway(_pdd)),
    "jd": StockWire(_gateway(_jd)),
    "douyin": StockWire(_gateway(_douyin)),
}


def wire_for(channel: str) -> StockWire:
    """The channel's set-stock wire; :class:`CapabilityMissing` when it has none."""
    wire = WIRES.get(channel)
    if wire is None:
        raise CapabilityMissing(f"{channel} has no stock API ({STOCK})")
    return wire


def set_stock(connector: Connector, pushes: Sequence[StockPush]) -> list[StockResult]:
    """Send at most the wire's batch of quantities in one go (see the module's docstring)."""
    return wire_for(connector.channel).send(connector, pushes)
