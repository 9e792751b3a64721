"""The warehouse API's shapes (Create / Update / Read)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from daiyun.platform.warehouse.models import (
    CountKind,
    CountStatus,
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
    # Allocation sends each order to the warehouse nearest its buyer by this address.
    address: (
        dict[Annotated[str, StringConstraints(min_length=1, max_length=32)], AddressText] | None
    ) = Field(default=None, max_length=12)
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
    split_by_warehouse: bool = Field(
        default=False,
        description="When no warehouse has a whole order, take each SKU from one that has it "
        "(拆单: one parcel per warehouse) instead of waiting for stock",
    )


class StockSettingsRead(BaseModel):
    default_warehouse_id: uuid.UUID | None
    skus: list[SkuRuleIn]
    split_by_warehouse: bool = False


# --------------------------------------------------------------------------------------------
# Stocktakes (盘点)
# --------------------------------------------------------------------------------------------


class CountCreate(_Input):
    warehouse_id: uuid.UUID
    kind: CountKind = Field(description="full: every bin of the warehouse; cycle: the bins named")
    location_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_LINES, description="The bins of a cycle count"
    )
    note: Reason | None = None


class CountedLine(_Input):
    sku_id: uuid.UUID
    location_id: uuid.UUID
    lot: Lot | None = None
    quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)] = Field(
        description="Units counted (a scan sends 1 with add=true)"
    )


class CountEntry(_Input):
    lines: list[CountedLine] = Field(min_length=1, max_length=MAX_LINES)
    add: bool = Field(
        default=False, description="Add to what was counted (scanning) instead of replacing it"
    )


class CountSubmit(_Input):
    missing_as_zero: bool = Field(
        default=False, description="Lines nobody counted were found empty (else refused: 409)"
    )


class CountLineRead(BaseModel):
    sku_id: uuid.UUID
    sku: str
    location_id: uuid.UUID
    location: str
    batch_id: uuid.UUID | None
    lot: str | None
    expected: int = Field(description="On hand in the book when the count started")
    counted: int | None
    counted_at: datetime | None
    moved: int = Field(description="Units the ledger moved between the start and the counting")
    difference: int | None = Field(
        description="counted − (expected + moved): what the adjustment posts; null if uncounted"
    )
    posted: int | None = Field(description="The difference posted on approval")


class CountSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    warehouse_id: uuid.UUID
    kind: CountKind
    status: CountStatus
    note: str | None
    started_by: str
    created_at: datetime
    submitted_at: datetime | None
    approved_at: datetime | None
    adjustment_id: uuid.UUID | None


class CountRead(BaseModel):
    id: uuid.UUID
    warehouse_id: uuid.UUID
    kind: CountKind
    status: CountStatus
    location_ids: list[uuid.UUID]
    note: str | None
    started_by: str
    created_at: datetime
    submitted_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    adjustment_id: uuid.UUID | None
    lines: list[CountLineRead]


# --------------------------------------------------------------------------------------------
# Replenishment (补货) and alerts
# --------------------------------------------------------------------------------------------


class ReplenishmentRuleIn(_Input):
    sku_id: uuid.UUID
    warehouse_id: uuid.UUID
    min_quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)] = Field(
        description="Reorder when what is available and coming falls to this"
    )
    max_quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)] = Field(
        description="Order up to this"
    )
    lead_time_days: Annotated[int, Field(ge=0, le=365)] = Field(
        description="Days from ordering to the goods on the shelf"
    )


class ReplenishmentRules(_Input):
    rules: list[ReplenishmentRuleIn] = Field(default_factory=list, max_length=2000)


class ReplenishmentRulesRead(BaseModel):
    rules: list[ReplenishmentRuleIn]


class SuggestionRead(BaseModel):
    sku_id: uuid.UUID
    sku: str
    warehouse_id: uuid.UUID
    available: int = Field(description="On hand − reserved")
    incoming: int = Field(description="Expected on open receipts and transfers in transit")
    daily_sales: float = Field(description="Units sold per day over the window")
    days_of_cover: float | None = Field(description="available / daily sales; null: no sales")
    reorder_point: int
    min_quantity: int
    max_quantity: int
    lead_time_days: int
    quantity: int = Field(description="Suggested order: up to the maximum")
    urgent: bool = Field(description="Runs out before an order placed today arrives")


class AlertKind(StrEnum):
    low_stock = "low_stock"
    expiring = "expiring"
    expired = "expired"
    slow_mover = "slow_mover"


class AlertRead(BaseModel):
    kind: AlertKind
    sku_id: uuid.UUID
    sku: str
    warehouse_id: uuid.UUID
    available: int
    threshold: int | None = Field(description="low_stock: the safety stock or minimum")
    lot: str | None
    expires_on: date | None
    days: int | None = Field(description="expiring: days left; slow_mover: days without a sale")
