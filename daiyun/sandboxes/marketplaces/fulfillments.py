"""Sandbox ship endpoints of Shopify, WooCommerce and Amazon (the rules: ``shipments.py``).

Shopify: ``GET /orders/{id}/fulfillment_orders.json`` (one fulfillment order per order: open,
closed once every item shipped, cancelled with the order), ``POST /fulfillments.json`` (201 with
the fulfillment; the same tracking number again answers the existing one with 200; a refusal is
422 with Shopify's ``errors``), ``GET /orders/{id}/fulfillments.json``.

WooCommerce: ``PUT /orders/{id}`` with ``status: completed`` ships the order with the tracking
number in ``meta_data`` (``_tracking_number``, ``_tracking_provider``; the Shipment Tracking
extension's keys differ, UNCONFIRMED); ``GET``/``POST /orders/{id}/notes``.

Amazon: ``POST /orders/v0/orders/{orderId}/shipmentConfirmation``: 204, or 400 ``InvalidInput``;
the same tracking number again is 204 and changes nothing (Amazon says nothing of duplicates).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from daiyun.sandboxes.marketplaces import amazon, shopify, woocommerce
from daiyun.sandboxes.marketplaces.orders import Order
from daiyun.sandboxes.marketplaces.shipments import ShipRefused, ship
from daiyun.sandboxes.marketplaces.state import SandboxState

# Fulfillment orders and their line items get ids of their own: the order's and the lines'
# shifted into a range that never meets them.
FO_OFFSET = 1_000_000_000_000

shopify_router = APIRouter(prefix="/shopify/{shop_domain}", tags=["sandbox: shopify"])
woocommerce_router = APIRouter(prefix="/woocommerce/{store}", tags=["sandbox: woocommerce"])
amazon_router = APIRouter(prefix="/amazon", tags=["sandbox: amazon"])


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


async def _body(request: Request) -> dict[str, Any]:
    try:
        doc = await request.json()
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


# --- Shopify ------------------------------------------------------------------------------


def _fulfillment_order(order: Order) -> dict[str, Any]:
    if order.cancelled_at is not None:
        status = "cancelled"
    elif order.items_shipped >= order.items:
        status = "closed"
    else:
        status = "open"
    return {
        "id": order.id + FO_OFFSET,
        "order_id": order.id,
        "status": status,
        "line_items": [
            {
                "id": line.id + FO_OFFSET,
                "line_item_id": line.id,
                "quantity": line.quantity,
                "fulfillable_quantity": line.quantity - line.shipped,
            }
            for line in order.lines
        ],
    }


def _fulfillment(order: Order, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "order_id": order.id,
        "status": "success",
        "tracking_company": entry["company"],
        "tracking_number": entry["number"],
        "tracking_numbers": [entry["number"]],
        "tracking_url": entry["url"],
        "created_at": entry["at"],
        "line_items": [{"id": k, "quantity": v} for k, v in entry["lines"].items()],
    }


@shopify_router.get("/admin/api/{version}/orders/{order_id}/fulfillment_orders.json")
def fulfillment_orders(request: Request, shop_domain: str, version: str, order_id: str) -> Response:
    admitted = shopify._admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    with _state(request).lock:
        order = shop.orders.get(order_id)
        if order is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)
        return JSONResponse({"fulfillment_orders": [_fulfillment_order(order)]}, headers=headers)


@shopify_router.get("/admin/api/{version}/orders/{order_id}/fulfillments.json")
def fulfillments(request: Request, shop_domain: str, version: str, order_id: str) -> Response:
    admitted = shopify._admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    with _state(request).lock:
        order = shop.orders.get(order_id)
        if order is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)
        found = [_fulfillment(order, entry) for entry in order.tracking]
        return JSONResponse({"fulfillments": found}, headers=headers)


@shopify_router.post("/admin/api/{version}/fulfillments.json")
async def create_fulfillment(request: Request, shop_domain: str, version: str) -> Response:
    admitted = shopify._admit(request, shop_domain)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    body = (await _body(request)).get("fulfillment")
    if not isinstance(body, dict):
        return JSONResponse({"errors": {"fulfillment": ["is required"]}}, 400, headers=headers)
    groups = body.get("line_items_by_fulfillment_order")
    tracking = body.get("tracking_info") or {}
    if not isinstance(groups, list) or not groups or not isinstance(tracking, dict):
        return JSONResponse(
            {"errors": {"line_items_by_fulfillment_order": ["is required"]}}, 422, headers=headers
        )
    order_ids = {int(g.get("fulfillment_order_id") or 0) - FO_OFFSET for g in groups}
    order = shop.by_id.get(next(iter(order_ids))) if len(order_ids) == 1 else None
    if order is None:
        return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)
    lines: dict[int, int] = {}
    for group in groups:
        for item in group.get("fulfillment_order_line_items") or []:
            line_id = int(item.get("id") or 0) - FO_OFFSET
            lines[line_id] = lines.get(line_id, 0) + int(item.get("quantity") or 0)
    try:
        order, entry, duplicate = ship(
            _state(request),
            shop,
            order.external_id,
            str(tracking.get("number") or ""),
            str(tracking.get("company") or ""),
            lines=lines or None,
            url=tracking.get("url"),
        )
    except ShipRefused as exc:
        return JSONResponse({"errors": {"base": [str(exc)]}}, status_code=422, headers=headers)
    with _state(request).lock:
        return JSONResponse(
            {"fulfillment": _fulfillment(order, entry)},
            status_code=200 if duplicate else 201,
            headers=headers,
        )


# --- WooCommerce --------------------------------------------------------------------------


@woocommerce_router.put("/wp-json/wc/v3/orders/{order_id}")
async def update_order(request: Request, store: str, order_id: str) -> Response:
    admitted = woocommerce._admit(request, store)
    if isinstance(admitted, JSONResponse):
        return admitted
    body = await _body(request)
    if body.get("status") != "completed":
        return woocommerce._invalid("status", "the sandbox only completes orders")
    meta = {
        m.get("key"): m.get("value") for m in body.get("meta_data") or [] if isinstance(m, dict)
    }
    try:
        order, _entry, _duplicate = ship(
            _state(request),
            admitted,
            order_id,
            str(meta.get("_tracking_number") or ""),
            str(meta.get("_tracking_provider") or ""),
        )
    except ShipRefused as exc:
        if exc.reason == "not_found":
            return woocommerce._error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return woocommerce._error(400, "woocommerce_rest_shop_order_invalid_status", str(exc))
    with _state(request).lock:
        return JSONResponse(woocommerce.render_order(admitted, order))


@woocommerce_router.get("/wp-json/wc/v3/orders/{order_id}/notes")
def list_notes(request: Request, store: str, order_id: str) -> Response:
    admitted = woocommerce._admit(request, store)
    if isinstance(admitted, JSONResponse):
        return admitted
    with _state(request).lock:
        order = admitted.orders.get(order_id)
        if order is None:
            return woocommerce._error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return JSONResponse(list(reversed(order.notes)))


@woocommerce_router.post("/wp-json/wc/v3/orders/{order_id}/notes", status_code=201)
async def add_note(request: Request, store: str, order_id: str) -> Response:
    admitted = woocommerce._admit(request, store)
    if isinstance(admitted, JSONResponse):
        return admitted
    body = await _body(request)
    if not isinstance(body.get("note"), str) or not body["note"].strip():
        return woocommerce._invalid("note", "note is required.")
    with _state(request).lock:
        order = admitted.orders.get(order_id)
        if order is None:
            return woocommerce._error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        note = {
            "id": 9_000_000 + sum(len(o.notes) for o in admitted.orders.values()) + 1,
            "note": body["note"],
            "customer_note": bool(body.get("customer_note")),
        }
        order.notes.append(note)
        return JSONResponse(note, status_code=201)


# --- Amazon -------------------------------------------------------------------------------


@amazon_router.post("/orders/v0/orders/{order_id}/shipmentConfirmation")
async def confirm_shipment(request: Request, order_id: str) -> Response:
    admitted = amazon._admit(request)
    if isinstance(admitted, JSONResponse):
        return admitted
    shop, headers = admitted
    detail = (await _body(request)).get("packageDetail")
    if not isinstance(detail, dict):
        return amazon._invalid("packageDetail is required", headers)
    lines: dict[int, int] = {}
    for item in detail.get("orderItems") or []:
        try:
            lines[int(str(item["orderItemId"]))] = int(item["quantity"])
        except (KeyError, TypeError, ValueError):
            return amazon._invalid("orderItems need orderItemId and quantity", headers)
    if not lines:
        return amazon._invalid("orderItems is required", headers)
    try:
        ship(
            _state(request),
            shop,
            order_id,
            str(detail.get("trackingNumber") or ""),
            str(detail.get("carrierCode") or ""),
            lines=lines,
        )
    except ShipRefused as exc:
        if exc.reason == "not_found":
            return JSONResponse(
                {"errors": [{"code": "NotFound", "message": f"Order {order_id} not found."}]},
                status_code=404,
                headers=headers,
            )
        return amazon._invalid(str(exc), headers)
    return Response(status_code=204, headers=headers)
