"""Sales in another currency than the contract's, converted into it (pure, no I/O).

How (``ContractTerms.foreign_sales``): ``daily`` converts each day's sales at that day's rate (the
local day of each order's base date, paid or placed, in the contract's time zone); ``monthly``
converts every day of the period at the fixed monthly rate, the rate recorded for the period's
1st; ``exclude`` converts nothing and says so.

The converted base of a currency is ``Σ over days of (the day's base × the day's rate)``, exact in
``Decimal`` with the minor units of both currencies accounted for, then rounded once, half-up,
to the contract currency's minor unit (BILLING.md invariant 7): the one rounding of the
``fx-converted`` line that shows it. When the contract has channel or category rates, that
rounded base is split over the rate buckets by largest remainder, so the buckets add up to it.

A rate is never guessed: a day with sales and no rate is left out, and named on an
``fx-missing`` line (the statement cannot be finalized until it is recorded). Each rate used is
named in the ``fx-converted`` line's sources as ``rate:<from>/<to>:<day>:<rate>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from daiyun.billing.engine import wording
from daiyun.billing.engine.commission import allocate
from daiyun.billing.engine.rules import CONTEXT, ZERO, make_line, round_minor
from daiyun.billing.engine.wording import Message, message
from daiyun.billing.facts import ConvertedSales, Line, Period
from daiyun.billing.terms import ContractTerms, ForeignSales
from daiyun.core.money import minor_scale


@dataclass(frozen=True)
class Rate:
    """One unit of the sales currency was ``rate`` units of the contract's on ``day``."""

    day: date
    rate: Decimal
    source: str


@dataclass(frozen=True)
class DaySales:
    """A currency's sales dated on one local day, in that currency's minor units."""

    # rate bucket (line kind) -> (base, orders on that line)
    buckets: Mapping[str, tuple[Decimal, int]]
    base: Decimal  # the day's whole base, each order once
    orders: int  # the day's orders, each once (excluded channels left out)


@dataclass(frozen=True)
class CurrencySales:
    currency: str
    days: Mapping[date, DaySales]

    @property
    def base(self) -> Decimal:
        return sum((day.base for day in self.days.values()), ZERO)

    @property
    def orders(self) -> int:
        return sum(day.orders for day in self.days.values())


@dataclass(frozen=True)
class Conversion:
    """What a currency's sales add to a statement: the converted base (None when nothing is
    converted), the lines that say how, and the days left out for want of a rate."""

    converted: ConvertedSales | None
    notes: tuple[Line, ...]
    missing: tuple[date, ...]


def rate_day(terms: ContractTerms, period: Period, day: date) -> date:
    """The day whose rate converts a day's sales: its own, or the 1st for the monthly rate."""
    return period.first_day if terms.foreign_sales == ForeignSales.monthly else day


def rate_key(source: str, target: str, rate: Rate) -> str:
    return f"rate:{source}/{target}:{rate.day.isoformat()}:{rate.rate:f}"


def convert(
    terms: ContractTerms, period: Period, sales: CurrencySales, rates: Mapping[date, Rate]
) -> Conversion:
    """One currency's sales of ``period`` under ``terms``, with the rates found (by rate day)."""
    with localcontext(CONTEXT):
        return _convert(terms, period, sales, rates)


