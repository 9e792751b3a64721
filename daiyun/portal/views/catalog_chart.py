"""The portfolio's scatter chart: each SKU a point by its share (x) and growth (y), the two
thresholds as lines that cut the plot into the four quadrants; laid out here, drawn as SVG by
``merchant/_scatter.html``.

As the bar charts (``portal/charts.py``), it is markup only (the CSP allows no script and no
inline style): a point's ``<title>`` is its tooltip with the exact figures, the axes have
gridlines at round percentages and say what they measure. Growth has no upper bound (a SKU new
this month grows without one), so the y-axis stops at a ceiling and a point above it sits on the
top edge, drawn hollow, its tooltip saying the real figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from daiyun.platform.storefront.portfolio import PortfolioRead, PortfolioSku, Quadrant
from daiyun.portal.charts import nice_step
from daiyun.portal.i18n import Formatter

LEFT, RIGHT, TOP, BOTTOM = 64, 16, 24, 44
# The growth axis stops here (+300 %) unless a threshold lies above it.
GROWTH_CEILING = Decimal(3)
# Codes are written beside the largest points, up to this many, skipping any that would
# overlap one already written (every point keeps its tooltip, and the table names them all).
MAX_POINT_LABELS = 12
# About how wide a code's character is at the labels' size, and a label's height.
LABEL_CHAR_WIDTH, LABEL_HEIGHT = 6.2, 12
_BP = Decimal(10_000)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    code: str
    quadrant: Quadrant
    title: str
    # Above the ceiling (or new: growth without bound), drawn on the top edge.
    clipped: bool
    label: str
    # The label's side: after the point, or before it near the plot's right edge.
    anchor: str = "start"


@dataclass(frozen=True)
class AxisTick:
    at: float
    text: str


@dataclass(frozen=True)
class Corner:
    """A quadrant's name in its corner of the plot."""

    x: float
    y: float
    anchor: str
    quadrant: Quadrant


@dataclass(frozen=True)
class Scatter:
    title: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    points: tuple[Point, ...]
    x_ticks: tuple[AxisTick, ...]
    y_ticks: tuple[AxisTick, ...]
    # Where the thresholds cut the axes, and their labels.
    share_x: float
    growth_y: float
    share_label: str
    growth_label: str
    corners: tuple[Corner, ...]


def _ticks(low: Decimal, high: Decimal, count: int) -> tuple[Decimal, Decimal, list[Decimal]]:
    """A round step and the axis's ends widened to it, with the levels between."""
    step = nice_step(high - low, count)
    start = step * math.floor(low / step)
    end = step * math.ceil(high / step)
    levels, level = [], start
    while level <= end:
        levels.append(level)
        level += step
    return start, end, levels


