"""Catalog work across the staff member's merchants (店铺/商品): each merchant's catalog at a
glance (SKUs on sale, this month's portfolio by quadrant), read in one unit of work per tenant
where the user's role there grants ``catalog:read``.

A merchant whose catalog cannot be read (its tenant refuses, say) shows no figures rather than
failing the page, as the other console pages do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

from daiyun.platform.storefront import portfolio
from daiyun.platform.storefront.portfolio import Quadrant
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission


@dataclass(frozen=True)
class MerchantCatalog:
    """One merchant's catalog this month (its own calendar)."""

    tenant: TenantView
    period: str
    currency: str
    skus: int  # SKUs in the portfolio: on sale, or sold in the last seven months
    not_in_catalog: int  # codes sold that no catalog SKU has
    counts: dict[Quadrant, int]
    gmv_minor: int


@dataclass
class CatalogWork:
    merchants: list[MerchantCatalog] = field(default_factory=list)
    # Merchants whose catalog could not be read.
    unread: list[TenantView] = field(default_factory=list)


def catalog_work(accesses: list[Access], user_id: uuid.UUID) -> CatalogWork:
    """The catalog summary of every merchant where the user's role reads the catalog, by name."""
    work = CatalogWork()
    for access in with_permission(accesses, P.catalog_read):
        zone = ZoneInfo(access.tenant.time_zone)
        month = portfolio.month_of(datetime.now(UTC).astimezone(zone).date())
        with tenant_unit(access.tenant.id, user_id) as session:
            found = quietly(partial(portfolio.analyse, session, month))
            session.rollback()
        if found is None:
            work.unread.append(access.tenant)
            continue
        work.merchants.append(
            MerchantCatalog(
                tenant=access.tenant,
                period=found.period,
                currency=found.currency,
                skus=len(found.skus),
                not_in_catalog=sum(1 for row in found.skus if not row.in_catalog),
                counts=found.counts,
                gmv_minor=found.gmv_minor,
            )
        )
    work.merchants.sort(key=lambda m: m.tenant.display_name.lower())
    return work
