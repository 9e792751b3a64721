"""The order book's API shapes. Money is integer minor units next to its currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from daiyun.platform.orders.models import Order, OrderEvent
from daiyun.platform.orders.normalized import OrderStatus


def mask_name(value: str | None) -> str | None:
    return None if not value else value[0] + "*" * max(1, min(len(value) - 1, 3))


def mask_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return mask_name(value)
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str | None) -> str | None:
    digits = [c for c in value or "" if c.isdigit()]
    return None if not digits else "***" + "".join(digits[-4:])


def mask_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keep where the parcel goes (country to city), drop who and the street."""
    if address is None:
        return None
    kept = ("country", "province", "city")
    return {k: (address.get(k) if k in kept else None) for k in address}


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    title: str
    quantity: int
    unit_price_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int


class RefundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    external_id: str
    amount_minor: int
    reason: str | None
    refunded_at: datetime
    lines: list[dict[str, Any]]


class OrderEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    at: datetime
    actor_user_id: uuid.UUID | None
    detail: dict[str, Any]


class OrderRead(BaseModel):
    """An order in a list: enough to find it and act on it."""

    id: uuid.UUID
    shop_id: uuid.UUID
    channel: str
    external_id: str
    status: OrderStatus
    channel_status: str
    review_state: str
    hold_reasons: list[dict[str, Any]]
    currency: str
    total_minor: int
    refunded_minor: int
    item_count: int
    buyer_name: str | None
    buyer_email: str | None
    placed_at: datetime
    paid_at: datetime | None
    source_offset_minutes: int
    source_updated_at: datetime

    @classmethod
    def of(cls, order: Order, *, pii: bool) -> OrderRead:
        return cls(**_fields(cls, order, pii))


class OrderDetail(OrderRead):
    """One order with its lines, refunds, shipping and history."""

    subtotal_minor: int
    discount_minor: int
    shipping_minor: int
    tax_minor: int
    buyer_phone: str | None
    shipping_address: dict[str, Any] | None
    lines: list[OrderLineRead]
    refunds: list[RefundRead]
    history: list[OrderEventRead]

    @classmethod
    def build(cls, order: Order, history: list[OrderEvent], *, pii: bool) -> OrderDetail:
        values = _fields(cls, order, pii, skip={"lines", "refunds", "history"})
        return cls(
            **values,
            lines=[OrderLineRead.model_validate(line) for line in order.lines],
            refunds=[RefundRead.model_validate(refund) for refund in order.refunds],
            history=[OrderEventRead.model_validate(event) for event in history],
        )


_MASKS = {
    "buyer_name": mask_name,
    "buyer_email": mask_email,
    "buyer_phone": mask_phone,
    "shipping_address": mask_address,
}


def _fields(
    model: type[BaseModel], order: Order, pii: bool, skip: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    values = {name: getattr(order, name) for name in model.model_fields if name not in skip}
    if not pii:
        for name, mask in _MASKS.items():
            if name in values:
                values[name] = mask(values[name])  # type: ignore[operator]
    return values


class ReleaseBody(BaseModel):
    note: str | None = Field(default=None, max_length=1000)


class CancelBody(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
