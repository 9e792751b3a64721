"""Portfolio analysis (BCG 矩阵): each SKU's place among the tenant's products in a month.

**Figures**, per SKU and calendar month (the tenant's time zone, as the rollups keep days), all
read from the daily rollups (``daiyun.platform.reports``), never from the order book:

* GMV: the SKU's line totals after line discounts on paid orders; units: the quantity sold;
* share: the SKU's GMV over the GMV of every SKU the tenant sold that month (so the shares sum to
  100 %; shipping and order-level discounts belong to no SKU and are left out);
* growth: (GMV this month - GMV last month) / GMV last month; none when the SKU sold nothing
  last month;
* margin: (GMV - cost x units) / GMV, with the SKU's cost (a bundle's derived from its parts),
  when the cost is in the currency shown;
* return rate: the units of the month's orders refunded since (the refunds' lines name the SKU
  and quantity; a refund without lines counts for no SKU) over the units sold; and the tenant's
  refund rate of the month (refunded / GMV of its orders in the currency shown).

**Currency.** A portfolio is shown in the currency the tenant's dashboard opens in for that month
(its own, else the one it sold most in). Sales in other currencies join each SKU at each day's
recorded rate (``daiyun.platform.rates``), summed exactly and rounded once per SKU and month; a
day without a rate is left out and named, as the dashboard's converted totals do.

**Quadrants**, by the tenant's thresholds (``catalog_settings``; 10 % share and 10 % growth when
it has set none), a threshold reached counting as high:

* 潜力产品 star: high share, high growth;      * 畅销品 cash cow: high share, low growth;
* 不确定 question mark: low share, high growth; * 滞销品 dog: low share, low growth.

A SKU new this month (sales now, none last month) grows without bound: high growth. A SKU sold in
neither month is a dog; in a SKU's path over the last six months, such a month has no place. The
comparisons are made on integers (GMV x 10,000 against threshold x total), so a SKU exactly on a
threshold is placed the same on every database and in every test.

**Which SKU.** A rollup names a SKU by the order lines' SKU text in a shop; it is the catalog SKU
order lines are matched to (the shop's mapping, else its listing with that marketplace SKU id,
else the SKU with that code). Strings matching no SKU are listed too (``in_catalog`` false), so no
GMV is lost.
"""

from __future__ import annotations

import calendar
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.money import minor_scale
from daiyun.core.tenancy import current_tenant
from daiyun.platform.rates import service as rates
from daiyun.platform.reports import products as product_sales
from daiyun.platform.storefront import costs
from daiyun.platform.storefront.models import CatalogSettings, Listing, Product, Sku, SkuMapping
from daiyun.platform.storefront.schemas import CatalogStatus

# The defaults, in basis points (1000 = 10.00 %), when a tenant has set no thresholds.
DEFAULT_SHARE_BP = 1000
DEFAULT_GROWTH_BP = 1000
# How many months a SKU's path covers, the asked month last.
PATH_MONTHS = 6
_BP = 10_000
_RATIO = Decimal("0.0001")


class Quadrant(StrEnum):
    """Where a SKU stands: by its share of the tenant's GMV and its growth."""

    star = "star"  # 潜力产品: high share, high growth
    cash_cow = "cash_cow"  # 畅销品: high share, low growth
    question_mark = "question_mark"  # 不确定: low share, high growth
    dog = "dog"  # 滞销品: low share, low growth


