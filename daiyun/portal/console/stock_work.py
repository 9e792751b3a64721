"""The console's stocktake and replenishment pages across the staff member's merchants: counts
open and lately approved, what to order and the stock alerts, each merchant read in its own unit
of work where the user's role there grants ``warehouse:read``, through the warehouse's services.

A merchant whose stock cannot be read shows nothing rather than failing the page, as the other
console pages do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session

from daiyun.platform.warehouse import counts, replenishment
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import AlertRead, CountSummary, SuggestionRead
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
# Counts shown per merchant (the newest); the count's own page has the lines.
COUNTS_SHOWN = 20


@dataclass(frozen=True)
class CountRow:
    tenant: TenantView
    count: CountSummary
    warehouse: str


@dataclass(frozen=True)
class SuggestionRow:
    tenant: TenantView
    suggestion: SuggestionRead
    warehouse: str


@dataclass(frozen=True)
class AlertRow:
    tenant: TenantView
    alert: AlertRead
    warehouse: str


@dataclass
class StockWork:
    counts: list[CountRow] = field(default_factory=list)
    suggestions: list[SuggestionRow] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    unread: list[TenantView] = field(default_factory=list)
    warehouses: dict[uuid.UUID, str] = field(default_factory=dict)
    tenants: list[TenantView] = field(default_factory=list)
    managed: set[str] = field(default_factory=set)  # slugs where the user may start counts

    def deliveries(self) -> list[Delivery]:
        """What to order, per merchant and warehouse where the user keeps stock: each a
        delivery to expect (an ASN), its SKUs most urgent first."""
        found: dict[tuple[str, uuid.UUID], Delivery] = {}
        for row in self.suggestions:
            if row.tenant.slug not in self.managed:
                continue
            key = (row.tenant.slug, row.suggestion.warehouse_id)
            if key not in found:
                found[key] = Delivery(row.tenant, row.suggestion.warehouse_id, row.warehouse, [])
            found[key].lines.append(row.suggestion)
        return list(found.values())


@dataclass(frozen=True)
class Delivery:
    tenant: TenantView
    warehouse_id: uuid.UUID
    warehouse: str
    lines: list[SuggestionRead]


def _each(
    accesses: list[Access],
    user_id: uuid.UUID,
    work: StockWork,
    read: Callable[[Session, TenantView, StockWork], bool],
) -> None:
    for access in with_permission(accesses, P.warehouse_read):
        work.tenants.append(access.tenant)
        if access.can(P.warehouse_manage):
            work.managed.add(access.tenant.slug)
        with tenant_unit(access.tenant.id, user_id) as session:
            done = quietly(partial(read, session, access.tenant, work))
            session.rollback()
        if done is None:
            work.unread.append(access.tenant)


def stocktakes(accesses: list[Access], user_id: uuid.UUID) -> StockWork:
    """Every merchant's counts, open ones first, then the newest."""
    work = StockWork()
    _each(accesses, user_id, work, _counts)
    rank = {"counting": 0, "submitted": 1}
    work.counts.sort(
        key=lambda r: (rank.get(r.count.status.value, 2), -r.count.created_at.timestamp())
    )
    return work


def _counts(session: Session, tenant: TenantView, work: StockWork) -> bool:
    names = warehouse.warehouse_names(session)
    work.warehouses = names
    found: list[CountSummary] = []
    cursor: str | None = None
    while True:  # oldest first: the newest are at the end
        page, cursor = counts.find(session, None, cursor, 200)
        found += [CountSummary.model_validate(c) for c in page]
        if cursor is None:
            break
    found.sort(key=lambda c: c.created_at, reverse=True)
    work.counts += [
        CountRow(tenant, c, names.get(c.warehouse_id, str(c.warehouse_id)))
        for c in found[:COUNTS_SHOWN]
    ]
    return True


def stock_planning(accesses: list[Access], user_id: uuid.UUID) -> StockWork:
    """Every merchant's replenishment suggestions and stock alerts."""
    work = StockWork()
    _each(accesses, user_id, work, _planning)
    work.suggestions.sort(
        key=lambda r: (not r.suggestion.urgent, r.suggestion.days_of_cover or 1e9)
    )
    return work


def _planning(session: Session, tenant: TenantView, work: StockWork) -> bool:
    names = warehouse.warehouse_names(session)
    work.suggestions += [
        SuggestionRow(tenant, s, names.get(s.warehouse_id, str(s.warehouse_id)))
        for s in replenishment.suggestions(session)
    ]
    work.alerts += [
        AlertRow(tenant, a, names.get(a.warehouse_id, str(a.warehouse_id)))
        for a in replenishment.alerts(session)
        if a.kind.value != "slow_mover"
    ]
    return True
