"""The console's ship step (发货) across the staff member's merchants: their newest shipments
with where each marketplace push stands, and their carrier rules.

Each merchant is read in a unit of work of its own where the user's role there grants
``warehouse:read``, through the ship step's service the API uses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session

from daiyun.platform.fulfillment import shipping
from daiyun.platform.fulfillment.shipping_schemas import CarrierRuleRead, PushStatus, ShipmentRead
from daiyun.platform.orders import service as orders
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
PER_MERCHANT = 30


@dataclass(frozen=True)
class ShipmentRow:
    tenant: TenantView
    shipment: ShipmentRead
    orders: list[str]  # the marketplace's order numbers
    can_push: bool


@dataclass(frozen=True)
class RulesRow:
    tenant: TenantView
    rules: list[CarrierRuleRead]
    can_manage: bool


@dataclass
class Shipments:
    rows: list[ShipmentRow] = field(default_factory=list)
    unread: list[TenantView] = field(default_factory=list)


def _shipments(session: Session, push: PushStatus | None) -> list[tuple[ShipmentRead, list[str]]]:
    found = [ShipmentRead.of(s) for s in shipping.recent(session, push, PER_MERCHANT)]
    numbers = orders.order_numbers(session, {o for s in found for o in s.order_ids})
    return [(s, [numbers.get(o, "") for o in s.order_ids]) for s in found]


def shipments(accesses: list[Access], user_id: uuid.UUID, push: PushStatus | None) -> Shipments:
    """The newest shipments of every merchant where the user's role reads stock, newest first."""
    found = Shipments()
    for access in with_permission(accesses, P.warehouse_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            rows = quietly(partial(_shipments, session, push))
        if rows is None:
            found.unread.append(access.tenant)
            continue
        can_push = access.can(P.warehouse_manage)
        found.rows += [ShipmentRow(access.tenant, s, n, can_push) for s, n in rows]
    found.rows.sort(key=lambda r: r.shipment.shipped_at, reverse=True)
    return found


def carrier_rules(accesses: list[Access], user_id: uuid.UUID) -> list[RulesRow]:
    """Each merchant's carrier rules where the user's role reads stock."""
    found = []
    for access in with_permission(accesses, P.warehouse_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            rules = quietly(partial(shipping.carrier_rules, session))
            if rules is None:
                continue
            read = [CarrierRuleRead.model_validate(r) for r in rules]
        found.append(RulesRow(access.tenant, read, access.can(P.warehouse_manage)))
    return found
