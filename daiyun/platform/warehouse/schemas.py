"""The warehouse API's shapes (Create / Update / Read)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from daiyun.platform.warehouse.models import (
    MoveKind,
    ReceiptKind,
    ReceiptStatus,
    ReservationStatus,
    TransferStatus,
)
from daiyun.platform.warehouse.rules import MAX_LINES, MAX_QUANTITY

_LABEL = r"^[^\s\x00-\x1F\x7F](?:[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F])?$"
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_LABEL)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=_LABEL)]
Part = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[0-9A-Za-z_-]+$")]
WarehouseCode = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")
]
Lot = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._/-]+$")]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Delta = Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
Zone = Annotated[
    str, StringConstraints(min_length=1, max_length=64), Field(description="An IANA time zone")
]
AddressText = Annotated[str, StringConstraints(max_length=300, pattern=r"^[^\x00]*$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _zone(value: str) -> str:
    from zoneinfo import ZoneInfo, available_timezones

    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    ZoneInfo(value)
    return value


# --------------------------------------------------------------------------------------------
# Warehouses and locations (agency level)
# --------------------------------------------------------------------------------------------


class WarehouseCreate(_Input):
    code: WarehouseCode
    name: Label
    address: dict[Annotated[str, StringConstraints(min_length=1, max_length=32)], AddressText] = (
        Field(default_factory=dict, max_length=12)
    )
    time_zone: Zone = "Asia/Shanghai"
    active: bool = True
    priority: Annotated[int, Field(ge=0, le=10_000)] = 100

    _check_zone = field_validator("time_zone")(_zone)


class WarehouseUpdate(_Input):
    name: Label | None = None
    time_zone: Zone | None = None
    active: bool | None = None
    priority: Annotated[int, Field(ge=0, le=10_000)] | None = None

    @field_validator("time_zone")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)


class WarehouseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    address: dict[str, Any]
    time_zone: str
    active: bool
    priority: int


class LocationCreate(_Input):
    zone: Part
    aisle: Part
    shelf: Part
    bin: Part
    pickable: bool = True
    allow_negative: bool = False


class LocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    warehouse_id: uuid.UUID
    code: str
    zone: str
    aisle: str
    shelf: str
    bin: str
    pickable: bool
    allow_negative: bool


# --------------------------------------------------------------------------------------------
# Stock
# --------------------------------------------------------------------------------------------


class BatchStock(BaseModel):
    location_id: uuid.UUID
    batch_id: uuid.UUID | None
    lot: str | None
    expires_on: date | None
    on_hand: int
    reserved: int


class StockRead(BaseModel):
    """One SKU in one warehouse: sellable = on hand − reserved − safety stock (a bundle's from
    its parts)."""

    sku_id: uuid.UUID
    sku: str
    warehouse_id: uuid.UUID
    is_bundle: bool
    on_hand: int
    reserved: int
    safety_stock: int
    sellable: int
    batches: list[BatchStock]


class MoveRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stock_id: uuid.UUID
    sku_id: uuid.UUID
    warehouse_id: uuid.UUID
    kind: MoveKind
    on_hand_delta: int
    reserved_delta: int
    reason: str
    source: str
    actor: str
    at: datetime


# --------------------------------------------------------------------------------------------
# Receipts and adjustments
# --------------------------------------------------------------------------------------------


class ExpectedLine(_Input):
    sku_id: uuid.UUID
    quantity: Quantity


class ReceivedLine(_Input):
    sku_id: uuid.UUID
    quantity: Quantity
    location_id: uuid.UUID = Field(description="The bin the goods are put away to")
    lot: Lot | None = None
    expires_on: date | None = None


class ReceiptCreate(_Input):
    """With ``expected`` lines it is an ASN (预到货) to receive against later; with ``received``
    lines the goods are received and put away now; both, and the ASN is received at once."""

    warehouse_id: uuid.UUID
    kind: ReceiptKind = ReceiptKind.purchase
    reference: Label | None = None
    expected: list[ExpectedLine] = Field(default_factory=list, max_length=MAX_LINES)
    received: list[ReceivedLine] = Field(default_factory=list, max_length=MAX_LINES)


class ReceiveIn(_Input):
    lines: list[ReceivedLine] = Field(min_length=1, max_length=MAX_LINES)
    close: bool = Field(default=False, description="Nothing more is coming: close the receipt")


class ReceiptLineRead(BaseModel):
    sku_id: uuid.UUID
    expected: int
    received: int


class ReceiptRead(BaseModel):
    id: uuid.UUID
    warehouse_id: uuid.UUID
    kind: ReceiptKind
    reference: str | None
    status: ReceiptStatus
    lines: list[ReceiptLineRead]
    created_at: datetime


class AdjustmentLine(_Input):
    sku_id: uuid.UUID
    location_id: uuid.UUID
    lot: Lot | None = None
    delta: Delta = Field(description="Units added (positive) or taken away (negative)")


class AdjustmentCreate(_Input):
    reason: Reason
    lines: list[AdjustmentLine] = Field(min_length=1, max_length=MAX_LINES)


class AdjustmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reason: str
    lines: list[dict[str, Any]]
    actor: str
    created_at: datetime


# --------------------------------------------------------------------------------------------
# Reservations and exceptions
# --------------------------------------------------------------------------------------------


class ReservationLineRead(BaseModel):
    sku_id: uuid.UUID
    stock_id: uuid.UUID
    warehouse_id: uuid.UUID
    quantity: int


class ReservationRead(BaseModel):
    order_id: uuid.UUID
    status: ReservationStatus | None = Field(description="null: the order never held stock")
    lines: list[ReservationLineRead]
    updated_at: datetime | None


class MissingSku(BaseModel):
    sku: str
    sku_id: uuid.UUID | None
    wanted: int
    available: int


class StockExceptionRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    missing: list[MissingSku]
    open: bool
    created_at: datetime
    resolved_at: datetime | None


# --------------------------------------------------------------------------------------------
# Transfers
# --------------------------------------------------------------------------------------------


class TransferLineIn(_Input):
    sku_id: uuid.UUID
    quantity: Quantity


class TransferCreate(_Input):
    """Ship goods from one warehouse to another: they leave A now (earliest expiry first) and
    are in transit until B receives them."""

    from_warehouse_id: uuid.UUID
    to_warehouse_id: uuid.UUID
    lines: list[TransferLineIn] = Field(min_length=1, max_length=MAX_LINES)
    note: Reason | None = None


class TransferReceivedLine(_Input):
    sku_id: uuid.UUID
    quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)]


class TransferReceive(_Input):
    location_id: uuid.UUID = Field(description="B's bin the goods are put away to")
    lines: list[TransferReceivedLine] = Field(
        max_length=MAX_LINES,
        description="What B counted per SKU; a SKU left out arrived in full",
    )
    reason: Reason = Field(default="transit difference", description="Recorded with any difference")


class TransferLineRead(BaseModel):
    sku_id: uuid.UUID
    batch_id: uuid.UUID | None
    quantity: int
    received: int | None


class TransferRead(BaseModel):
    id: uuid.UUID
    from_warehouse_id: uuid.UUID
    to_warehouse_id: uuid.UUID
    status: TransferStatus
    lines: list[TransferLineRead]
    note: str | None
    created_at: datetime


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


class SkuRuleIn(_Input):
    sku_id: uuid.UUID
    warehouse_id: uuid.UUID | None = Field(
        default=None, description="Safety stock in this warehouse; none: the SKU's own flags"
    )
    safety_stock: Annotated[int, Field(ge=0, le=MAX_QUANTITY)] = 0
    allow_negative: bool = False


class StockSettingsIn(_Input):
    """Replaces the owner's settings whole."""

    default_warehouse_id: uuid.UUID | None = None
    skus: list[SkuRuleIn] = Field(default_factory=list, max_length=2000)


class StockSettingsRead(BaseModel):
    default_warehouse_id: uuid.UUID | None
    skus: list[SkuRuleIn]
