"""The one CSV writer: a spreadsheet never reads a written text cell as a formula, and plain values
come back as they went in."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from daiyun.core import csv_export
from daiyun.core.csv_export import DANGEROUS

# Text of every kind, biased towards what the attack looks like: a dangerous first character.
texts = st.one_of(
    st.text(),
    st.builds(lambda first, rest: first + rest, st.sampled_from(DANGEROUS), st.text()),
)
plain_texts = st.text().filter(lambda t: not t.startswith(DANGEROUS))
numbers = st.one_of(
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
)


def written(rows: list[list[object]]) -> list[list[str]]:
    """The rows written by the project's writer, read back as a spreadsheet import would."""
    out = io.StringIO()
    csv_export.writer(out).writerows(rows)
    return list(csv.reader(io.StringIO(out.getvalue(), newline="")))


@given(st.lists(st.lists(texts, min_size=1, max_size=5), min_size=1, max_size=5))
def test_no_text_cell_starts_with_a_formula_character(rows: list[list[object]]) -> None:
    for sent, got in zip(rows, written(rows), strict=True):
        assert len(got) == len(sent)
        for value, cell in zip(sent, got, strict=True):
            assert not cell.startswith(DANGEROUS), cell
            assert isinstance(value, str)
            # Neutralized means one quote in front, nothing lost.
            assert cell == (f"'{value}" if value.startswith(DANGEROUS) else value)


@given(st.lists(st.lists(plain_texts, min_size=1, max_size=5), min_size=1, max_size=5))
def test_plain_text_round_trips_unchanged(rows: list[list[object]]) -> None:
    assert written(rows) == rows


@given(st.lists(numbers, min_size=1, max_size=6))
def test_numbers_the_project_writes_stay_numbers(row: list[object]) -> None:
    """Amounts (negative ones too) are written as numbers: a spreadsheet can sum them."""
    (got,) = written([row])
    assert got == [str(value) for value in row]


def test_the_probe_payloads_are_neutralized() -> None:
    (got,) = written(
        [
            [
                "=cmd|' /C calc'!A0",
                "+1+1",
                "-2+3",
                "@SUM(A1)",
                "\t=1",
                "\r=1",
                "-12.50",
                Decimal("-12.50"),
                -3,
                None,
                True,
            ]
        ]
    )
    assert got == [
        "'=cmd|' /C calc'!A0",
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
        "'-12.50",  # text typed by someone: neutralized even though it looks like a number
        "-12.50",  # an amount the project computed: a number
        "-3",
        "",
        "True",
    ]


def test_stored_decimals_become_numbers_and_the_rest_stays_text() -> None:
    assert csv_export.number("-1.5") == Decimal("-1.5")
    assert csv_export.number("0.0500") == Decimal("0.0500")
    assert csv_export.number(None) == ""
    assert csv_export.number("") == ""
    assert csv_export.number("=1+1") == "=1+1"
    assert csv_export.number("NaN") == "NaN"
    assert csv_export.cell(csv_export.number("-Infinity")) == "'-Infinity"
    assert csv_export.cell(float("-inf")) == "'-inf"


@given(st.one_of(st.text(max_size=40), st.text(alphabet="'=+-@\tx", max_size=6)))
def test_an_imported_cell_reads_as_it_was_written(text: str) -> None:
    # The quote an export puts in front comes off on import; a quote of the text's own stays.
    assert csv_export.restore(csv_export.neutralize(text)) == text
    assert csv_export.restore("'quoted'") == "'quoted'"
    assert csv_export.restore(csv_export.neutralize("'=typed so")) == "'=typed so"