# --------------------------------------------------------------------------------------------
# Months
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; anything else is a 422 naming the text."""
        try:
            first = date.fromisoformat(f"{text}-01")
        except ValueError as exc:
            raise Problem(422, "invalid-period", f"A period is YYYY-MM, not {text!r}") from exc
        if first.year < 2000:
            raise Problem(422, "invalid-period", "A period is from 2000 on")
        return cls(first.year, first.month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_of(day: date) -> Month:
    return Month(day.year, day.month)


# --------------------------------------------------------------------------------------------
# The API's shapes
# --------------------------------------------------------------------------------------------


def _whole_number(value: object) -> object:
    # JSON true is not a number and "1000" is text: pydantic would take both; 1000.0 is 1000.
    if isinstance(value, bool | str):
        raise ValueError("must be a whole number")
    return value


# The bounds first, so the document states them (a validator before them would hide them).
ShareBp = Annotated[
    int,
    Field(ge=0, le=_BP, description="Basis points of the tenant's GMV (1000 = 10 %)"),
    BeforeValidator(_whole_number),
]
GrowthBp = Annotated[
    int,
    Field(
        ge=-_BP,
        le=100 * _BP,
        description="Basis points of growth on the month before (1000 = +10 %), -100 % to 10000 %",
    ),
    BeforeValidator(_whole_number),
]


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share_threshold_bp: ShareBp
    growth_threshold_bp: GrowthBp


class ThresholdsRead(BaseModel):
    share_threshold_bp: int
    growth_threshold_bp: int
    # True while the tenant has set none and the documented defaults apply.
    default: bool


class PortfolioSku(BaseModel):
    """One SKU's figures in the month, its quadrant, and its quadrant in each month of the
    path (None: it sold in neither that month nor the one before)."""

    code: str
    sku_id: uuid.UUID | None
    product_id: uuid.UUID | None
    name: str
    attributes: dict[str, str]
    in_catalog: bool
    quadrant: Quadrant
    gmv_minor: int
    previous_gmv_minor: int
    units: int
    share: Decimal = Field(description="Of the month's GMV of all SKUs, a fraction to 4 places")
    growth: Decimal | None = Field(description="On the month before; none when it sold nothing")
    margin: Decimal | None = Field(description="(GMV - cost x units) / GMV; none without a cost")
    return_rate: Decimal | None = Field(
        description="Units of the month's orders refunded since / units sold; none without sales"
    )
    unit_cost_minor: int | None
    path: list[Quadrant | None]


class ConversionRead(BaseModel):
    """Sales in another currency joined at each day's rate, and the days without one."""

    currency: str
    lowest_rate: Decimal | None
    highest_rate: Decimal | None
    sources: list[str]
    days_without_rate: list[date]


class PortfolioRead(BaseModel):
    period: str
    previous_period: str
    currency: str
    thresholds: ThresholdsRead
    # The months of every SKU's path, oldest first (the period last).
    months: list[str]
    gmv_minor: int = Field(description="GMV of all SKUs in the period")
    previous_gmv_minor: int
    order_gmv_minor: int = Field(
        description="GMV of the period's orders, shipping included, every currency converted"
    )
    refund_rate: Decimal | None = Field(
        description="Refunded / GMV of the tenant's orders in the currency shown"
    )
    counts: dict[Quadrant, int]
    skus: list[PortfolioSku]
    conversions: list[ConversionRead]


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


def thresholds(session: Session) -> ThresholdsRead:
    """The bound tenant's thresholds, or the defaults when it has set none."""
    row = session.scalar(select(CatalogSettings))
    if row is None:
        return ThresholdsRead(
            share_threshold_bp=DEFAULT_SHARE_BP, growth_threshold_bp=DEFAULT_GROWTH_BP, default=True
        )
    return ThresholdsRead(
        share_threshold_bp=row.portfolio_share_threshold_bp,
        growth_threshold_bp=row.portfolio_growth_threshold_bp,
        default=False,
    )


def set_thresholds(session: Session, body: ThresholdsIn) -> ThresholdsRead:
    """Set the bound tenant's thresholds (audited with the values before and after)."""
    before = thresholds(session)
    # Locked: two changes at once leave the later one, not a failed insert.
    row = session.scalar(select(CatalogSettings).with_for_update())
    if row is None:
        row = CatalogSettings()
        session.add(row)
    row.portfolio_share_threshold_bp = body.share_threshold_bp
    row.portfolio_growth_threshold_bp = body.growth_threshold_bp
    session.flush()
    audit.record(
        session,
        "catalog.portfolio.thresholds",
        f"tenant:{current_tenant(session)}",
        {
            "share_threshold_bp": [before.share_threshold_bp, body.share_threshold_bp],
            "growth_threshold_bp": [before.growth_threshold_bp, body.growth_threshold_bp],
        },
    )
    return thresholds(session)


