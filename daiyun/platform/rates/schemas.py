"""API shapes of exchange rates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from daiyun.core.ids import Day
from daiyun.platform.rates.rules import MAX_DIGITS, MAX_RATE, MIN_RATE

Currency = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code", examples=["USD"])


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: Day = Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))
    base: str = Currency
    quote: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code", examples=["CNY"])
    rate: Decimal = Field(
        ge=MIN_RATE,
        le=MAX_RATE,
        max_digits=MAX_DIGITS,
        description="Units of quote for one unit of base, 0.000001 to 1,000,000",
        examples=["7.1234"],
    )
    source: str = Field(default="api", min_length=1, max_length=100)


class RatesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rates: list[RateIn] = Field(min_length=1, max_length=1000)


class RatesRecorded(BaseModel):
    created: int
    changed: int
    unchanged: int


class RateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    base: str
    quote: str
    rate: Decimal
    source: str
    recorded_at: datetime
