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
from datetime import date, timedelta
from decimal import Decimal, localcontext

from daiyun.billing.engine.commission import allocate
from daiyun.billing.engine.rules import CONTEXT, ZERO, make_line, money, round_minor
from daiyun.billing.facts import ConvertedSales, Line, Period
from daiyun.billing.terms import ContractTerms, ForeignSales
from daiyun.core.money import minor_scale

# A statement line's description column holds 500 characters.
MAX_DESCRIPTION = 500


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
        text = (
            f"Sales in {currency} left out of the commission base (the contract converts no"
            f" foreign sales): {sales.orders} orders, {currency} {money(sales.base, currency)}"
        )
        return Conversion(None, (_note("fx-excluded", text, sales.orders),), ())
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
        how = f"the fixed monthly rate (the rate of {period.first_day.isoformat()})"
    else:
        how = f"the rate of each order's {terms.base.date} day"
    distinct = sorted({rate.rate for rate in rates})
    if len(rates) <= 3:
        quoted = ", ".join(f"{rate.day.isoformat()}: {rate.rate:f}" for rate in rates)
    else:
        quoted = f"{len(rates)} days, {distinct[0]:f} to {distinct[-1]:f}"
    sources = sorted({rate.source for rate in rates})
    shown = "; ".join(sources[:3]) + ("; …" if len(sources) > 3 else "")
    text = (
        f"Sales in {currency} converted into {target} at {how}: {orders} orders,"
        f" {currency} {money(base, currency)} = {target} {money(total, target)}"
        f" ({currency}/{target} {quoted or 'no rate needed'}"
        + (f"; source {shown}" if shown else "")
        + ")"
    )
    return make_line(
        "fx-converted",
        _fit(text),
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
    target = terms.currency
    if terms.foreign_sales == ForeignSales.monthly:
        lacking = f"{period.first_day.isoformat()} (the fixed monthly rate is the rate of the 1st)"
        whose = "the period"
    else:
        lacking = days_text(missing)
        whose = "those days" if len(missing) > 1 else "that day"
    text = (
        f"No {currency}/{target} exchange rate recorded for {lacking}: the {currency} sales of"
        f" {whose} ({orders} orders, {currency} {money(base, currency)}) are left out of this"
        " draft, which cannot be finalized until the rate is recorded and the draft regenerated"
    )
    return _note("fx-missing", text, orders)


def _note(kind: str, text: str, orders: int) -> Line:
    return make_line(kind, _fit(text), ZERO, amount=0, quantity=Decimal(orders))


def days_text(days: Sequence[date]) -> str:
    """``2026-12-02, 2026-12-05 to 2026-12-07``: runs of consecutive days written as ranges."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] + timedelta(days=1) == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        run[0].isoformat() if len(run) == 1 else f"{run[0].isoformat()} to {run[-1].isoformat()}"
        for run in runs
    )


def _fit(text: str) -> str:
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
