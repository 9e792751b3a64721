"""The warehouse's day across the staff member's merchants (发货): parcels ready and in waves,
open exceptions, deadlines coming, and the waves of each warehouse.

Each merchant is read in a unit of work of its own where the user's role there grants
``warehouse:read``, through the fulfilment service the API uses. A wave spanning merchants is
planned and read in one unit of work over the merchants where the role grants the permission.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import bind_user
from daiyun.platform.fulfillment import service, waves
from daiyun.platform.fulfillment.schemas import (
    ExceptionRead,
    FoState,
    FulfillmentOrderRead,
    WaveDetail,
    WaveRead,
    WaveRuleIn,
)
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
PER_MERCHANT = 20


@dataclass(frozen=True)
class ProblemRow:
    tenant: TenantView
    exception: ExceptionRead
    can_resolve: bool


@dataclass(frozen=True)
class DueRow:
    tenant: TenantView
    parcel: FulfillmentOrderRead


@dataclass
class Day:
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # slug: state -> parcels
    tenants: dict[str, TenantView] = field(default_factory=dict)
    problems: list[ProblemRow] = field(default_factory=list)
    due: list[DueRow] = field(default_factory=list)
    waves: list[WaveRead] = field(default_factory=list)
    unread: list[TenantView] = field(default_factory=list)


def _states(session: Session) -> Counter[str]:
    counter: Counter[str] = Counter()
    for state in (
        FoState.awaiting_stock,
        FoState.ready,
        FoState.in_wave,
        FoState.picked,
        FoState.packed,
        FoState.exception,
    ):
        rows, _ = service.find(
            session,
            state=state,
            warehouse_id=None,
            wave_id=None,
            order_id=None,
            cursor=None,
            limit=500,
        )
        counter[state.value] = len(rows)
    return counter


def day(accesses: list[Access], user_id: uuid.UUID) -> Day:
    """The open fulfilment work of every merchant where the user's role reads stock."""
    found = Day()
    soon = utcnow() + timedelta(hours=12)
    for access in with_permission(accesses, P.warehouse_read):
        tenant = access.tenant
        with tenant_unit(tenant.id, user_id) as session:
            counts = quietly(partial(_states, session))
            if counts is None:
                found.unread.append(tenant)
                continue
            found.counts[tenant.slug] = counts
            found.tenants[tenant.slug] = tenant
            problems, _ = service.find_exceptions(session, True, None, None, PER_MERCHANT)
            found.problems += [
                ProblemRow(tenant, e, access.can(P.warehouse_manage)) for e in problems
            ]
            for state in (FoState.ready, FoState.in_wave, FoState.picked, FoState.packed):
                rows, _ = service.find(
                    session,
                    state=state,
                    warehouse_id=None,
                    wave_id=None,
                    order_id=None,
                    cursor=None,
                    limit=PER_MERCHANT,
                )
                found.due += [
                    DueRow(tenant, r) for r in rows if r.ship_by is not None and r.ship_by < soon
                ]
    found.due.sort(key=lambda d: d.parcel.ship_by or soon)
    merchants = _merchants(accesses, P.warehouse_read)
    if merchants:
        with unit_of_work() as session:
            bind_user(session, user_id)
            found.waves, _ = waves.find(session, merchants, None, None, 50, own=False)
    return found


def _merchants(accesses: list[Access], permission: Permission) -> list[waves.Merchant]:
    return [
        waves.Merchant(a.tenant.id, a.tenant.display_name)
        for a in with_permission(accesses, permission)
    ]


def plan(
    accesses: list[Access], user_id: uuid.UUID, warehouse_id: uuid.UUID, rule: WaveRuleIn
) -> WaveDetail:
    """A wave over the merchants where the user's role manages stock (one transaction)."""
    with unit_of_work() as session:
        bind_user(session, user_id)
        return waves.create(session, warehouse_id, rule, _merchants(accesses, P.warehouse_manage))


def wave(accesses: list[Access], user_id: uuid.UUID, wave_id: uuid.UUID) -> WaveDetail:
    """A wave with the pick lines of the merchants where the user's role reads stock."""
    with unit_of_work() as session:
        bind_user(session, user_id)
        return waves.detail(session, wave_id, _merchants(accesses, P.warehouse_read), agency=True)


def confirm(accesses: list[Access], user_id: uuid.UUID, wave_id: uuid.UUID) -> WaveDetail:
    """The wave's parcels of the merchants where the user manages stock are picked."""
    with unit_of_work() as session:
        bind_user(session, user_id)
        return waves.confirm_pick(
            session, wave_id, _merchants(accesses, P.warehouse_manage), agency=True
        )