def _places(step: Decimal) -> int:
    """Digits a percentage of ``step`` needs (0.05 is 5 %, 0.025 is 2.5 %)."""
    scaled = (step * 100).normalize()
    exponent = scaled.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def scatter(
    portfolio: PortfolioRead,
    fmt: Formatter,
    title: str,
    *,
    width: int = 720,
    height: int = 360,
) -> Scatter:
    """The chart of the SKUs that sold in the period or the month before (an unsold SKU would
    sit at the origin and say nothing the table does not)."""
    rows: Sequence[PortfolioSku] = [
        r for r in portfolio.skus if r.gmv_minor or r.previous_gmv_minor
    ]
    share_at = Decimal(portfolio.thresholds.share_threshold_bp) / _BP
    growth_at = Decimal(portfolio.thresholds.growth_threshold_bp) / _BP
    ceiling = max(GROWTH_CEILING, growth_at * 2)
    shares = [r.share for r in rows] + [share_at * 2]
    growths = [min(r.growth, ceiling) for r in rows if r.growth is not None]
    growths += [growth_at * 2, ceiling if any(r.growth is None for r in rows) else Decimal(0)]
    x_low, x_high, x_levels = _ticks(Decimal(0), min(Decimal(1), max(shares)), 5)
    # Growth falls to -100 % at worst; the axis starts at 0 when nothing shrank.
    y_low, y_high, y_levels = _ticks(min([Decimal(0), *growths]), max(growths), 5)
    left, top, right, bottom = LEFT, TOP, width - RIGHT, height - BOTTOM

    def x_of(share: Decimal) -> float:
        return round(left + float((share - x_low) / (x_high - x_low)) * (right - left), 1)

    def y_of(growth: Decimal) -> float:
        return round(bottom - float((growth - y_low) / (y_high - y_low)) * (bottom - top), 1)

    x_places = _places(x_levels[1] - x_levels[0]) if len(x_levels) > 1 else 0
    y_places = _places(y_levels[1] - y_levels[0]) if len(y_levels) > 1 else 0
    labelled = _labelled(rows, x_of, y_of, y_high, right)
    points = []
    for row in rows:
        growth = row.growth
        clipped = growth is None or growth > y_high
        shown = y_high if clipped or growth is None else growth
        growth_text = fmt.gettext("new this month") if growth is None else fmt.percent(growth, 1)
        points.append(
            Point(
                x=x_of(row.share),
                y=y_of(shown),
                code=row.code,
                quadrant=row.quadrant,
                title=fmt.gettext(
                    "%(code)s %(name)s: share %(share)s, growth %(growth)s, GMV %(gmv)s",
                    code=row.code,
                    name=row.name,
                    share=fmt.percent(row.share, 1),
                    growth=growth_text,
                    gmv=fmt.money(row.gmv_minor, portfolio.currency),
                ),
                clipped=clipped,
                label=row.code if row.code in labelled else "",
                anchor="end" if _label_end(x_of(row.share), row.code) > right else "start",
            )
        )
    share_x, growth_y = x_of(min(share_at, x_high)), y_of(min(max(growth_at, y_low), y_high))
    corners = (
        Corner(right - 4, top + 14, "end", Quadrant.star),
        Corner(left + 6, top + 14, "start", Quadrant.question_mark),
        Corner(right - 4, bottom - 6, "end", Quadrant.cash_cow),
        Corner(left + 6, bottom - 6, "start", Quadrant.dog),
    )
    return Scatter(
        title=title,
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        points=tuple(points),
        x_ticks=tuple(AxisTick(x_of(v), fmt.percent(v, x_places)) for v in x_levels),
        y_ticks=tuple(AxisTick(y_of(v), fmt.percent(v, y_places)) for v in y_levels),
        share_x=share_x,
        growth_y=growth_y,
        share_label=fmt.gettext("share %(value)s", value=fmt.percent(share_at, 1)),
        growth_label=fmt.gettext("growth %(value)s", value=fmt.percent(growth_at, 1)),
        corners=corners,
    )


def _labelled(
    rows: Sequence[PortfolioSku],
    x_of: Callable[[Decimal], float],
    y_of: Callable[[Decimal], float],
    y_high: Decimal,
    plot_right: float,
) -> set[str]:
    """The codes to write: the largest SKUs by GMV first, each only where its label overlaps
    no label already placed."""
    placed: list[tuple[float, float, float]] = []  # (left, top, right) of each label
    chosen: set[str] = set()
    for row in sorted(rows, key=lambda r: (-r.gmv_minor, r.code)):
        if len(chosen) == MAX_POINT_LABELS:
            break
        growth = y_high if row.growth is None else min(row.growth, y_high)
        x = x_of(row.share)
        left, top = x + 7, y_of(growth) - LABEL_HEIGHT / 2
        right = _label_end(x, row.code)
        if right > plot_right:  # written before the point instead
            left, right = x - 7 - LABEL_CHAR_WIDTH * len(row.code), x - 7
        if any(
            left < end and start < right and abs(top - at) < LABEL_HEIGHT
            for start, at, end in placed
        ):
            continue
        placed.append((left, top, right))
        chosen.add(row.code)
    return chosen


def _label_end(x: float, code: str) -> float:
    """Where a code written after a point at ``x`` ends."""
    return x + 7 + LABEL_CHAR_WIDTH * len(code)
