"""Sandbox shipments: a seller tells a marketplace that an order left with a tracking number.

Every channel's ship endpoint (Shopify's fulfillments, WooCommerce's order update and note,
Amazon's shipmentConfirmation, the four Chinese gateways' logistics methods) hands the order,
the number and the carrier code it received to :func:`ship`, which applies the one rule set
the marketplaces share, as far as they document it:

- an order unknown, unpaid or cancelled cannot ship (:class:`ShipRefused`);
- the same tracking number pushed again changes nothing (answered as a duplicate: each channel
  says so in its own words, see its module);
- a fully shipped order refuses another number (the carriers' numbers are not changed after
  the fact here; UNCONFIRMED: Shopify lets a fulfillment's tracking be updated);
- ``lines`` ships those line ids and quantities, none ships every unshipped item.

The order then reads as shipped in its channel's own documents (and webhooks tell so), and the
control API's order list shows its tracking numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from daiyun.sandboxes.marketplaces.orders import Order
from daiyun.sandboxes.marketplaces.state import SandboxState, Shop

FIRST_FULFILLMENT = 4_200_000_000_000


class ShipRefused(ValueError):
    """What the marketplace would say of this shipment push."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        # "not_found", "unpaid", "cancelled", "already_shipped", "invalid".
        self.reason = reason


def ship(
    state: SandboxState,
    shop: Shop,
    order_id: str,
    number: str,
    company: str,
    *,
    lines: dict[int, int] | None = None,
    url: str | None = None,
) -> tuple[Order, dict[str, Any], bool]:
    """Record the shipment: (order, its tracking entry, whether it was a duplicate)."""
    number = (number or "").strip()
    if not number or not company:
        raise ShipRefused("invalid", "a tracking number and a carrier code are required")
    with state.lock:
        order = shop.orders.get(str(order_id))
        if order is None:
            raise ShipRefused("not_found", f"no order {order_id}")
        for entry in order.tracking:
            if entry["number"] == number:
                return order, entry, True
        if order.cancelled_at is not None:
            raise ShipRefused("cancelled", "the order is cancelled")
        if order.paid_at is None:
            raise ShipRefused("unpaid", "the order is not paid")
        if order.items_shipped >= order.items:
            shipped = ", ".join(t["number"] for t in order.tracking) or "outside the API"
            raise ShipRefused("already_shipped", f"the order is already shipped ({shipped})")
        by_id = {line.id: line for line in order.lines}
        wanted = lines or {
            line.id: line.quantity - line.shipped
            for line in order.lines
            if line.quantity > line.shipped
        }
        for line_id, quantity in wanted.items():
            line = by_id.get(line_id)
            if line is None or quantity <= 0 or quantity > line.quantity - line.shipped:
                raise ShipRefused("invalid", f"line {line_id} cannot ship {quantity}")
        at = datetime.now(UTC).replace(microsecond=0)
        for line_id, quantity in wanted.items():
            by_id[line_id].shipped += quantity
        if order.items_shipped >= order.items:
            order.fulfilled_at = at
        # Fulfillment ids in a range of their own (Shopify's look; the others show no id).
        shop.counters["fulfillment"] = shop.counters.get("fulfillment", FIRST_FULFILLMENT) + 1
        entry = {
            "id": shop.counters["fulfillment"],
            "number": number,
            "company": company,
            "url": url,
            "at": at.isoformat(),
            "lines": dict(wanted),
        }
        order.tracking.append(entry)
        shop.touch(order, at)
        state._notify(shop, [(order, "ship")])
        state._bump("shipments")
        return order, entry, False
