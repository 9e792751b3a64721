"""The returns dock (退货入库) in the console: the returns each of the operator's merchants
expects (after-sales cases approved and awaiting the buyer's parcel), with their order, buyer
and lines, so the operator who opens a parcel finds its case and receives it line by line.

Each merchant is read in a unit of work of its own where the user's role there grants
``warehouse:read``; receiving needs ``warehouse:manage`` there (``can_receive``). A merchant
that cannot be read shows nothing rather than failing the page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.schemas import CaseDetail, CaseState
from daiyun.platform.orders import service as orders
from daiyun.platform.warehouse import service as warehouse
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
# Expected returns listed per merchant; the API pages through all of them.
PER_MERCHANT = 100


@dataclass(frozen=True)
class Expected:
    tenant: TenantView
    case: CaseDetail
    order_number: str
    buyer: str
    since: datetime
    can_receive: bool


@dataclass
class Dock:
    expected: list[Expected] = field(default_factory=list)
    # The merchants whose returns the user may receive (and so register), by name.
    receivers: list[TenantView] = field(default_factory=list)
    warehouses: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    more: set[str] = field(default_factory=set)  # tenant slugs with more than listed
    unread: list[TenantView] = field(default_factory=list)


def _expected(session: Session, access: Access, dock: Dock) -> bool:
    filters = service.Filters(state=CaseState.awaiting_return)
    found, cursor = service.find_cases(session, filters, None, PER_MERCHANT)
    if cursor is not None:
        dock.more.add(access.tenant.slug)
    may = access.can(P.warehouse_manage)
    for case in found:
        order = orders.get_order(session, case.order_id)
        detail = service.detail(session, case)
        # Waiting since the return was accepted (the case's last move).
        since = detail.events[-1].at if detail.events else case.created_at
        number, buyer = (order.external_id, order.buyer_name or "") if order else ("", "")
        dock.expected.append(Expected(access.tenant, detail, number, buyer, since, may))
    if not dock.warehouses:
        dock.warehouses = sorted(warehouse.warehouse_names(session).items(), key=lambda w: w[1])
    return True


def dock(accesses: list[Access], user_id: uuid.UUID) -> Dock:
    """The expected returns of every merchant where the user's role reads stock, the oldest
    first (the parcel most likely on the dock already)."""
    found = Dock()
    for access in with_permission(accesses, P.warehouse_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            done = quietly(partial(_expected, session, access, found))
            session.rollback()
        if done is None:
            found.unread.append(access.tenant)
        elif access.can(P.warehouse_manage):
            found.receivers.append(access.tenant)
    found.expected.sort(key=lambda e: e.since)
    return found
