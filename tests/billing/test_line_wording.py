"""Every statement line keeps what it says as a message key and its values (engine.wording):
stored as JSON and said again in English, it is the line's description, word for word."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daiyun.billing.engine import adjustment, fx, wording
from daiyun.billing.engine.commission import clawback_lines
from daiyun.billing.facts import BilledOrder, Line, RefundFact
from tests.billing.test_engine import Case, cases
from tests.billing.test_fx import DAILY, DEC, _sales, day_sales, days, rates


def _said_again(line: Line) -> str:
    assert line.message is not None, line.kind
    # What the database keeps is JSON: the message survives it, and says the same.
    stored = json.loads(json.dumps(line.message))
    assert stored["key"] in wording.MESSAGES
    return wording.english(stored)


@given(cases())
def test_each_line_says_its_description_from_its_message(case: Case) -> None:
    statement = case.run()
    for line in statement.lines:
        assert _said_again(line) == line.description
    orders = case.facts.orders
    late = adjustment(
        case.terms,
        case.period,
        orders[: len(orders) // 2],
        case.facts.refunds,
        case.facts.services,
        orders[len(orders) // 2 :],
        billed_before=case.billed,
    )
    for line in late:
        assert _said_again(line) == line.description


@given(
    st.dictionaries(days, day_sales, max_size=8),
    st.dictionaries(days, rates),
    st.sampled_from(["daily", "monthly", "exclude"]),
)
def test_foreign_sales_notes_say_their_description_from_their_message(
    sold: dict[date, fx.DaySales], found: dict[date, Decimal], how: str
) -> None:
    terms = DAILY.model_copy(update={"foreign_sales": how})
    quotes = {day: fx.Rate(day, rate, "test") for day, rate in found.items()}
    for note in fx.convert(terms, DEC, _sales(sold), quotes).notes:
        assert _said_again(note) == note.description


def test_a_converted_orders_clawback_says_its_own_currency() -> None:
    refund = RefundFact("r1", "o1", "tmall", datetime(2026, 12, 3, tzinfo=UTC), 50_000)
    billed = {"o1": BilledOrder("o1", 100_000, 1_400, currency="CNY")}
    (line,), _ = clawback_lines(DAILY, [refund], billed)
    assert line.message is not None and line.message["key"] == "clawback.converted"
    assert line.message["values"]["amount"] == {"money": 50_000, "currency": "CNY"}
    assert _said_again(line) == line.description


def test_the_values_keep_figures_not_text() -> None:
    sold = {DEC.first_day: fx.DaySales({"commission": (Decimal(123_456), 2)}, Decimal(123_456), 2)}
    missing = fx.convert(DAILY, DEC, _sales(sold), {}).notes[0].message
    assert missing == {
        "key": "fx.missing.day",
        "values": {
            "currency": "CNY",
            "target": "USD",
            "orders": 2,
            "base": {"money": 123_456, "currency": "CNY"},
            "days": {"days": ["2026-12-01"]},
        },
    }


@pytest.mark.parametrize(
    "stored",
    [
        {"key": "a message of a later version", "values": {}},
        {"key": "vat", "values": {"rate": {"rate": "0.06"}, "base": {"money": "12.5"}}},
        {"key": "vat", "values": {"rate": {"percentage": "6"}, "base": 1}},
        {"key": "vat", "values": ["not", "a", "mapping"]},
    ],
)
def test_a_message_this_version_cannot_read_is_refused_not_guessed(stored: object) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        wording.say(stored, wording.ENGLISH)  # type: ignore[arg-type]
