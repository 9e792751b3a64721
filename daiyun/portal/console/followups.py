"""Follow-ups (回访) in the console: the open follow-ups of every merchant where the user works
after-sales (``aftersales:manage``), the caller's own or everyone's, the overdue first. Each
merchant is read in a unit of work of its own; a merchant that cannot be read shows nothing
rather than failing the page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from daiyun.platform.aftersales import followups
from daiyun.platform.aftersales.schemas import FollowupRead
from daiyun.platform.orders import service as orders
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission, allows

P = Permission
# Follow-ups each merchant contributes to the console's queue; the API pages through all.
PER_MERCHANT = 200


@dataclass(frozen=True)
class Row:
    tenant: TenantView
    followup: FollowupRead
    order_number: str
    # The buyer's name and phone, for the call: only where the role reads buyers.
    buyer: str
    phone: str
    overdue: bool
    mine: bool


def workable(accesses: list[Access]) -> list[Access]:
    return with_permission(accesses, P.aftersales_manage)


def _rows(
    session: Session,
    access: Access,
    user_id: uuid.UUID,
    only_mine: bool,
    now: datetime,
    rows: list[Row],
) -> bool:
    found = followups.queue(session, user_id if only_mine else None, PER_MERCHANT)
    numbers = orders.order_numbers(session, {f.order_id for f in found})
    pii = allows(access.role, P.buyers_read)
    for followup in found:
        order = orders.get_order(session, followup.order_id) if pii else None
        rows.append(
            Row(
                access.tenant,
                FollowupRead.model_validate(followup),
                numbers.get(followup.order_id, ""),
                (order.buyer_name or "") if order else "",
                (order.buyer_phone or "") if order else "",
                followup.due_at < now,
                followup.assignee_id == user_id,
            )
        )
    return True


def open_followups(
    accesses: list[Access], user_id: uuid.UUID, now: datetime, *, only_mine: bool
) -> list[Row]:
    """Open follow-ups of the user's merchants (theirs alone, or everyone's), the earliest due
    (so the overdue) first."""
    rows: list[Row] = []
    for access in workable(accesses):
        with tenant_unit(access.tenant.id, user_id) as session:
            quietly(partial(_rows, session, access, user_id, only_mine, now, rows))
            session.rollback()
    rows.sort(key=lambda r: (r.followup.due_at, r.followup.id))
    return rows
