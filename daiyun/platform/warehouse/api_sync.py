"""Stock sync to shops (库存同步), under ``/tenants/{tenant}/stock-sync``: the share rules per
shop and SKU, each listing's sync (what it should show, what was last pushed and when) and a
shop's full resync. Mounted by ``api.router``.

No route here calls a marketplace: a change marks listings and queues the shop's push, which
a task makes (MARKETPLACES.md, Outbound).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.warehouse import stock_sync
from daiyun.platform.warehouse.models import StockSyncStatus
from daiyun.platform.warehouse.sync_schemas import (
    ResyncIn,
    ResyncRead,
    SyncListingRead,
    SyncRuleCreate,
    SyncRuleRead,
    SyncRuleUpdate,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["warehouse"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_manage))]
BASE = "/tenants/{tenant}/stock-sync"


@router.get(f"{BASE}/rules", response_model=Page[SyncRuleRead])
def list_sync_rules(
    session: SessionDep,
    access: Reader,
    shop_id: uuid.UUID | None = None,
    sku_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SyncRuleRead]:
    """The share rules (a shop's rule for every SKU has no ``sku_id``), oldest first."""
    items, next_cursor = stock_sync.find_rules(
        session, shop_id=shop_id, sku_id=sku_id, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    f"{BASE}/rules", response_model=SyncRuleRead, status_code=201, responses=problems(409, 422)
)
def create_sync_rule(
    session: SessionDep,
    access: Manager,
    body: SyncRuleCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Give a shop a share of a SKU's sellable stock (or of every SKU's): a ratio or a fixed
    quantity, with a safety floor. Ratios of one SKU over 100 % in total are refused (422,
    naming the SKU and the total); a second rule for the same shop and SKU is 409."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: stock_sync.create_rule(session, body),
    )


@router.get(f"{BASE}/rules/{{rule_id}}", response_model=SyncRuleRead)
def get_sync_rule(session: SessionDep, access: Reader, rule_id: uuid.UUID) -> SyncRuleRead:
    """One share rule."""
    return stock_sync.get_rule(session, rule_id)


@router.put(f"{BASE}/rules/{{rule_id}}", response_model=SyncRuleRead, responses=problems(422))
def update_sync_rule(
    session: SessionDep, access: Manager, rule_id: uuid.UUID, body: SyncRuleUpdate
) -> SyncRuleRead:
    """Change a rule's share, floor or warehouses (ratios over 100 % in total: 422)."""
    return stock_sync.update_rule(session, rule_id, body)


@router.delete(f"{BASE}/rules/{{rule_id}}", status_code=204)
def delete_sync_rule(session: SessionDep, access: Manager, rule_id: uuid.UUID) -> Response:
    """Drop a rule: the shop shows its default share (or the whole sellable stock) again."""
    stock_sync.delete_rule(session, rule_id)
    return Response(status_code=204)


@router.get(f"{BASE}/listings", response_model=Page[SyncListingRead])
def list_sync_listings(
    session: SessionDep,
    access: Reader,
    shop_id: uuid.UUID | None = None,
    sku_id: uuid.UUID | None = None,
    status: StockSyncStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SyncListingRead]:
    """Each listing's stock sync: the quantity it should show, the one last pushed and when,
    its status and error, and the next attempt after a failure."""
    items, next_cursor = stock_sync.find_listings(
        session, shop_id=shop_id, sku_id=sku_id, status=status, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(f"{BASE}/resync", response_model=ResyncRead, status_code=202, responses=problems(422))
def resync_shop(session: SessionDep, access: Manager, body: ResyncIn) -> ResyncRead:
    """Send every listing of the shop its quantity again (queued: the shop's push makes the
    calls). Unknown shop: 422."""
    return stock_sync.resync(session, body.shop_id)
