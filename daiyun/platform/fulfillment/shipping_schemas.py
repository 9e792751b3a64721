"""The ship step's API shapes: shipments and carrier rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from daiyun.platform.fulfillment.models import PushStatus, ShipmentStatus

CarrierCode = Literal["sf", "zto", "yto", "jd"]
Province = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShipIn(_Input):
    fulfillment_order_id: uuid.UUID
    carrier: CarrierCode | None = Field(
        default=None, description="The carrier to use; omitted, the carrier rules choose"
    )


class TrackingEventRead(BaseModel):
    seq: int
    code: str
    description: str
    location: str
    at: datetime


class ShipmentRead(BaseModel):
    id: uuid.UUID
    fulfillment_order_id: uuid.UUID
    shop_id: uuid.UUID
    order_ids: list[uuid.UUID]
    carrier: str
    waybill_no: str
    sort_code: str
    destination: str
    weight_grams: int
    status: ShipmentStatus
    shipped_at: datetime
    shipped_by: str
    delivered_at: datetime | None
    events: list[TrackingEventRead]
    tracked_at: datetime | None
    push_status: PushStatus
    push_attempts: int
    push_error: str | None
    next_push_at: datetime | None
    pushed_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> ShipmentRead:
        return cls(
            id=row.id,
            fulfillment_order_id=row.fo_id,
            shop_id=row.shop_id,
            order_ids=[uuid.UUID(h) for h in row.order_ids],
            carrier=row.carrier,
            waybill_no=row.waybill_no,
            sort_code=row.sort_code,
            destination=row.destination,
            weight_grams=row.weight_grams,
            status=row.status,
            shipped_at=row.shipped_at,
            shipped_by=row.shipped_by,
            delivered_at=row.delivered_at,
            events=[TrackingEventRead.model_validate(e) for e in row.events],
            tracked_at=row.tracked_at,
            push_status=row.push_status,
            push_attempts=row.push_attempts,
            push_error=row.push_error,
            next_push_at=row.next_push_at,
            pushed_at=row.pushed_at,
        )


class CarrierRuleIn(_Input):
    carrier: CarrierCode
    warehouse_id: uuid.UUID | None = None
    provinces: list[Province] = Field(default_factory=list, max_length=64)
    max_weight_grams: int | None = Field(default=None, ge=1, le=1_000_000)


class CarrierRulesIn(_Input):
    rules: list[CarrierRuleIn] = Field(max_length=100, description="First match wins, in order")


class CarrierRuleRead(CarrierRuleIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    priority: int


class CarrierRulesRead(BaseModel):
    rules: list[CarrierRuleRead]
    default_carrier: str
