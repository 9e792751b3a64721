"""The canonical order every connector produces, whatever the channel's own format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    pending = "pending"
    paid = "paid"
    on_hold = "on_hold"
    fulfilled = "fulfilled"
    partially_fulfilled = "partially_fulfilled"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"
    refunded = "refunded"
    partially_refunded = "partially_refunded"


# Statuses that do not count as a sale: never paid, or called off before payment.
NOT_PAID: tuple[OrderStatus, ...] = (OrderStatus.pending, OrderStatus.cancelled)


@dataclass(slots=True)
class Address:
    name: str | None = None
    phone: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    province: str | None = None
    city: str | None = None
    district: str | None = None
    address1: str | None = None
    address2: str | None = None
    postal_code: str | None = None


@dataclass(slots=True)
class NormalizedLine:
    external_id: str
    sku: str
    title: str
    quantity: int
    unit_price_minor: int
    discount_minor: int = 0
    tax_minor: int = 0

    @property
    def total_minor(self) -> int:
        return self.unit_price_minor * self.quantity - self.discount_minor


@dataclass(slots=True)
class NormalizedRefund:
    external_id: str
    amount_minor: int
    refunded_at: datetime
    reason: str | None = None
    # [{"sku": ..., "quantity": ..., "amount_minor": ...}]
    lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class NormalizedOrder:
    """One order as the channel last described it, in exact minor units and UTC times.

    ``source_updated_at`` is the channel's own last-modified time: an update carrying an older
    one than the stored order is stale and never overwrites it.
    """

    external_id: str
    status: OrderStatus
    channel_status: str
    currency: str
    total_minor: int
    placed_at: datetime
    source_updated_at: datetime
    subtotal_minor: int = 0
    discount_minor: int = 0
    shipping_minor: int = 0
    tax_minor: int = 0
    paid_at: datetime | None = None
    # The source's UTC offset in minutes (+480 for a Shanghai shop), kept for local display.
    source_offset_minutes: int = 0
    buyer_name: str | None = None
    buyer_email: str | None = None
    buyer_phone: str | None = None
    shipping_address: Address | None = None
    # The marketplace sent the receiver's name, phone and street encrypted (kept as sent).
    receiver_encrypted: bool = False
    lines: list[NormalizedLine] = field(default_factory=list)
    refunds: list[NormalizedRefund] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def refunded_minor(self) -> int:
        return sum(r.amount_minor for r in self.refunds)
