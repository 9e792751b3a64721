"""Each SKU's daily sales, read from the rollups for the departments that analyse products (the
catalog's portfolio): what the dashboard's best sellers are summed from, by day and currency.

A SKU here is the SKU string of the order lines (the marketplace's SKU field, which the merchant
fills with their own code); which catalog SKU it is stays the catalog's business.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from daiyun.core.errors import Problem
from daiyun.core.tenancy import TenantContextMissing, current_tenant
from daiyun.platform.reports import currencies, repository


@dataclass(frozen=True)
class SkuDay:
    """One SKU string's paid sales in one shop on one local day in one currency, the shop's
    channels summed; in the home currency, which needs no rate, a calendar month's days are
    summed under its first day (a twentieth of the rows to read)."""

    sku: str
    currency: str
    day: date
    quantity: int
    revenue_minor: int  # line totals after line discounts
    title: str
    shop_id: uuid.UUID
    returned_units: int  # of the units sold, those refunded since


@dataclass(frozen=True)
class ProductSales:
    """The bound tenant's SKU sales over some days, and the currency its dashboard shows them
    in (its own when it sold in it, else the one it sold most in)."""

    currency: str
    days: tuple[SkuDay, ...]
    # The tenant's GMV and refunds of its orders in ``currency`` in the days (orders, not
    # lines), and its GMV in every currency converted into it at each day's rate (the days
    # without a rate left out, as the dashboard's converted total does).
    gmv_minor: int
    refunded_minor: int
    all_currencies_gmv_minor: int


def bound_product_sales(
    session: Session, first: date, last: date, *, currency_from: date | None = None
) -> ProductSales:
    """SKU sales of days ``first`` to ``last`` of the bound tenant; the home currency is chosen
    over days ``currency_from`` (default ``first``) to ``last``, so a report of one month
    can read the months before it without their sales choosing its currency."""
    tenant_id = current_tenant(session)
    if tenant_id is None:
        raise TenantContextMissing("product sales are read for a bound tenant")
    tenant = repository.tenant(session, tenant_id)
    if tenant is None:
        raise Problem(404, "not-found", "No such tenant")
    chosen_over = currencies.sales(session, currency_from or first, last, None)
    currency = currencies.home_currency(tenant.default_currency, chosen_over)
    rows = repository.sales_rows(session, currency_from or first, last, currency, None)
    return ProductSales(
        currency=currency,
        days=tuple(SkuDay(*row) for row in _rows(session, first, last, currency)),
        gmv_minor=sum(row.gmv_minor for row in rows),
        refunded_minor=sum(row.refunded_minor for row in rows),
        all_currencies_gmv_minor=converted.total_minor
        if (converted := currencies.converted_total(session, currency, chosen_over))
        else sum(row.gmv_minor for row in rows),
    )


def _rows(
    session: Session, first: date, last: date, currency: str
) -> list[tuple[str, str, date, int, int, str, uuid.UUID, int]]:
    """The home currency's sales per calendar month, the other currencies' per day."""
    rows = repository.product_sales(session, first, last, currency, by_day=True)
    start = first
    while start <= last:
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = min(last, following - timedelta(days=1))
        rows += repository.product_sales(session, start, end, currency, by_day=False)
        start = following
    return rows
