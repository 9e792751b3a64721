"""Bar charts of daily amounts, laid out here and drawn as SVG by ``_chart.html``.

The page's CSP allows no script and no inline style, so a chart is markup only: bars with a
``<title>`` each (the browser's tooltip, read by screen readers too), a y-axis with gridlines at
round amounts, dates under the bars as often as they fit, and the amounts over the bars when
there are few enough to read. The geometry is computed here, where it can be tested, rather
than in template arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_skeleton

from daiyun.core.money import exponent
from daiyun.portal.i18n import Formatter

# Space around the plot for the axis labels (SVG user units, about pixels at full width).
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 16, 28
# A date label needs about this much width; fewer are written when the bars are narrower.
LABEL_WIDTH = 56
# Amounts are written over the bars up to this many bars (past it they would overlap).
MAX_VALUE_LABELS = 14


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    # The tooltip: the whole date and the exact amount.
    title: str
    # The amount written over the bar ("" when there are too many bars to write them all).
    value: str
    day: date


@dataclass(frozen=True)
class Tick:
    """A gridline of the y-axis at a round amount, and its label."""

    y: float
    text: str


@dataclass(frozen=True)
class DateLabel:
    x: float
    text: str


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    dates: tuple[DateLabel, ...]
    # The y-axis's unit ("CNY"), written at the top of the axis.
    unit: str


def nice_step(top: Decimal, count: int) -> Decimal:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` gridlines up to
    ``top``; at least one minor unit's worth is the caller's business."""
    if top <= 0:
        return Decimal(1)
    raw = top / count
    power = Decimal(10) ** math.floor(math.log10(raw))
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        if raw <= power * factor:
            return power * Decimal(factor)
    return power * 10  # unreachable: raw < 10 * power


def _short_date(day: date, locale: str) -> str:
    # "Oct 14" / "10月14日": the year is in the chart's period line, not under every bar.
    return format_skeleton("MMMd", day, locale=locale)


def daily_bars(
    points: Sequence[tuple[date, int]],
    currency: str,
    fmt: Formatter,
    title: str,
    *,
    width: int = 720,
    height: int = 240,
    gridlines: int = 4,
) -> BarChart:
    """The chart of one amount (minor units of ``currency``) per day."""
    left, top, right, bottom = LEFT, TOP, width - RIGHT, height - BOTTOM
    digits = exponent(currency)
    unit = Decimal(10) ** digits
    majors = [Decimal(minor) / unit for _, minor in points]
    peak = max(majors, default=Decimal(0))
    # Whole units on the axis unless the amounts are all below one (a step of 0.25 ¥ reads ill).
    step = nice_step(peak, gridlines)
    if peak >= 1:
        step = max(step, Decimal(1))
    ceiling = step * max(1, math.ceil(peak / step)) if peak > 0 else step * gridlines
    plot_height = bottom - top

    def y_of(amount: Decimal) -> float:
        return bottom - float(amount / ceiling) * plot_height

    places = 0 if step == step.to_integral_value() else min(digits, 2)
    ticks = []
    level = Decimal(0)
    while level <= ceiling:
        ticks.append(Tick(round(y_of(level), 1), fmt.number(level, places)))
        level += step

    slot = (right - left) / max(1, len(points))
    every = max(1, math.ceil(LABEL_WIDTH / slot))
    bars, dates = [], []
    write_values = len(points) <= MAX_VALUE_LABELS
    for n, ((day, minor), amount) in enumerate(zip(points, majors, strict=True)):
        x = left + n * slot
        bar_top = y_of(amount)
        money = fmt.money(minor, currency)
        bars.append(
            Bar(
                x=round(x + slot * 0.15, 1),
                y=round(bar_top, 1),
                width=round(slot * 0.7, 1),
                height=round(bottom - bar_top, 1),
                title=f"{fmt.date(day)}: {money}",
                value=fmt.number(amount, 0) if write_values and minor else "",
                day=day,
            )
        )
        # Every ``every``-th day from the first: as many dates as fit without overlapping.
        if n % every == 0:
            dates.append(DateLabel(round(x + slot / 2, 1), _short_date(day, fmt.locale)))
    return BarChart(
        title=title,
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        bars=tuple(bars),
        ticks=tuple(ticks),
        dates=tuple(dates),
        unit=currency,
    )
