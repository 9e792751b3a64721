"""Shipments on Shopify, WooCommerce and Amazon: the calls that tell the marketplace an order
left with a tracking number (MARKETPLACES.md, Outbound, "ship with tracking").

- Shopify: ``GET /orders/{id}/fulfillment_orders.json``, then ``POST /fulfillments.json`` with
  ``line_items_by_fulfillment_order`` and ``tracking_info`` {number, company, url}. Shopify would
  accept the same number twice, so before a partial shipment, or when no fulfillment order is
  open any more, ``GET /orders/{id}/fulfillments.json`` says whether this number is there.
- WooCommerce: ``PUT /orders/{id}`` {status: completed, the tracking number in ``meta_data``},
  then a customer note with the number unless the order's notes already carry it.
- Amazon: ``POST /orders/v0/orders/{orderId}/shipmentConfirmation`` {marketplaceId,
  packageDetail{packageReferenceId, carrierCode, carrierName, trackingNumber, shipDate,
  orderItems}}; without lines, ``orderItems`` lists what ``GET .../orderItems`` says is unshipped.

Each connector hands its own wire in (a call that signs and addresses a request, and for
Amazon its token-renewing send and read), so this module knows no connector class.

A ``4xx`` refusal of the shipment itself raises :class:`ShipmentRefused`; a refused credential
:class:`ReauthorizationNeeded`; anything else the client could not get past raises as it does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from daiyun.connectors.channels.outbound import ShipmentPush, ShipmentRefused, ShipmentResult
from daiyun.connectors.errors import (
    ConnectorError,
    MalformedPayload,
    ReauthorizationNeeded,
    excerpt,
)

# method, URL path -> the answer (the connector addresses, authenticates and paces it).
Call = Callable[..., httpx.Response]

# Carrier names as Shopify's tracking companies spell them (UNCONFIRMED: "JD Logistics"; an
# unknown company is shown as given, without a tracking link of Shopify's own).
SHOPIFY_CARRIERS = {
    "sf": "SF Express",
    "zto": "ZTO Express",
    "yto": "YTO Express",
    "jd": "JD Logistics",
}
# WooCommerce has no carrier vocabulary: the name goes into the meta data and the note.
WOOCOMMERCE_CARRIERS = dict(SHOPIFY_CARRIERS)
# Amazon's carrierCode values (UNCONFIRMED for all four: Amazon's list names Chinese carriers
# inconsistently; carrierName carries the readable name beside the code).
AMAZON_CARRIERS = {
    "sf": "SF Express",
    "zto": "ZTO Express",
    "yto": "YTO Express",
    "jd": "JD Logistics",
}
WOO_TRACKING_KEY = "_tracking_number"
WOO_PROVIDER_KEY = "_tracking_provider"


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise MalformedPayload(f"{what} answer is not JSON") from exc


def error_text(response: httpx.Response) -> str:
    """The error an answer carries, in the shapes of Shopify (``errors``), WooCommerce
    (``code``/``message``) and Amazon (``errors[0]``)."""
    try:
        doc = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(doc, dict):
        errors = doc.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return excerpt(f"{errors[0].get('code')} {errors[0].get('message')}")
        if errors:
            return excerpt(
                errors if isinstance(errors, str) else json.dumps(errors, ensure_ascii=False)
            )
        if "message" in doc:
            return excerpt(f"{doc.get('code')}: {doc.get('message')}")
    return response.reason_phrase


def _reauthorize_or_raise(channel: str, response: httpx.Response) -> None:
    text = f"{channel} answered HTTP {response.status_code}: {error_text(response)}"
    if response.status_code in (401, 403):
        raise ReauthorizationNeeded(text)
    if response.status_code in (400, 404, 406, 409, 422):
        raise ShipmentRefused(text)
    raise ConnectorError(text)


# --- Shopify ------------------------------------------------------------------------------


def shopify(send: Call, company: str, push: ShipmentPush) -> ShipmentResult:
    order = _shopify_order_id(push.order_id)

    def call(method: str, path: str, **kwargs: Any) -> Any:
        response = send(method, path, **kwargs)
        if response.status_code not in (200, 201):
            _reauthorize_or_raise("shopify", response)
        return _json(response, "shopify")

    doc = call("GET", f"/orders/{order}/fulfillment_orders.json")
    orders = doc.get("fulfillment_orders") if isinstance(doc, dict) else None
    if not isinstance(orders, list):
        raise MalformedPayload("shopify fulfillment_orders answer has no list")
    open_orders = [fo for fo in orders if fo.get("status") in ("open", "in_progress")]
    if not open_orders or push.lines:
        fulfilled = call("GET", f"/orders/{order}/fulfillments.json").get("fulfillments") or []
        for fulfillment in fulfilled:
            if fulfillment.get("tracking_number") == push.tracking_number:
                return ShipmentResult(str(fulfillment.get("id")), duplicate=True)
        if not open_orders:
            raise ShipmentRefused("shopify: no open fulfillment order (fulfilled or cancelled)")
    body = {
        "fulfillment": {
            "line_items_by_fulfillment_order": _by_fulfillment_order(open_orders, push),
            "tracking_info": {
                "number": push.tracking_number,
                "company": company,
                **({"url": push.tracking_url} if push.tracking_url else {}),
            },
            "notify_customer": True,
        }
    }
    created = call("POST", "/fulfillments.json", json=body).get("fulfillment") or {}
    return ShipmentResult(str(created.get("id") or "") or None)


def _shopify_order_id(value: str) -> str:
    if not value.isdigit():
        raise ShipmentRefused(f"shopify order ids are numbers, not {excerpt(value, 40)}")
    return value


def _by_fulfillment_order(
    open_orders: list[dict[str, Any]], push: ShipmentPush
) -> list[dict[str, Any]]:
    if not push.lines:
        # No line items named: Shopify fulfils everything left on each fulfillment order.
        return [{"fulfillment_order_id": fo["id"]} for fo in open_orders]
    wanted = dict(push.lines)
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for fo in open_orders:
        for item in fo.get("line_items") or []:
            line = str(item.get("line_item_id"))
            if line in wanted and wanted[line] > 0:
                quantity = min(wanted[line], int(item.get("fulfillable_quantity") or 0))
                if quantity:
                    grouped.setdefault(fo["id"], []).append(
                        {"id": item["id"], "quantity": quantity}
                    )
                    wanted[line] -= quantity
    if any(left > 0 for left in wanted.values()):
        raise ShipmentRefused("shopify: the parcel's lines are not open for fulfilment")
    return [
        {"fulfillment_order_id": fo_id, "fulfillment_order_line_items": items}
        for fo_id, items in grouped.items()
    ]


# --- WooCommerce --------------------------------------------------------------------------


def woocommerce(send: Call, name: str, push: ShipmentPush) -> ShipmentResult:
    order = push.order_id
    if not order.isdigit():
        raise ShipmentRefused(f"woocommerce order ids are numbers, not {excerpt(order, 40)}")

    def call(method: str, path: str, **kwargs: Any) -> Any:
        response = send(method, path, **kwargs)
        if response.status_code not in (200, 201):
            _reauthorize_or_raise("woocommerce", response)
        return _json(response, "woocommerce")

    call(
        "PUT",
        f"/wp-json/wc/v3/orders/{order}",
        json={
            "status": "completed",
            "meta_data": [
                {"key": WOO_TRACKING_KEY, "value": push.tracking_number},
                {"key": WOO_PROVIDER_KEY, "value": name},
            ],
        },
    )
    notes = call("GET", f"/wp-json/wc/v3/orders/{order}/notes")
    if isinstance(notes, list) and any(
        push.tracking_number in str(n.get("note") or "") for n in notes if isinstance(n, dict)
    ):
        return ShipmentResult(duplicate=True)
    text = f"Shipped with {name}, tracking number {push.tracking_number}"
    if push.tracking_url:
        text += f" ({push.tracking_url})"
    note = call(
        "POST",
        f"/wp-json/wc/v3/orders/{order}/notes",
        json={"note": text, "customer_note": True},
    )
    return ShipmentResult(str(note.get("id")) if isinstance(note, dict) else None)


# --- Amazon -------------------------------------------------------------------------------


def amazon(
    send: Callable[[str, str, dict[str, Any]], httpx.Response],
    get: Callable[[str, Mapping[str, str | int]], dict[str, Any]],
    marketplace_id: str,
    code: str,
    push: ShipmentPush,
) -> ShipmentResult:
    """``send`` answers 2xx and the 4xx refusals and raises on the rest; ``get`` reads a
    resource's payload (both the connector's, renewing its token)."""
    order = push.order_id
    lines = list(push.lines) or _items_to_confirm(get, order)
    body = {
        "marketplaceId": marketplace_id,
        "packageDetail": {
            "packageReferenceId": _package_reference(push.tracking_number),
            "carrierCode": code,
            "carrierName": push.carrier_name or code,
            "trackingNumber": push.tracking_number,
            "shipDate": push.shipped_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orderItems": [{"orderItemId": i, "quantity": q} for i, q in lines],
        },
    }
    response = send(
        "POST", f"/orders/v0/orders/{_amazon_order_id(order)}/shipmentConfirmation", body
    )
    if response.status_code in (200, 204):
        return ShipmentResult()
    raise ShipmentRefused(f"amazon answered HTTP {response.status_code}: {error_text(response)}")


def _amazon_order_id(value: str) -> str:
    parts = value.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ShipmentRefused(f"not an Amazon order id: {excerpt(value, 40)}")
    return value


def _package_reference(tracking_number: str) -> str:
    # A positive number unique per package of the order: derived from the tracking number, so
    # the same parcel pushed again carries the same reference.
    digest = hashlib.sha256(tracking_number.encode()).hexdigest()
    return str(int(digest[:12], 16) % 10**9 + 1)


def _items_to_confirm(
    get: Callable[[str, Mapping[str, str | int]], dict[str, Any]], order: str
) -> list[tuple[str, int]]:
    """What is left to ship of the order; when nothing is, every item as ordered, so that a
    repeat of a confirmation Amazon already has is judged by Amazon (the same package again is
    taken, another one refused) rather than guessed here."""
    payload = get(f"/orders/v0/orders/{_amazon_order_id(order)}/orderItems", {})
    items = payload.get("OrderItems")
    if not isinstance(items, list):
        raise MalformedPayload("amazon orderItems answer has no list")
    left, ordered = [], []
    for item in items:
        quantity = int(item.get("QuantityOrdered") or 0)
        shipped = int(item.get("QuantityShipped") or 0)
        ordered.append((str(item["OrderItemId"]), quantity))
        if quantity > shipped:
            left.append((str(item["OrderItemId"]), quantity - shipped))
    return left or ordered
