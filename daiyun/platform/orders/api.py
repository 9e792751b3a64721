"""The order book API: list and read orders, and decide held orders (订单审核)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from daiyun.core.errors import Problem
from daiyun.core.ids import DateTime, instant
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.orders import repository, service
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.orders.schemas import CancelBody, OrderDetail, OrderRead, ReleaseBody
from daiyun.platform.orders.service import OrderSort
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix="/tenants/{tenant}", tags=["orders"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.orders_read))]
Reviewer = Annotated[TenantAccess, Depends(tenant_access(P.orders_review))]


@router.get("/orders", response_model=Page[OrderRead])
def list_orders(
    session: SessionDep,
    access: Reader,
    status: OrderStatus | None = None,
    channel: str | None = Query(default=None, max_length=20),
    shop_id: uuid.UUID | None = None,
    placed_from: DateTime | None = Query(default=None, description="Inclusive, ISO 8601"),
    placed_to: DateTime | None = Query(default=None, description="Exclusive, ISO 8601"),
    q: str | None = Query(
        default=None, max_length=200, description="Text in the external id or the buyer"
    ),
    sort: OrderSort = Query(
        default=OrderSort.imported,
        description=(
            "`id`: in import order, newest last (the default); `-placed_at` / `placed_at`: newest"
            " / oldest placed first; `-total` / `total`: largest / smallest total first (compared"
            " in minor units, whatever the currency). A cursor pages only the sort it came from."
        ),
    ),
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[OrderRead]:
    """The tenant's orders across channels, in import order unless sorted; buyers masked without
    permission to see them."""
    placed_from, placed_to = instant("placed_from", placed_from), instant("placed_to", placed_to)
    rows, next_cursor = service.find_orders(
        session,
        status=status,
        channel=channel,
        shop_id=shop_id,
        placed_from=placed_from,
        placed_to=placed_to,
        text=q,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    pii = access.can(P.buyers_read)
    return Page(items=[OrderRead.of(o, pii=pii) for o in rows], next_cursor=next_cursor)


@router.get("/orders/{order_id}", response_model=OrderDetail)
def get_order(session: SessionDep, access: Reader, order_id: uuid.UUID) -> OrderDetail:
    """One order with its lines, refunds and history."""
    order = repository.get(session, order_id)
    if order is None:
        raise Problem(404, "not-found", "No such order")
    history = repository.history(session, order.id)
    return OrderDetail.build(order, history, pii=access.can(P.buyers_read))


@router.post("/orders/{order_id}/release", response_model=OrderDetail)
def release_order(
    session: SessionDep, access: Reviewer, order_id: uuid.UUID, body: ReleaseBody
) -> OrderDetail:
    """Accept a held order (订单审核): it leaves ``on_hold`` for the channel's status."""
    order = service.release(session, order_id, access.user.id, body.note)
    return OrderDetail.build(
        order, repository.history(session, order.id), pii=access.can(P.buyers_read)
    )


@router.post("/orders/{order_id}/cancel", response_model=OrderDetail)
def cancel_order(
    session: SessionDep, access: Reviewer, order_id: uuid.UUID, body: CancelBody
) -> OrderDetail:
    """Refuse a held order with a reason. Cancel it on the marketplace as well."""
    order = service.cancel(session, order_id, access.user.id, body.reason)
    return OrderDetail.build(
        order, repository.history(session, order.id), pii=access.can(P.buyers_read)
    )


@router.get("/review-policy", response_model=ReviewSettings)
def get_review_policy(session: SessionDep, access: Reviewer) -> ReviewSettings:
    """The tenant's review rules, thresholds, blocklists and auto-approve lists."""
    return service.review_settings(session)


@router.put("/review-policy", response_model=ReviewSettings)
def put_review_policy(
    session: SessionDep, access: Reviewer, body: ReviewSettings
) -> ReviewSettings:
    """Replace the review rules; orders imported from now on follow them."""
    return service.update_review_settings(session, body)
