"""Converting sales in another currency (daiyun/billing/engine/fx.py), without a database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from daiyun.billing.engine import fx
from daiyun.billing.facts import Period
from daiyun.billing.terms import ContractTerms

DEC = Period(2026, 12)
DAILY = ContractTerms.model_validate(
    {
        "currency": "USD",
        "foreign_sales": "daily",
        "commission": {"rate": "0.1", "channel_rates": {"tmall": "0.05"}},
    }
)
MONTHLY = DAILY.model_copy(update={"foreign_sales": "monthly"})
KINDS = ("commission", "commission:channel:tmall")

days = st.integers(0, 30).map(lambda n: DEC.first_day + timedelta(days=n))
bases = st.integers(0, 10**12).map(Decimal)
day_sales = st.dictionaries(
    st.sampled_from(KINDS), st.tuples(bases, st.integers(1, 50)), min_size=1
).map(
    lambda buckets: fx.DaySales(
        buckets,
        sum((b for b, _ in buckets.values()), Decimal(0)),
        max(n for _, n in buckets.values()),
    )
)
rates = st.integers(1, 10**9).map(lambda n: Decimal(n).scaleb(-8))


def _sales(sold: dict[date, fx.DaySales]) -> fx.CurrencySales:
    return fx.CurrencySales("CNY", sold)


@given(st.dictionaries(days, day_sales, max_size=8), st.dictionaries(days, rates))
def test_the_converted_base_is_each_days_base_times_its_rate_rounded_once(
    sold: dict[date, fx.DaySales], found: dict[date, Decimal]
) -> None:
    quotes = {day: fx.Rate(day, rate, "test") for day, rate in found.items()}
    result = fx.convert(DAILY, DEC, _sales(sold), quotes)
    exact = sum((sale.base * found[day] for day, sale in sold.items() if day in found), Decimal(0))
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    converted = result.converted
    assert (converted.net_minor if converted else 0) == expected
    if converted is not None:
        # The buckets split the once-rounded base: they add up to it exactly.
        assert sum(part for part, _ in converted.buckets.values()) == expected
    # Never a guessed rate: the days with sales and no rate are the ones named.
    assert list(result.missing) == sorted(
        day for day, sale in sold.items() if sale.base > 0 and day not in found
    )
    assert bool(result.missing) == any(note.kind == "fx-missing" for note in result.notes)


@given(st.dictionaries(days, day_sales, min_size=1, max_size=8), rates, rates)
def test_the_monthly_rate_is_the_rate_of_the_first_for_every_day(
    sold: dict[date, fx.DaySales], first: Decimal, other: Decimal
) -> None:
    quotes = {day: fx.Rate(day, other, "test") for day in sold}
    quotes[DEC.first_day] = fx.Rate(DEC.first_day, first, "test")
    result = fx.convert(MONTHLY, DEC, _sales(sold), quotes)
    whole = sum((sale.base for sale in sold.values()), Decimal(0))
    expected = int((whole * first).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert (result.converted.net_minor if result.converted else 0) == expected
    assert not result.missing


def test_minor_units_of_both_currencies_are_accounted_for() -> None:
    # ¥1,000 (100,000 fen) at 21.5 JPY per CNY is ¥21,500: yen have no minor unit.
    terms = DAILY.model_copy(update={"currency": "JPY"})
    sold = {DEC.first_day: fx.DaySales({"commission": (Decimal(100_000), 1)}, Decimal(100_000), 1)}
    rate = fx.Rate(DEC.first_day, Decimal("21.5"), "test")
    result = fx.convert(terms, DEC, _sales(sold), {DEC.first_day: rate})
    assert result.converted is not None and result.converted.net_minor == 21_500


def test_missing_days_are_written_as_ranges() -> None:
    missing = [date(2026, 12, 2), date(2026, 12, 5), date(2026, 12, 6), date(2026, 12, 7)]
    assert fx.days_text(missing) == "2026-12-02, 2026-12-05 to 2026-12-07"
