"""The marketing API's shapes (Create / Update / Read).

Times: a datetime with a UTC offset is that instant; one without is read in the tenant's time
zone (a flash sale "from 20:00:00" means 20:00:00 where the merchant is). Answers are in UTC.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from daiyun.core.ids import DateTime, Day
from daiyun.platform.marketing.models import (
    AdChannel,
    AdSpendSource,
    CarveStatus,
    MarginPolicy,
    RedemptionSource,
)
from daiyun.platform.marketing.rules import (
    BASIS_POINTS,
    MAX_AMOUNT_MINOR,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_TIERS,
    Kind,
    Stacking,
    ValueType,
)

_LABEL = r"^[^\s\x00-\x1F\x7F](?:[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F])?$"
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_LABEL)]
Goal = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=_LABEL)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Code = Annotated[
    str,
    StringConstraints(min_length=3, max_length=40, pattern=r"^[0-9A-Za-z_-]+$"),
    Field(description="Letters, digits, _ and -; matched without regard to case"),
]
Prefix = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z]+$")]
Buyer = Annotated[
    str,
    StringConstraints(min_length=1, max_length=320, pattern=_LABEL),
    Field(
        description="Who buys (an e-mail or the marketplace's buyer id): "
        "per-buyer limits count by it"
    ),
]
Minor = Annotated[int, Field(ge=0, le=MAX_AMOUNT_MINOR)]
Limit = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Priority = Annotated[int, Field(ge=0, le=10_000)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z:._-]+$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


class MarketingSettingsIn(_Input):
    margin_policy: MarginPolicy = Field(
        description="refuse: a promotion selling a SKU under its margin floor is refused when "
        "created; cap: it is allowed and the engine caps its discount at the floor"
    )


class MarketingSettingsRead(BaseModel):
    margin_policy: MarginPolicy


# --------------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------------


class CampaignCreate(_Input):
    name: Label
    goal: Goal | None = None
    starts_at: DateTime
    ends_at: DateTime
    currency: Currency
    budget_minor: Minor = Field(description="The most the campaign's discounts may cost")


class CampaignUpdate(_Input):
    name: Label | None = None
    goal: Goal | None = None
    starts_at: DateTime | None = None
    ends_at: DateTime | None = None
    budget_minor: Minor | None = None


class CampaignRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    goal: str | None
    starts_at: datetime
    ends_at: datetime
    currency: str
    budget_minor: int
    discount_cost_minor: int
    attributed_gmv_minor: int
    redemptions: int
    budget_left_minor: int


# --------------------------------------------------------------------------------------------
# Promotions
# --------------------------------------------------------------------------------------------


class TierIn(_Input):
    threshold_minor: Annotated[int, Field(ge=1, le=MAX_AMOUNT_MINOR)]
    off_minor: Annotated[int, Field(ge=1, le=MAX_AMOUNT_MINOR)]


class PromotionCreate(_Input):
    campaign_id: uuid.UUID
    name: Label
    kind: Kind
    value_type: ValueType = ValueType.fixed
    value: Minor = Field(
        default=0, description="Minor units (fixed) or basis points (percent: 1000 = 10%)"
    )
    tiers: list[TierIn] = Field(default_factory=list, max_length=MAX_TIERS)
    cap_minor: Minor | None = Field(default=None, description="The most one order saves")
    sku_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_LINES)
    category_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_LINES)
    min_order_minor: Minor = 0
    buy_quantity: Annotated[int, Field(ge=0, le=1000)] = 0
    get_quantity: Annotated[int, Field(ge=0, le=1000)] = 0
    stacking: Stacking = Stacking.stackable
    priority: Priority = 100
    requires_coupon: bool = False
    starts_at: DateTime | None = Field(default=None, description="Default: the campaign's start")
    ends_at: DateTime | None = Field(default=None, description="Default: the campaign's end")
    total_limit: Limit | None = None
    per_buyer_limit: Limit | None = None
    flash_price_minor: Minor | None = None
    flash_stock: Annotated[int, Field(ge=0, le=MAX_QUANTITY)] = 0

    @model_validator(mode="after")
    def _shape(self) -> PromotionCreate:
        # What each kind needs; the service checks what needs the database (SKUs, stock, floor).
        if self.value_type is ValueType.percent and self.value > BASIS_POINTS:
            raise ValueError("a percentage is at most 10000 basis points (100%)")
        if self.kind is Kind.tiered and not self.tiers:
            raise ValueError("a 满减 (tiered) promotion needs tiers")
        if self.kind is not Kind.tiered and self.tiers:
            raise ValueError("only a tiered promotion has tiers")
        if self.kind is Kind.bxgy and (self.buy_quantity < 1 or self.get_quantity < 1):
            raise ValueError("buy X get Y needs buy_quantity and get_quantity of at least 1")
        if self.kind is Kind.flash:
            if len(self.sku_ids) != 1 or self.category_ids:
                raise ValueError("a flash sale is on exactly one SKU")
            if self.flash_price_minor is None or self.flash_stock < 1:
                raise ValueError("a flash sale needs flash_price_minor and a flash_stock")
        elif self.flash_price_minor is not None or self.flash_stock:
            raise ValueError("only a flash sale has a flash price and stock")
        if self.kind in (Kind.order, Kind.items, Kind.shipping) and self.value < 1:
            raise ValueError("an order, items or shipping promotion needs a value")
        return self


class PromotionUpdate(_Input):
    name: Label | None = None
    priority: Priority | None = None
    stacking: Stacking | None = None
    active: bool | None = Field(
        default=None, description="false stops it (a flash sale's carved stock goes back)"
    )


class PromotionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    campaign_id: uuid.UUID
    name: str
    kind: Kind
    value_type: ValueType
    value: int
    tiers: list[TierIn]
    cap_minor: int | None
    sku_ids: list[uuid.UUID]
    category_ids: list[uuid.UUID]
    min_order_minor: int
    buy_quantity: int
    get_quantity: int
    stacking: Stacking
    priority: int
    requires_coupon: bool
    starts_at: datetime
    ends_at: datetime
    active: bool
    total_limit: int | None
    per_buyer_limit: int | None
    redeemed: int
    flash_price_minor: int | None
    flash_stock: int
    flash_sold: int
    flash_warehouse_id: uuid.UUID | None
    carve_status: CarveStatus
    carved: int


# --------------------------------------------------------------------------------------------
# Coupons
# --------------------------------------------------------------------------------------------


class CouponCreate(_Input):
    promotion_id: uuid.UUID
    code: Code
    total_limit: Limit | None = None
    per_buyer_limit: Limit | None = None
    min_order_minor: Minor = 0
    starts_at: DateTime | None = None
    ends_at: DateTime | None = None


class CouponBulkCreate(_Input):
    promotion_id: uuid.UUID
    prefix: Prefix
    count: Annotated[int, Field(ge=1, le=5000)]
    total_limit: Limit | None = Field(default=1, description="Uses of each code")
    per_buyer_limit: Limit | None = 1
    min_order_minor: Minor = 0
    starts_at: DateTime | None = None
    ends_at: DateTime | None = None


class CouponRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    promotion_id: uuid.UUID
    code: str
    batch: str | None
    total_limit: int | None
    per_buyer_limit: int | None
    min_order_minor: int
    starts_at: datetime | None
    ends_at: datetime | None
    active: bool
    redeemed: int


class CouponBatchRead(BaseModel):
    batch: str
    promotion_id: uuid.UUID
    codes: list[str]


class CouponLookup(BaseModel):
    """A code as a buyer would use it now: whether it is usable, and if not, why."""

    coupon: CouponRead
    promotion_name: str
    usable: bool
    reason: str | None


# --------------------------------------------------------------------------------------------
# Pricing and redemptions
# --------------------------------------------------------------------------------------------


class CartLineIn(_Input):
    sku_id: uuid.UUID
    quantity: Quantity
    unit_price_minor: Minor


class CartIn(_Input):
    currency: Currency
    lines: list[CartLineIn] = Field(min_length=1, max_length=MAX_LINES)
    shipping_minor: Minor = 0
    buyer: Buyer | None = None
    coupon_codes: list[Code] = Field(default_factory=list, max_length=5)
    at: DateTime | None = Field(default=None, description="Price as of this time (default: now)")

    @model_validator(mode="after")
    def _bounded(self) -> CartIn:
        # Sums stay within what the engine and the databases hold exactly.
        total = sum(line.quantity * line.unit_price_minor for line in self.lines)
        if total + self.shipping_minor > MAX_AMOUNT_MINOR:
            raise ValueError(f"a cart comes to at most {MAX_AMOUNT_MINOR:,} minor units")
        return self


class PricedLineRead(BaseModel):
    sku_id: uuid.UUID
    quantity: int
    unit_price_minor: int
    subtotal_minor: int
    discount_minor: int
    total_minor: int
    floor_minor: int


class DiscountRead(BaseModel):
    promotion_id: uuid.UUID
    name: str
    kind: Kind
    amount_minor: int
    explanation: str
    capped_by: str | None
    coupon: str | None
    # Per cart line (by index) and "shipping": where the discount went.
    allocations: dict[str, int]


class SkippedRead(BaseModel):
    promotion_id: uuid.UUID
    name: str
    reason: str


class CouponVerdict(BaseModel):
    code: str
    accepted: bool
    reason: str | None


class QuoteRead(BaseModel):
    currency: str
    lines: list[PricedLineRead]
    subtotal_minor: int
    discount_minor: int
    shipping_minor: int
    shipping_discount_minor: int
    total_minor: int
    discounts: list[DiscountRead]
    skipped: list[SkippedRead]
    coupons: list[CouponVerdict]


class RedemptionIn(CartIn):
    key: Key = Field(description="The order's reference: recording it again changes nothing")
    buyer: Buyer


class RedemptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    promotion_id: uuid.UUID
    campaign_id: uuid.UUID
    coupon_id: uuid.UUID | None
    order_id: uuid.UUID | None
    buyer: str
    source: RedemptionSource
    currency: str
    discount_minor: int
    order_total_minor: int
    units: int
    explanation: str
    at: datetime
    reversed_at: datetime | None = Field(
        default=None,
        description="When the order was cancelled or fully refunded and the use given back",
    )


class RedemptionResult(BaseModel):
    quote: QuoteRead | None = Field(
        description="The priced cart; null when the key was recorded before"
    )
    redemptions: list[RedemptionRead]


# --------------------------------------------------------------------------------------------
# Ad spend (广告花费) and ROAS (投产比)
# --------------------------------------------------------------------------------------------

MAX_SPEND_ROWS = 1000
Count = Annotated[int, Field(ge=0, le=10**15)]


class AdSpendIn(_Input):
    day: Day
    channel: AdChannel
    ad_campaign: Label = Field(description="The ad platform's campaign (计划) name")
    ad_group: Label | None = Field(None, description="The ad group / unit (单元), if any")
    campaign_id: uuid.UUID | None = Field(None, description="The marketing campaign it served")
    currency: Currency
    spend_minor: Minor
    impressions: Count = 0
    clicks: Count = 0
    attributed_orders: Count | None = Field(None, description="As the ad platform reported")
    attributed_gmv_minor: Minor | None = Field(
        None, description="As the ad platform reported, in ``currency``"
    )


class AdSpendBatchIn(_Input):
    rows: list[AdSpendIn] = Field(min_length=1, max_length=MAX_SPEND_ROWS)


class AdSpendRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    day: date
    channel: AdChannel
    ad_campaign: str
    ad_group: str
    campaign_id: uuid.UUID | None
    currency: str
    spend_minor: int
    home_currency: str
    home_spend_minor: int
    rate: str
    impressions: int
    clicks: int
    attributed_orders: int | None
    attributed_gmv_minor: int | None
    home_gmv_minor: int | None
    source: AdSpendSource


class AdSpendRecorded(BaseModel):
    """What a file or a request did: rows written, and for a file the rows it replaced (the
    channel's rows of every day from its first to its last)."""

    channel: AdChannel | None
    first_day: date
    last_day: date
    written: int
    replaced: int
    linked: int = Field(description="Rows linked to a marketing campaign")
    home_currency: str
    home_spend_minor: int


class ImportProblemRead(BaseModel):
    row: int = Field(description="1 is the first row after the header; 0 the file itself")
    column: str
    problem: str


class RoasBy(StrEnum):
    day = "day"
    campaign = "campaign"
    channel = "channel"


class RoasBasis(StrEnum):
    """Whose attribution the GMV is: the order book's (orders that redeemed the campaign's
    promotions, as marketing records them) or the ad platforms' (their reported figures)."""

    orders = "orders"
    platform = "platform"


class RoasRow(BaseModel):
    key: str = Field(description="The day, the campaign's id (or none) or the channel")
    label: str
    spend_minor: int
    impressions: int
    clicks: int
    orders: int
    gmv_minor: int
    roas: str | None = Field(description="GMV / spend, 4 decimals; none without spend")
    roi: str | None = Field(description="(GMV - spend) / spend, 4 decimals")
    cac_minor: int | None = Field(description="Spend per attributed order")


class RoasReport(BaseModel):
    first: date
    last: date
    by: RoasBy
    basis: RoasBasis
    currency: str
    rows: list[RoasRow]
    total: RoasRow
