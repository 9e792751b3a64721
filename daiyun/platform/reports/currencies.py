"""Which currency a tenant's figures are shown in, and its sales in every currency converted.

Money of two currencies is never summed as it is. A dashboard shows one currency: the tenant's
own (its default) when it sold in it, else the one it sold most in, so a merchant selling only
in USD never opens on zeros in CNY. Beside it, a converted total adds the other currencies'
GMV at each day's recorded rate (``daiyun.platform.rates``), names the rates it used and leaves
out, naming them, the days that have no rate: a total is never built on a guessed rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from daiyun.core.money import minor_scale
from daiyun.platform.rates import service as rates
from daiyun.platform.reports import repository


@dataclass(frozen=True)
class Conversion:
    """One other currency's GMV, and what of it converted at which rates."""

    currency: str
    gmv_minor: int  # in its own currency, every day
    converted_minor: int  # in the target currency, the days with a rate
    lowest_rate: Decimal | None
    highest_rate: Decimal | None
    sources: tuple[str, ...]
    days_without_rate: tuple[date, ...]
    gmv_without_rate_minor: int  # in its own currency


@dataclass(frozen=True)
class ConvertedTotal:
    """GMV in every currency, as one amount of ``currency``: its own GMV plus conversions."""

    currency: str
    own_minor: int
    conversions: tuple[Conversion, ...]

    @property
    def total_minor(self) -> int:
        return self.own_minor + sum(c.converted_minor for c in self.conversions)

    @property
    def complete(self) -> bool:
        return not any(c.days_without_rate for c in self.conversions)


def home_currency(default: str, sales: dict[str, dict[date, int]]) -> str:
    """The tenant's default currency when it sold in it (or sold nothing), else the currency
    with the most GMV (in its own minor units: a tie-break, not a comparison of values)."""
    default = default.upper()
    if default in sales or not sales:
        return default
    return max(sorted(sales), key=lambda code: sum(sales[code].values()))


def sales(
    session: Session, first: date, last: date, channel: str | None
) -> dict[str, dict[date, int]]:
    """GMV per currency and day (days with GMV only), from the rollups."""
    return repository.gmv_by_currency_and_day(session, first, last, channel)


def converted_total(
    session: Session, target: str, by_currency: dict[str, dict[date, int]]
) -> ConvertedTotal | None:
    """The GMV of every currency in ``target``; None when there is nothing to convert."""
    others = sorted(code for code in by_currency if code != target)
    if not others:
        return None
    conversions = tuple(_convert(session, code, target, by_currency[code]) for code in others)
    own = sum(by_currency.get(target, {}).values())
    return ConvertedTotal(target, own, conversions)


def _convert(session: Session, source: str, target: str, days: dict[date, int]) -> Conversion:
    found = rates.rates(session, source, target, days)
    # Major units of the source, at the day's rate, in minor units of the target: in Decimal,
    # rounded once (half up) at the end.
    scale = minor_scale(source, target)
    exact = sum(
        (Decimal(gmv) * found[day].rate * scale for day, gmv in days.items() if day in found),
        Decimal(0),
    )
    missing = tuple(sorted(day for day in days if day not in found))
    used = [quote.rate for quote in found.values()]
    return Conversion(
        currency=source,
        gmv_minor=sum(days.values()),
        converted_minor=int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)),
        lowest_rate=min(used) if used else None,
        highest_rate=max(used) if used else None,
        sources=tuple(sorted({quote.source for quote in found.values()})),
        days_without_rate=missing,
        gmv_without_rate_minor=sum(days[day] for day in missing),
    )
