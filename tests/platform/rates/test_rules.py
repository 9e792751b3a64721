"""Reading rates and rate files: exact, canonical, refused when implausible."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daiyun.platform.rates import rules
from daiyun.platform.rates.rules import Quote, RateError


def test_a_rate_is_kept_exact_and_written_canonically() -> None:
    assert rules.text(rules.rate("7.12340")) == "7.1234"
    assert rules.text(rules.rate("7E+1")) == "70"
    assert rules.text(rules.rate(" 0.000150 ")) == "0.00015"


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "NaN", "Infinity", "2000000", "0.0000001"])
def test_an_implausible_rate_is_refused(bad: str) -> None:
    with pytest.raises(RateError):
        rules.rate(bad)


def test_a_file_is_read_whole_or_refused_naming_the_line() -> None:
    content = "day,base,quote,rate\n2026-12-01,usd,CNY,7.12\n\n2026-12-02,USD,CNY,7.13\n"
    quotes = rules.parse_csv(content, "bank")
    assert quotes == [
        Quote("USD", "CNY", date(2026, 12, 1), Decimal("7.12"), "bank"),
        Quote("USD", "CNY", date(2026, 12, 2), Decimal("7.13"), "bank"),
    ]
    for bad, line in [
        ("day,base,quote,rate\n2026-12-01,USD,CNY,7.12\n2026-13-01,USD,CNY,7\n", "line 3"),
        ("day,base,quote,rate\n2026-12-01,USD,CNY,7.12\n2026-12-01,USD,CNY,7.2\n", "line 3"),
        ("day,base,quote,rate\n2026-12-01,USD,USD,1\n", "line 2"),
        ("day,base,quote,rate\n2026-12-01,DOLLAR,CNY,7\n", "line 2"),
        ("day,base,quote,rate\n2026-12-01,USD,CNY\n", "line 2"),
    ]:
        with pytest.raises(RateError, match=line):
            rules.parse_csv(bad, "bank")
    with pytest.raises(RateError, match="columns"):
        rules.parse_csv("date,from,to,value\n", "bank")


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=6))
def test_a_rate_read_the_other_way_converts_back_within_a_minor_unit(value: Decimal) -> None:
    quote = Quote("USD", "CNY", date(2026, 12, 1), rules.rate(value), "bank")
    back = rules.inverted(quote)
    assert (back.base, back.quote) == ("CNY", "USD")
    # The largest amount a statement holds (10^12 minor units) survives the round trip to
    # within one minor unit per 10^11: far below what rounding a line keeps.
    amount = Decimal(10) ** 12
    assert abs(amount * quote.rate * back.rate - amount) <= amount / Decimal(10) ** 10
