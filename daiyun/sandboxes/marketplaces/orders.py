"""The sandbox's channel-neutral order model: buyers, addresses, lines, refunds and orders.

Money is integer minor units and times are aware UTC truncated to whole seconds; the channel
modules render an order in each marketplace's own shape. :mod:`state` re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Key = tuple[int, int]


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class OrderConflict(ValueError):
    """An event that the order's current state does not allow (paying a cancelled order...)."""


@dataclass(slots=True)
class Buyer:
    customer_id: int
    first_name: str
    last_name: str
    email: str
    phone: str | None
    # Chinese names are written family name first and without a space.
    cjk: bool = False

    @property
    def full_name(self) -> str:
        if self.cjk:
            return f"{self.last_name}{self.first_name}"
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(slots=True)
class Address:
    first_name: str
    last_name: str
    name: str
    address1: str
    address2: str
    city: str
    district: str
    province: str
    province_code: str
    zip: str
    country_code: str
    phone: str | None


@dataclass(slots=True)
class OrderLine:
    id: int
    sku: str
    title: str
    asin: str
    quantity: int
    unit_price: int
    # Whole-line amounts, in minor units.
    discount: int
    tax: int
    tax_rate_bp: int
    shipped: int = 0

    @property
    def gross(self) -> int:
        return self.unit_price * self.quantity

    @property
    def net(self) -> int:
        return self.gross - self.discount


@dataclass(slots=True)
class Refund:
    id: int
    created_at: datetime
    amount: int
    note: str
    # (line id, quantity) returned; empty for a refund of an amount only.
    lines: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class Order:
    id: int
    external_id: str
    number: int
    currency: str
    created_at: datetime
    updated_at: datetime
    buyer: Buyer
    address: Address
    lines: list[OrderLine]
    shipping: int
    tax_title: str
    marketplace_id: str = ""
    paid_at: datetime | None = None
    fulfilled_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    refunds: list[Refund] = field(default_factory=list)
    note: str = ""
    # Shipments pushed by the seller (sandbox ``shipments.py``): number, company, url, items.
    tracking: list[dict[str, Any]] = field(default_factory=list)
    # WooCommerce's order notes (the seller's, with the tracking number for the buyer).
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return (epoch(self.updated_at), self.id)

    @property
    def subtotal(self) -> int:
        return sum(line.net for line in self.lines)

    @property
    def gross(self) -> int:
        return sum(line.gross for line in self.lines)

    @property
    def discounts(self) -> int:
        return sum(line.discount for line in self.lines)

    @property
    def tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal + self.tax + self.shipping

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)

    @property
    def refundable(self) -> int:
        return self.total - self.refunded if self.paid_at else 0

    @property
    def items(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def items_shipped(self) -> int:
        return sum(line.shipped for line in self.lines)

    @property
    def status(self) -> str:
        """Where the order is in its life, in the sandbox's own channel-neutral words."""
        if self.cancelled_at:
            return "cancelled"
        if self.paid_at and self.refunded >= self.total > 0:
            return "refunded"
        if self.delivered_at:
            return "delivered"
        shipped = self.items_shipped
        if shipped and shipped >= self.items:
            return "shipped"
        if shipped:
            return "partially_shipped"
        return "paid" if self.paid_at else "pending"
