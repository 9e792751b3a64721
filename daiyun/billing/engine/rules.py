"""Rounding, proration and the making of a line, shared by every step of the engine.

Rounding (BILLING.md invariant 7): every line is rounded once, to the currency's minor unit, with
``ROUND_HALF_UP`` (halves away from zero: 0.5 -> 1, -0.5 -> -1). Everything before that is
``Decimal`` in minor units, under :data:`CONTEXT`, which traps any float that strays in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import (
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    FloatOperation,
    InvalidOperation,
    Overflow,
)

from daiyun.billing.engine.wording import Message, day, english, message
from daiyun.billing.facts import Line, Period

ROUNDING = ROUND_HALF_UP
# 50 significant digits hold any product of a minor amount and a six-decimal rate exactly, and
# keep divisions (proration, shares) far below a minor unit; FloatOperation makes a float an error.
CONTEXT = Context(
    prec=50,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, FloatOperation],
)
ONE = Decimal(1)
ZERO = Decimal(0)
# The order of a statement's lines, by the part of their kind before the first colon.
LINE_ORDER = (
    "base_fee",
    "commission",
    # Sales in another currency: converted into the base, missing a rate, or left out (amount 0).
    "fx-converted",
    "fx-missing",
    "fx-excluded",
    "clawback",
    "minimum",
    "cap",
    "target",
    "ad_spend",
    "ad_markup",
    "warehousing",
    "placement",
    "one_off",
    "vat",
)


def line_rank(kind: str) -> int:
    return LINE_ORDER.index(kind.split(":", 1)[0])


def round_minor(value: Decimal) -> int:
    """The one rounding of a line: half-up to a whole minor unit."""
    return int(value.quantize(ONE, rounding=ROUNDING))


def floor_minor(value: Decimal) -> int:
    return int(value.quantize(ONE, rounding=ROUND_FLOOR))


def make_line(
    kind: str,
    said: Message,
    exact: Decimal,
    *,
    amount: int | None = None,
    basis: int = 0,
    quantity: Decimal = ONE,
    rate: Decimal | None = None,
    sources: Iterable[str] = (),
) -> Line:
    """A line rounded once from ``exact``, unless ``amount`` says how it was rounded; its
    description is its message in English (``wording``), and it keeps the message."""
    return Line(
        kind=kind,
        description=english(said),
        amount_minor=round_minor(exact) if amount is None else amount,
        basis_minor=basis,
        quantity=quantity,
        rate=rate,
        sources=tuple(sorted(set(sources))),
        exact=exact,
        message=said,
    )


@dataclass(frozen=True)
class Proration:
    """The days of ``period`` the contract is in force: monthly amounts are prorated by them."""

    period: Period
    first: date
    last: date

    @classmethod
    def of(cls, period: Period, active_from: date | None, active_until: date | None) -> Proration:
        first = max(period.first_day, active_from) if active_from else period.first_day
        last = min(period.last_day, active_until) if active_until else period.last_day
        if active_from and active_until and active_until < active_from:
            raise ValueError("the contract ends before it starts")
        if last < first:
            raise ValueError(f"the contract is not in force in {period}")
        return cls(period, first, last)

    @property
    def active_days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def full(self) -> bool:
        return self.active_days == self.period.days

    def apply(self, monthly_minor: int) -> Decimal:
        """A per-month amount for the active days (exact, not yet rounded)."""
        return Decimal(monthly_minor) * self.active_days / self.period.days

    def note(self) -> Message | None:
        """`` × 17/31 days (2026-10-15 to 2026-10-31)`` for a partial month, else nothing."""
        if self.full:
            return None
        return message(
            "prorated",
            days=self.active_days,
            month_days=self.period.days,
            first=day(self.first),
            last=day(self.last),
        )
