"""The fulfilment API's shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from daiyun.core.numbers import WholeNumber
from daiyun.platform.fulfillment.models import (
    ExceptionKind,
    FoState,
    MergeMode,
    WaveStatus,
)
from daiyun.platform.fulfillment.rules import Resolution

__all__ = [
    "ExceptionKind",
    "FoState",
    "MergeMode",
    "Resolution",
    "WaveStatus",
]


Int = WholeNumber
Quantity = Annotated[Int, Field(ge=1, le=1_000_000)]
Barcode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1F\x7F]+$")
]
Zone = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[0-9A-Za-z_]+$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FoLineRead(BaseModel):
    order_id: uuid.UUID
    sku_id: uuid.UUID
    sku: str
    quantity: int
    location: str | None


class FoEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_state: FoState | None
    to_state: FoState
    note: str
    actor: str
    at: datetime


class FulfillmentOrderRead(BaseModel):
    id: uuid.UUID
    number: str
    order_id: uuid.UUID
    order_ids: list[uuid.UUID]
    shop_id: uuid.UUID
    warehouse_id: uuid.UUID | None
    state: FoState
    held_state: FoState | None
    merged_into_id: uuid.UUID | None
    wave_id: uuid.UUID | None
    ship_by: datetime | None
    lines: list[FoLineRead]
    scanned: dict[str, int] = Field(description="Units scanned at the pack station per SKU id")
    scan_errors: int
    weight_grams: int | None
    created_at: datetime
    updated_at: datetime


class FulfillmentOrderDetail(FulfillmentOrderRead):
    history: list[FoEventRead]


class MergeIn(_Input):
    ids: list[uuid.UUID] = Field(
        min_length=1, max_length=49, description="The parcels to merge into this one"
    )


class MergeSuggestion(BaseModel):
    warehouse_id: uuid.UUID | None
    ids: list[uuid.UUID]
    order_ids: list[uuid.UUID]


class SplitLine(_Input):
    sku_id: uuid.UUID
    quantity: Quantity


class SplitIn(_Input):
    lines: list[SplitLine] = Field(min_length=1, max_length=100)


class ExceptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    fo_id: uuid.UUID
    kind: ExceptionKind
    detail: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    actions: list[Resolution] = Field(default_factory=list)


class ResolveIn(_Input):
    action: Resolution


class SettingsIn(_Input):
    merge_mode: MergeMode = MergeMode.suggest
    allow_partial: StrictBool = False
    ship_within_hours: Int = Field(default=48, ge=1, le=24 * 30)
    warn_hours: Int = Field(default=6, ge=0, le=24 * 7)


class SettingsRead(SettingsIn):
    pass


class WaveRuleIn(_Input):
    single_item: StrictBool = Field(default=False, description="Only parcels of one unit")
    zone: Zone | None = Field(default=None, description="Only parcels picked wholly in the zone")
    max_orders: Int = Field(default=100, ge=1, le=1000)


class WaveCreate(WaveRuleIn):
    warehouse_id: uuid.UUID


class AgencyWaveCreate(WaveRuleIn):
    tenants: list[Annotated[str, StringConstraints(min_length=1, max_length=63)]] | None = Field(
        default=None,
        max_length=200,
        description="Merchants (slugs) to gather; all the caller may work for when absent",
    )


class PickLineRead(BaseModel):
    location: str
    sku: str
    quantity: int
    fo_number: str
    merchant: str


class WaveRead(BaseModel):
    id: uuid.UUID
    number: str
    warehouse_id: uuid.UUID
    status: WaveStatus
    rule: dict[str, object]
    created_by: str
    created_at: datetime
    picked_at: datetime | None
    fulfillment_order_ids: list[uuid.UUID] = Field(
        description="The parcels in it the caller may see"
    )


class WaveDetail(WaveRead):
    pick_list: list[PickLineRead]


class ScanIn(_Input):
    barcode: Barcode


class ScanRead(BaseModel):
    fo_id: uuid.UUID
    sku_id: uuid.UUID
    sku: str
    scanned: int
    wanted: int
    complete: bool


class PackFinish(_Input):
    weight_grams: Int = Field(ge=1, le=1_000_000)
