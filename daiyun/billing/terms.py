"""What an agency contract says (BILLING.md): the terms a statement is computed from.

A contract version holds one :class:`ContractTerms`. Rates are ``Decimal`` fractions (0.05 is
5 %); amounts are integer minor units of the contract's currency.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from daiyun.billing.limits import MAX_AMOUNT_MINOR
from daiyun.core.money import MinorUnits
from daiyun.platform.orders.normalized import OrderStatus

Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=9, decimal_places=6)]
# Bounded so that no sum a statement makes can leave BIGINT (daiyun.billing.limits).
Minor = Annotated[
    MinorUnits, Field(ge=0, le=MAX_AMOUNT_MINOR, description="Minor units, 0 to 10^12 (limits.py)")
]
# Names a contract lists (channels, SKUs, categories, SKU prefixes).
Name = Annotated[str, Field(min_length=1, max_length=100)]
MAX_NAMES = 500


def _distinct(value: Any) -> Any:
    # A set travels as an array of unique items (its schema says so): a repeat is a mistake to
    # point out, not to fold away silently.
    if isinstance(value, list) and len(value) != len(set(map(str, value))):
        raise ValueError("lists each item once")
    return value


T = TypeVar("T")
Distinct = Annotated[frozenset[T], BeforeValidator(_distinct)]


class _Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierMode(StrEnum):
    flat = "flat"
    # Each band of the base at its own rate: continuous at band edges.
    marginal = "marginal"
    # The whole base at the rate of the band reached: jumps at band edges.
    whole_volume = "whole_volume"


class Tier(_Terms):
    """A band of the commission base, from the previous band's ``up_to`` to this one's."""

    up_to_minor: Minor | None = Field(description="Upper edge of the band; null: no limit")
    rate: Rate


class CommissionBase(_Terms):
    """Which orders count, when they enter a period, and what of them counts (提成基数)."""

    statuses: Distinct[OrderStatus] = frozenset(
        {
            OrderStatus.paid,
            OrderStatus.fulfilled,
            OrderStatus.partially_fulfilled,
            OrderStatus.shipped,
            OrderStatus.delivered,
            OrderStatus.partially_refunded,
            OrderStatus.refunded,
        }
    )
    # The date that places an order in a period, in the contract's time zone.
    date: Literal["placed", "paid"] = "paid"
    include_shipping: StrictBool = False
    include_tax: StrictBool = False
    excluded_channels: Distinct[Name] = Field(default=frozenset(), max_length=MAX_NAMES)
    excluded_skus: Distinct[Name] = Field(default=frozenset(), max_length=MAX_NAMES)


class Commission(_Terms):
    """Commission (销售提成): a flat rate or tiers, with per-channel and per-category rates."""

    mode: TierMode = TierMode.flat
    rate: Rate = Decimal("0")
    tiers: tuple[Tier, ...] = Field(default=(), max_length=50)
    # A channel's or a category's own flat rate replaces the default for its orders' base.
    channel_rates: dict[Name, Rate] = Field(default_factory=dict, max_length=MAX_NAMES)
    # Category by SKU prefix: {"TEA-": "tea"}; the longest matching prefix wins.
    categories: dict[Name, Name] = Field(default_factory=dict, max_length=MAX_NAMES)
    category_rates: dict[Name, Rate] = Field(default_factory=dict, max_length=MAX_NAMES)

    @model_validator(mode="after")
    def _tiers_fit_the_mode(self) -> Commission:
        if self.mode == TierMode.flat:
            if self.tiers:
                raise ValueError("a flat commission has a rate, not tiers")
            return self
        if not self.tiers:
            raise ValueError(f"{self.mode.value} commission needs tiers")
        edges = [t.up_to_minor for t in self.tiers]
        if edges[-1] is not None or any(e is None for e in edges[:-1]):
            raise ValueError("only the last tier is open-ended (up_to_minor null)")
        bounded = [e for e in edges if e is not None]
        if bounded != sorted(set(bounded)) or (bounded and bounded[0] <= 0):
            raise ValueError("tier edges must rise strictly from above zero")
        return self


class Target(_Terms):
    """Performance target (对赌): a bonus above it, or a fee refund when it is missed."""

    base_minor: Minor
    bonus_rate: Rate = Decimal("0")  # on the base above the target
    missed_refund_minor: Minor = 0


class Warehousing(_Terms):
    per_order_shipped_minor: Minor = 0
    per_pick_minor: Minor = 0
    per_return_minor: Minor = 0
    per_pallet_month_minor: Minor = 0  # storage, billed from pallet-days / days in the month
    per_receiving_pallet_minor: Minor = 0
    monthly_minimum_minor: Minor = 0


class Placement(_Terms):
    """Recruiting placement fee per hire: fixed, or a share of the first-year salary; a hire who
    leaves within the guarantee (days from the start) brings the fee back (``refund``) or a
    replacement hired free (``replacement``). No guarantee when its days are 0."""

    fixed_minor: Minor = 0
    salary_rate: Rate = Decimal("0")
    guarantee_days: int = Field(default=0, ge=0, le=730, strict=True)
    guarantee_remedy: Literal["refund", "replacement"] = "refund"


class ForeignSales(StrEnum):
    """How sales in another currency than the contract's enter the commission base.

    ``exclude``: they are left out (a statement line says so, per currency). ``daily``: each
    order converts at the rate of its base date (paid or placed, as a local day in the contract's
    time zone). ``monthly``: the fixed monthly rate, the rate recorded for the period's first day
    (the 1st), converts every order of the period. A rate is never guessed: a day without one
    keeps its sales out of the draft and the statement cannot be finalized until it is recorded,
    unless the contract carries rates over days without one (``rate_carry_days``).
    """

    exclude = "exclude"
    daily = "daily"
    monthly = "monthly"


class ContractTerms(_Terms):
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code")
    time_zone: str = Field(default="Asia/Shanghai", min_length=1, max_length=64)
    base: CommissionBase = CommissionBase()
    base_fee_minor: Minor = 0  # 基础服务费, per month, prorated by day
    commission: Commission = Commission()
    minimum_minor: Minor | None = None  # 保底
    cap_minor: Minor | None = None
    cap_applies_to: Literal["commission", "total"] = "commission"
    target: Target | None = None
    clawback: StrictBool = True  # 退款冲减
    ad_markup_rate: Rate = Decimal("0")
    warehousing: Warehousing = Warehousing()
    placement: Placement = Placement()
    vat_rate: Rate = Decimal("0")
    # Versions stored before the field existed keep meaning ``exclude``.
    foreign_sales: ForeignSales = ForeignSales.exclude
    # Rate publishers publish none on weekends and holidays (the ECB's reference rates, say):
    # such a day converts at the latest rate recorded at most this many days before it, named on
    # the statement with its own date. 0: every day needs its own rate.
    rate_carry_days: int = Field(default=0, ge=0, le=7, strict=True)  # strict: `false` is no 0

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _cap_above_minimum(self) -> ContractTerms:
        if (
            self.minimum_minor is not None
            and self.cap_minor is not None
            and self.cap_minor < self.minimum_minor
        ):
            raise ValueError("the cap is below the minimum guarantee")
        return self