def place(gmv: int, previous: int, total: int, limits: ThresholdsRead) -> Quadrant:
    """The quadrant of a SKU with ``gmv`` this month (``previous`` the month before) among
    SKUs selling ``total``, compared on integers (see the module docstring)."""
    high_share = total > 0 and gmv * _BP >= limits.share_threshold_bp * total
    if previous > 0:
        high_growth = (gmv - previous) * _BP >= limits.growth_threshold_bp * previous
    else:
        high_growth = gmv > 0  # new this month: growth without bound
    if high_share:
        return Quadrant.star if high_growth else Quadrant.cash_cow
    return Quadrant.question_mark if high_growth else Quadrant.dog


def _ratio(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_RATIO, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------------------------
# The analysis
# --------------------------------------------------------------------------------------------


@dataclass
class _Monthly:
    """Per month and SKU code: GMV in the shown currency, units, and the units behind that
    GMV (a day in another currency without a rate counts units but no GMV)."""

    gmv: dict[Month, dict[str, int]]
    units: dict[Month, dict[str, int]]
    returned: dict[Month, dict[str, int]]
    priced_units: dict[Month, dict[str, int]]
    titles: dict[str, str]
    conversions: list[ConversionRead]


def _monthly(
    session: Session, sales: product_sales.ProductSales, code_of: dict[tuple[uuid.UUID, str], str]
) -> _Monthly:
    target = sales.currency
    exact: dict[tuple[Month, str, str], Decimal] = defaultdict(Decimal)
    units: dict[Month, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    returned: dict[Month, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    priced: dict[Month, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    titles: dict[str, str] = {}
    days_by_currency: dict[str, set[date]] = defaultdict(set)
    for row in sales.days:
        days_by_currency[row.currency].add(row.day)
    found = {
        code: rates.rates(session, code, target, days) for code, days in days_by_currency.items()
    }
    conversions = []
    for code in sorted(c for c in found if c != target):
        used = found[code].values()
        conversions.append(
            ConversionRead(
                currency=code,
                lowest_rate=min((q.rate for q in used), default=None),
                highest_rate=max((q.rate for q in used), default=None),
                sources=sorted({q.source for q in used}),
                days_without_rate=sorted(days_by_currency[code] - set(found[code])),
            )
        )
    for row in sales.days:
        month = month_of(row.day)
        # The catalog SKU the shop's string stands for, else the string as it is.
        key = code_of.get((row.shop_id, row.sku), row.sku)
        titles.setdefault(key, row.title)
        units[month][key] += row.quantity
        returned[month][key] += row.returned_units
        quote = found[row.currency].get(row.day)
        if quote is None:
            continue
        scale = minor_scale(row.currency, target)
        exact[(month, key, row.currency)] += Decimal(row.revenue_minor) * quote.rate * scale
        priced[month][key] += row.quantity
    gmv: dict[Month, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (month, sku, _), amount in exact.items():
        # Rounded once per SKU, month and currency: a converted SKU never gains a cent a day.
        gmv[month][sku] += int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return _Monthly(gmv, units, returned, priced, titles, conversions)


@dataclass(frozen=True)
class _CatalogSku:
    sku_id: uuid.UUID
    product_id: uuid.UUID
    code: str
    name: str
    attributes: dict[str, str]
    currency: str
    cost_minor: int | None
    status: CatalogStatus


def _catalog(
    session: Session, sold: set[tuple[uuid.UUID, str]]
) -> tuple[dict[str, _CatalogSku], dict[tuple[uuid.UUID, str], str]]:
    """The catalog SKUs sold (by a shop's SKU string) and every SKU on sale (an unsold one is
    a dog), by code; and the code each sold (shop, string) stands for, as order lines are
    matched (``storefront.matching``): the shop's mapping, else its listing with that
    marketplace SKU id (the oldest), else the SKU with that code."""
    strings = {text for _, text in sold}
    by_string: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    listed = select(Listing.shop_id, Listing.external_sku_id, Listing.sku_id).where(
        Listing.external_sku_id.in_(strings)
    )
    for shop_id, text, sku_id in session.execute(listed.order_by(Listing.id.desc())):
        if text is not None:
            by_string[(shop_id, text)] = sku_id  # the oldest listing written last, so it answers
    mapped = select(SkuMapping.shop_id, SkuMapping.marketplace_sku, SkuMapping.sku_id).where(
        SkuMapping.marketplace_sku.in_(strings)
    )
    for shop_id, text, sku_id in session.execute(mapped):
        by_string[(shop_id, text)] = sku_id  # a mapping comes first
    ids = set(by_string.values())
    stmt = select(Sku, Product.name).join(
        Product, (Product.tenant_id == Sku.tenant_id) & (Product.id == Sku.product_id)
    )
    rows = [
        (sku, name)
        for sku, name in session.execute(stmt)
        if sku.code in strings or sku.id in ids or sku.status == CatalogStatus.active
    ]
    code_by_id = {sku.id: sku.code for sku, _ in rows}
    # A string that is a code needs no entry: it stands for itself.
    code_of = {key: code_by_id[sku_id] for key, sku_id in by_string.items() if sku_id in code_by_id}
    graph = costs.load(session, {sku.id for sku, _ in rows})
    found = {}
    for sku, name in rows:
        try:
            cost: int | None = graph.cost(sku.id)
        except Problem:  # a bundle two concurrent changes made circular: no cost to read
            cost = None
        found[sku.code] = _CatalogSku(
            sku.id,
            sku.product_id,
            sku.code,
            name,
            {str(k): str(v) for k, v in (sku.attributes or {}).items()},
            sku.currency,
            cost,
            sku.status,
        )
    return found, code_of


def analyse(session: Session, period: Month) -> PortfolioRead:
    """The bound tenant's portfolio in ``period``, with each SKU's path over the months up to
    it (see the module docstring)."""
    limits = thresholds(session)
    months = [period.shift(n) for n in range(1 - PATH_MONTHS, 1)]
    window_start = months[0].shift(-1)
    sales = product_sales.bound_product_sales(
        session, window_start.first, period.last, currency_from=period.first
    )
    catalog, code_of = _catalog(session, {(row.shop_id, row.sku) for row in sales.days})
    monthly = _monthly(session, sales, code_of)
    previous = period.shift(-1)
    sold = {code for month in monthly.units.values() for code in month}
    totals = {m: sum(monthly.gmv[m].values()) for m in [window_start, *months]}

    def quadrant_in(month: Month, code: str) -> Quadrant | None:
        now, before = monthly.gmv[month].get(code, 0), monthly.gmv[month.shift(-1)].get(code, 0)
        sold_then = code in monthly.units[month] or code in monthly.units[month.shift(-1)]
        return place(now, before, totals[month], limits) if sold_then else None

    rows = []
    for code in sorted(sold | set(catalog)):
        known = catalog.get(code)
        gmv = monthly.gmv[period].get(code, 0)
        before = monthly.gmv[previous].get(code, 0)
        units = monthly.units[period].get(code, 0)
        margin = unit_cost = None
        if known is not None and known.cost_minor is not None and known.currency == sales.currency:
            unit_cost = known.cost_minor
            priced = monthly.priced_units[period].get(code, 0)
            margin = _ratio(gmv - unit_cost * priced, gmv)
        rows.append(
            PortfolioSku(
                code=code,
                sku_id=known.sku_id if known else None,
                product_id=known.product_id if known else None,
                name=known.name if known else monthly.titles.get(code, code),
                attributes=known.attributes if known else {},
                in_catalog=known is not None,
                quadrant=place(gmv, before, totals[period], limits),
                gmv_minor=gmv,
                previous_gmv_minor=before,
                units=units,
                share=_ratio(gmv, totals[period]) or Decimal(0),
                growth=_ratio(gmv - before, before),
                margin=margin,
                return_rate=_ratio(monthly.returned[period].get(code, 0), units),
                unit_cost_minor=unit_cost,
                path=[quadrant_in(month, code) for month in months],
            )
        )
    rows.sort(key=lambda r: (-r.gmv_minor, -r.previous_gmv_minor, r.code))
    counts = dict.fromkeys(Quadrant, 0)
    for row in rows:
        counts[row.quadrant] += 1
    return PortfolioRead(
        period=str(period),
        previous_period=str(previous),
        currency=sales.currency,
        thresholds=limits,
        months=[str(m) for m in months],
        gmv_minor=totals[period],
        previous_gmv_minor=totals[previous],
        order_gmv_minor=sales.all_currencies_gmv_minor,
        refund_rate=_ratio(sales.refunded_minor, sales.gmv_minor),
        counts=counts,
        skus=rows,
        conversions=monthly.conversions,
    )
