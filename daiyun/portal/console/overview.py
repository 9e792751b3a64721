"""The tenants overview: this month's figures of every merchant the user may open.

The page is the agency's landing page and lists every merchant, so it reads only figures that
are already stored: GMV from the reports' daily rollups, the commission from the month's stored
draft statement (as of when it was generated; the billing page regenerates it), counts by
index. It never runs the billing engine, whose cost grows with each merchant's orders.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from daiyun.billing import service as billing_service
from daiyun.billing.facts import Period
from daiyun.connectors import service as shop_service
from daiyun.core.ids import utcnow
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.reports import service as report_service
from daiyun.platform.reports.currencies import ConvertedTotal
from daiyun.portal.charts import BarChart, daily_bars
from daiyun.portal.console.access import Access, quietly, tenant_unit
from daiyun.portal.console.shops import is_failing
from daiyun.portal.i18n import Formatter
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission, Role, allows

P = Permission
# The permission behind each figure: a cell the role may not see says so, apart from a figure
# there is none of yet.
COLUMN_PERMISSIONS = {
    "gmv": P.orders_read,
    "held": P.orders_read,
    "sync_errors": P.shops_read,
    "commission": P.billing_read,
    "unpaid": P.billing_read,
}
# Line kinds (the part before the first colon) that make up the commission accrued.
COMMISSION_KINDS = ("commission", "clawback")


@dataclass
class TenantRow:
    """One merchant's figures; None where the user's role may not see one (or there is none)."""

    tenant: TenantView
    role: Role
    gmv_minor: int | None = None
    gmv_currency: str | None = None
    commission_minor: int | None = None
    commission_currency: str | None = None
    held: int | None = None
    sync_errors: int | None = None
    unpaid: int | None = None
    # When the draft the commission comes from was generated.
    commission_as_of: datetime | None = None
    # GMV of each day of the month so far, in ``gmv_currency``.
    gmv_daily: tuple[tuple[date, int], ...] = ()
    # The month's GMV in every currency converted into ``gmv_currency`` (when it sold in more).
    gmv_converted: ConvertedTotal | None = None

    def gmv_chart(self, fmt: Formatter, title: str) -> BarChart | None:
        """The small chart of the month's GMV by day, if the role sees GMV and there is some."""
        if not self.sees("gmv") or not self.gmv_minor or self.gmv_currency is None:
            return None
        return daily_bars(
            list(self.gmv_daily), self.gmv_currency, fmt, title, width=360, height=180
        )

    def sees(self, column: str) -> bool:
        """Whether the user's role here shows the figure of ``column``."""
        return allows(self.role, COLUMN_PERMISSIONS[column])


SORTS: dict[str, Callable[[TenantRow], Any]] = {
    "name": lambda r: r.tenant.display_name.casefold(),
    "gmv": lambda r: r.gmv_minor,
    "commission": lambda r: r.commission_minor,
    "held": lambda r: r.held,
    "sync_errors": lambda r: r.sync_errors,
    "unpaid": lambda r: r.unpaid,
}
# The direction a column sorts in when first chosen: figures largest first, names A to Z.
DEFAULT_DIRECTION = {key: "asc" if key == "name" else "desc" for key in SORTS}


def month_so_far(tenant: TenantView, now: datetime | None = None) -> tuple[date, date]:
    """The first day of the tenant's current month and today, in its time zone."""
    today = (now or utcnow()).astimezone(ZoneInfo(tenant.time_zone)).date()
    return today.replace(day=1), today


def current_period(tenant: TenantView, now: datetime | None = None) -> Period:
    """The billing period (calendar month) the tenant is in now, in its time zone."""
    first, _ = month_so_far(tenant, now)
    return Period(first.year, first.month)


def commission_of(lines: list[Any]) -> int:
    """Commission net of clawbacks on a statement's (or preview's) lines."""
    return sum(
        line.amount_minor for line in lines if line.kind.split(":", 1)[0] in COMMISSION_KINDS
    )


def tenant_row(access: Access, user_id: uuid.UUID, now: datetime | None = None) -> TenantRow:
    """The overview figures of one tenant, each only if the role may see it."""
    tenant = access.tenant
    row = TenantRow(tenant, access.role)
    with tenant_unit(tenant.id, user_id) as session:
        if access.can(P.orders_read):
            first, today = month_so_far(tenant, now)
            # Day by day, for the row's small chart; the month's GMV is their sum.
            daily = quietly(lambda: report_service.bound_daily_gmv(session, first, today))
            if daily is not None:
                row.gmv_currency, row.gmv_daily = daily.currency, tuple(daily.daily)
                row.gmv_minor, row.gmv_converted = daily.gmv_minor, daily.converted
            row.held = order_service.count_with_status(session, OrderStatus.on_hold)
        if access.can(P.shops_read):
            row.sync_errors = sum(1 for s in shop_service.shops(session) if is_failing(s))
        if access.can(P.billing_read):
            period = str(current_period(tenant, now))
            draft = next((d for d in billing_service.drafts(session) if d.period == period), None)
            if draft is not None:
                row.commission_minor = commission_of(draft.lines)
                row.commission_currency = draft.currency
                row.commission_as_of = draft.generated_at
            row.unpaid = len(billing_service.unpaid(session))
        # Reads only: nothing of this unit of work is meant to be kept.
        session.rollback()
    return row


def overview(
    accesses: list[Access], user_id: uuid.UUID, sort: str = "name", direction: str = "asc"
) -> list[TenantRow]:
    """Every accessible tenant's row, sorted; rows without the figure always come last."""
    rows = [tenant_row(access, user_id) for access in accesses]
    key = SORTS.get(sort, SORTS["name"])
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    known.sort(key=lambda r: (key(r), r.tenant.display_name.casefold()))
    if direction == "desc":
        known.reverse()
    unknown.sort(key=lambda r: r.tenant.display_name.casefold())
    return known + unknown
