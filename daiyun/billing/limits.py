"""The bounds on every amount billing accepts and every sum it makes (issue 13).

A statement is stored in ``BIGINT`` columns (at most 2^63 − 1 ≈ 9.2 × 10^18) and read by
clients that may hold numbers as doubles (exact to 2^53 ≈ 9.0 × 10^15). The bounds are chosen
so that nothing billing adds up can reach either:

* each amount of a contract or of a service fact is at most ``MAX_AMOUNT_MINOR`` (10^12 minor
  units: 10 billion yuan or dollars, a trillion yen);
* a service fact's quantity is at most ``MAX_QUANTITY`` (10^9, four decimal places), so
  quantity × unit fee stays below 10^21, exact in ``Decimal``'s 28 digits;
* a month takes at most ``MAX_SERVICE_FACTS_PER_PERIOD`` service facts (10,000), so their sum
  stays below 10^25 before the statement bound below refuses it;
* every line's amount and basis, a statement's total and its credit carried forward are within
  ``MAX_STATEMENT_MINOR`` (10^15) either way: a statement that would go beyond is refused with
  422 ``amount-out-of-range`` saying which line, instead of being stored (or overflowing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from daiyun.core.errors import Problem

MAX_AMOUNT_MINOR = 10**12
MAX_QUANTITY = Decimal(10**9)
MAX_SERVICE_FACTS_PER_PERIOD = 10_000
MAX_STATEMENT_MINOR = 10**15
# The dates billing takes: those of the periods it bills (``Period.parse``: 2000-01 to 2999-12).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)


def check_statement(period: Any, lines: Sequence[Any], total: int, credit: int) -> None:
    """Refuse (422 ``amount-out-of-range``) a computed statement with a line, a total or a
    credit beyond ``MAX_STATEMENT_MINOR``: it would not fit what stores and reads it."""
    for position, line in enumerate(lines):
        for what, value in (("amount", line.amount_minor), ("basis", line.basis_minor)):
            if abs(value) > MAX_STATEMENT_MINOR:
                raise Problem(
                    422,
                    "amount-out-of-range",
                    f"The statement of {period} would have a {what} of {value:,} minor units "
                    f"on line {position} ({line.kind}), beyond the {MAX_STATEMENT_MINOR:,} a "
                    "statement may hold: correct the facts or terms behind it",
                )
    for what, value in (("total", total), ("credit carried forward", credit)):
        if abs(value) > MAX_STATEMENT_MINOR:
            raise Problem(
                422,
                "amount-out-of-range",
                f"The statement of {period} would have a {what} of {value:,} minor units, "
                f"beyond the {MAX_STATEMENT_MINOR:,} a statement may hold",
            )