def _convert(
    terms: ContractTerms, period: Period, sales: CurrencySales, rates: Mapping[date, Rate]
) -> Conversion:
    currency, target = sales.currency, terms.currency
    if terms.foreign_sales == ForeignSales.exclude:
        if not sales.orders:
            return Conversion(None, (), ())
        said = message(
            "fx.excluded",
            currency=currency,
            orders=sales.orders,
            base=wording.amount(round_minor(sales.base), currency),
        )
        return Conversion(None, (_note("fx-excluded", said, sales.orders),), ())
    factor = minor_scale(currency, target)
    exact: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    used: dict[date, Rate] = {}
    missing: list[date] = []
    converted_base = ZERO
    converted_orders = left_orders = 0
    left_base = ZERO
    for day, sold in sorted(sales.days.items()):
        rate = rates.get(rate_day(terms, period, day))
        if rate is None and sold.base > 0:
            missing.append(day)
            left_base += sold.base
            left_orders += sold.orders
            continue
        converted_base += sold.base
        converted_orders += sold.orders
        for kind, (base, orders) in sold.buckets.items():
            counts[kind] = counts.get(kind, 0) + orders
            if rate is not None and base:
                used[rate.day] = rate
                exact[kind] = exact.get(kind, ZERO) + base * rate.rate * factor
    whole = sum(exact.values(), ZERO)
    total = round_minor(whole)
    parts = allocate(total, sorted(exact.items()))
    buckets = {
        kind: (parts.get(kind, 0), orders)
        for kind, orders in sorted(counts.items())
        if (parts.get(kind, 0), orders) != (0, 0)
    }
    notes = []
    if buckets:
        notes.append(
            _converted_line(terms, period, sales, used, converted_base, converted_orders, total)
        )
    if missing:
        notes.append(_missing_line(terms, period, currency, missing, left_base, left_orders))
    converted = ConvertedSales(currency, buckets, total) if buckets else None
    return Conversion(converted, tuple(notes), tuple(missing))


def _converted_line(
    terms: ContractTerms,
    period: Period,
    sales: CurrencySales,
    used: Mapping[date, Rate],
    base: Decimal,
    orders: int,
    total: int,
) -> Line:
    currency, target = sales.currency, terms.currency
    rates = [used[day] for day in sorted(used)]
    if terms.foreign_sales == ForeignSales.monthly:
        how = message("fx.how.monthly", day=wording.day(period.first_day))
    else:
        how = message("fx.how.daily", date={"word": terms.base.date})
    distinct = sorted({rate.rate for rate in rates})
    quoted: Message | dict[str, object]
    if not rates:
        quoted = message("fx.no_rate")
    elif len(rates) <= 3:
        quoted = wording.joined(
            [
                message("fx.rate", day=wording.day(rate.day), rate=wording.decimal(rate.rate))
                for rate in rates
            ],
            "comma",
        )
    else:
        quoted = message(
            "fx.rates",
            count=len(rates),
            low=wording.decimal(distinct[0]),
            high=wording.decimal(distinct[-1]),
        )
    sources = sorted({rate.source for rate in rates})
    shown = [*sources[:3], *(["…"] if len(sources) > 3 else [])]
    said = message(
        "fx.converted",
        currency=currency,
        target=target,
        how=how,
        orders=orders,
        base=wording.amount(round_minor(base), currency),
        total=wording.amount(total, target),
        quoted=quoted,
        source=message("fx.source", sources=wording.joined(shown, "semicolon")) if shown else None,
    )
    return make_line(
        "fx-converted",
        said,
        ZERO,
        amount=0,
        basis=total,
        quantity=Decimal(orders),
        # Not in ``rate``: readers print a line's rate as a percentage of its basis.
        rate=None,
        sources=[rate_key(currency, target, rate) for rate in rates],
    )


def _missing_line(
    terms: ContractTerms,
    period: Period,
    currency: str,
    missing: Sequence[date],
    base: Decimal,
    orders: int,
) -> Line:
    values = {
        "currency": currency,
        "target": terms.currency,
        "orders": orders,
        "base": wording.amount(round_minor(base), currency),
    }
    if terms.foreign_sales == ForeignSales.monthly:
        said = message("fx.missing.monthly", day=wording.day(period.first_day), **values)
    else:
        key = "fx.missing.days" if len(missing) > 1 else "fx.missing.day"
        said = message(key, days=wording.days(missing), **values)
    return _note("fx-missing", said, orders)


def _note(kind: str, said: Message, orders: int) -> Line:
    return make_line(kind, said, ZERO, amount=0, quantity=Decimal(orders))


def days_text(days: Sequence[date]) -> str:
    """``2026-12-02, 2026-12-05 to 2026-12-07``: runs of consecutive days written as ranges."""
    return wording.say_days(days, wording.ENGLISH)
