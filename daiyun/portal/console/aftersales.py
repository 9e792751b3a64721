"""After-sales (售后) in the console: every merchant's open cases with their respond-by
deadlines, and one case with its order, lines, conversation and log. Each merchant is read in a
unit of work of its own where the user's role there grants ``aftersales:read``; a merchant that
cannot be read shows nothing rather than failing the page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.schemas import CaseDetail, CaseRead, CaseState
from daiyun.platform.orders import service as orders
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
# Cases each merchant contributes to the console's list; the API pages through all of them.
PER_MERCHANT = 200


@dataclass(frozen=True)
class Row:
    tenant: TenantView
    case: CaseRead
    order_number: str
    overdue: bool


@dataclass(frozen=True)
class CasePage:
    tenant: TenantView
    case: CaseDetail
    order_number: str
    order_status: str
    order_total_minor: int
    can_manage: bool


def readable(accesses: list[Access]) -> list[Access]:
    return with_permission(accesses, P.aftersales_read)


def _rows(session: Session, tenant: TenantView, now: datetime, rows: list[Row]) -> bool:
    found, _ = service.find_cases(session, service.Filters(), None, PER_MERCHANT)
    numbers = orders.order_numbers(session, {c.order_id for c in found})
    for case in found:
        if case.state == CaseState.closed:
            continue
        overdue = case.deadline is not None and case.deadline < now
        rows.append(
            Row(tenant, CaseRead.model_validate(case), numbers.get(case.order_id, ""), overdue)
        )
    return True


def open_cases(accesses: list[Access], user_id: uuid.UUID, now: datetime) -> list[Row]:
    """Every open case of the user's merchants, the most urgent deadline first (none last)."""
    rows: list[Row] = []
    for access in readable(accesses):
        with tenant_unit(access.tenant.id, user_id) as session:
            quietly(partial(_rows, session, access.tenant, now, rows))
            session.rollback()
    rows.sort(key=lambda r: (r.case.deadline is None, r.case.deadline or now, r.case.id))
    return rows


def case_page(
    session: Session, tenant: TenantView, can_manage: bool, case_id: uuid.UUID
) -> CasePage:
    """One case with its order's number, status and total (404 when there is no such case)."""
    case = service.get_case(session, case_id)
    order = orders.get_order(session, case.order_id)
    return CasePage(
        tenant,
        service.detail(session, case),
        order.external_id if order else "",
        order.status.value if order else "",
        order.total_minor if order else 0,
        can_manage,
    )
