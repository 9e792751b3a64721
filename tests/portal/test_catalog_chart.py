"""The portfolio's scatter geometry: the thresholds cut the axes where their values lie, a SKU
new this month sits on the top edge drawn hollow, every point is inside the plot, and codes are
written only where they overlap no other."""

from __future__ import annotations

from decimal import Decimal

from daiyun.platform.storefront.portfolio import (
    PortfolioRead,
    PortfolioSku,
    Quadrant,
    ThresholdsRead,
)
from daiyun.portal.i18n import Formatter
from daiyun.portal.views.catalog_chart import scatter

EN = Formatter("en", "Asia/Shanghai")


def _sku(code: str, gmv: int, share: str, growth: str | None, quadrant: Quadrant) -> PortfolioSku:
    return PortfolioSku(
        code=code,
        sku_id=None,
        product_id=None,
        name=code,
        attributes={},
        in_catalog=False,
        quadrant=quadrant,
        gmv_minor=gmv,
        previous_gmv_minor=0 if growth is None else 1,
        units=1,
        share=Decimal(share),
        growth=None if growth is None else Decimal(growth),
        margin=None,
        return_rate=None,
        unit_cost_minor=None,
        path=[],
    )


def _portfolio(*skus: PortfolioSku) -> PortfolioRead:
    return PortfolioRead(
        period="2026-10",
        previous_period="2026-09",
        currency="CNY",
        thresholds=ThresholdsRead(share_threshold_bp=1000, growth_threshold_bp=1000, default=True),
        months=[],
        gmv_minor=sum(s.gmv_minor for s in skus),
        previous_gmv_minor=0,
        order_gmv_minor=0,
        refund_rate=None,
        counts={},
        skus=list(skus),
        conversions=[],
    )


def test_thresholds_points_and_labels_are_placed_on_the_axes() -> None:
    chart = scatter(
        _portfolio(
            _sku("BIG", 5000, "0.5", "0.2", Quadrant.star),
            _sku("TWIN-A", 2000, "0.2", "-0.5", Quadrant.cash_cow),
            _sku("TWIN-B", 1999, "0.2", "-0.5", Quadrant.cash_cow),  # on top of TWIN-A
            _sku("NEW", 1001, "0.1001", None, Quadrant.star),
            _sku("UNSOLD", 0, "0", "-1", Quadrant.dog),
        ),
        EN,
        "Portfolio",
    )
    by_code = {p.code: p for p in chart.points}
    # Shares from 0 to 50 %, growth from -100 % up to the 300 % ceiling.
    assert chart.x_ticks[0].text == "0%" and chart.x_ticks[-1].text == "50%"
    assert chart.y_ticks[0].text == "-100%" and chart.y_ticks[-1].text == "300%"
    width = chart.right - chart.left
    assert abs(chart.share_x - (chart.left + width * 0.2)) < 0.2  # 10 % of a 0-50 % axis
    assert abs(chart.growth_y - chart.bottom + (chart.bottom - chart.top) * 0.275) < 0.2
    assert by_code["NEW"].clipped and by_code["NEW"].y == chart.top
    assert not by_code["BIG"].clipped
    # BIG sits on the right edge: its code is written before it, inside the plot.
    assert (by_code["BIG"].anchor, by_code["TWIN-A"].anchor) == ("end", "start")
    for point in chart.points:
        assert chart.left <= point.x <= chart.right and chart.top <= point.y <= chart.bottom
    # The two at one place: only the larger is written; every point keeps its tooltip.
    assert (by_code["TWIN-A"].label, by_code["TWIN-B"].label) == ("TWIN-A", "")
    assert "share 20.0%, growth -50.0%" in by_code["TWIN-B"].title
    assert "new this month" in by_code["NEW"].title
