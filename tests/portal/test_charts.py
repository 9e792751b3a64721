"""The daily GMV chart reads without the table: a y-axis with gridlines at round amounts that
reach past the highest bar, every bar's day and amount as its tooltip, dates under the bars as
often as they fit without overlapping, and the amounts over the bars when there are few."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from daiyun.portal.charts import LABEL_WIDTH, daily_bars, nice_step
from daiyun.portal.i18n import Formatter

EN = Formatter("en", "Asia/Shanghai")
ZH = Formatter("zh_CN", "Asia/Shanghai")
OCTOBER = [date(2026, 10, 1) + timedelta(days=n) for n in range(31)]


@pytest.mark.parametrize(
    ("top", "count", "step"),
    [
        (Decimal(9876), 4, Decimal(2500)),
        (Decimal(100), 4, Decimal(25)),
        (Decimal("0.8"), 4, Decimal("0.2")),
        (Decimal(4), 4, Decimal(1)),
        (Decimal(0), 4, Decimal(1)),
    ],
)
def test_gridlines_fall_on_round_amounts(top: Decimal, count: int, step: Decimal) -> None:
    assert nice_step(top, count) == step


def test_a_month_has_an_axis_above_its_highest_day_and_readable_dates() -> None:
    points = [(day, (n * 7919 % 31) * 100_00) for n, day in enumerate(OCTOBER)]
    chart = daily_bars(points, "CNY", EN, "Daily GMV (CNY)")
    texts = [tick.text for tick in chart.ticks]
    assert texts[0] == "0" and len(texts) >= 3
    highest = max(amount for _, amount in points) / 100
    assert float(texts[-1].replace(",", "")) >= highest
    # The tallest bar reaches no higher than the top gridline, and the axis is upright.
    assert min(bar.y for bar in chart.bars) >= chart.ticks[-1].y
    assert [t.y for t in chart.ticks] == sorted((t.y for t in chart.ticks), reverse=True)
    # Every day has its bar and tooltip; dates are spread so that none overlaps the next.
    assert len(chart.bars) == 31
    assert chart.bars[13].title == f"Oct 14, 2026: {EN.money(points[13][1], 'CNY')}"
    assert len(chart.dates) > 2
    gaps = [b.x - a.x for a, b in zip(chart.dates, chart.dates[1:], strict=False)]
    assert min(gaps) >= LABEL_WIDTH
    assert chart.dates[0].text == "Oct 1"
    # Thirty-one amounts would overlap: the tooltips carry them.
    assert all(bar.value == "" for bar in chart.bars)


def test_a_week_writes_its_amounts_and_dates_in_the_readers_language() -> None:
    points = [(day, 1234_56 * (n + 1)) for n, day in enumerate(OCTOBER[:7])]
    chart = daily_bars(points, "CNY", ZH, "每日成交额")
    assert [bar.value for bar in chart.bars][:2] == ["1,235", "2,469"]
    assert [label.text for label in chart.dates][:2] == ["10月1日", "10月2日"]


def test_the_svg_needs_no_script_or_inline_style() -> None:
    from daiyun.portal.web import templates

    html = templates.get_template(
        "_chart.html"
    ).module.bar_chart(  # type: ignore[attr-defined]
        daily_bars([(day, 1000) for day in OCTOBER[:3]], "CNY", EN, "Daily GMV")
    )
    assert "<script" not in html and "style=" not in html
    assert html.count("<title>") == 1 + 3  # the chart's, and each bar's
    assert re.search(r'<text[^>]*class="tick unit">CNY</text>', html)
