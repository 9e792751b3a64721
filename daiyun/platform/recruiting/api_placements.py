"""The placements API: hires as billing sees them (``placements``). Recruiters record a hire
that no offer made a placement of and say when a hire left; the merchant's owner reads them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.recruiting import placements, service
from daiyun.platform.recruiting.models import Guarantee
from daiyun.platform.recruiting.schemas import PlacementCreate, PlacementLeave, PlacementRead
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["recruiting"])
Reviewer = Annotated[TenantAccess, Depends(tenant_access(Permission.recruiting_review))]
Manager = Annotated[TenantAccess, Depends(tenant_access(Permission.recruiting_manage))]
T = "/tenants/{tenant}"


@router.get(f"{T}/placements", response_model=Page[PlacementRead])
def list_placements(
    session: SessionDep,
    access: Reviewer,
    requisition_id: uuid.UUID | None = None,
    guarantee: Guarantee | None = None,
    active: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[PlacementRead]:
    """Hires, of one requisition or guarantee state if named; ``active`` true for those still
    working, false for those who left."""
    rows, next_cursor = placements.find(session, requisition_id, guarantee, active, cursor, limit)
    return Page(items=[PlacementRead.model_validate(p) for p in rows], next_cursor=next_cursor)


@router.post(
    f"{T}/placements",
    response_model=PlacementRead,
    status_code=201,
    responses={200: {"model": PlacementRead}, **problems(409, 422)},
)
def record_placement(
    session: SessionDep, access: Manager, body: PlacementCreate, response: Response
) -> PlacementRead:
    """Record a hire with its first-year salary (the fee basis), billed once on the statement
    of the month it starts; 200 with the placement already made for that application."""
    application = service.get_application(session, body.application_id, lock=True)
    found, new = placements.create(session, application, body, access.user.id)
    if not new:
        response.status_code = 200
    return PlacementRead.model_validate(found)


@router.get(f"{T}/placements/{{placement_id}}", response_model=PlacementRead)
def get_placement(session: SessionDep, access: Reviewer, placement_id: uuid.UUID) -> PlacementRead:
    return PlacementRead.model_validate(placements.get(session, placement_id))


@router.post(
    f"{T}/placements/{{placement_id}}/leave",
    response_model=PlacementRead,
    responses=problems(409, 422),
)
def placement_left(
    session: SessionDep, access: Manager, placement_id: uuid.UUID, body: PlacementLeave
) -> PlacementRead:
    """The hire left on a day: within the guarantee the fee is refunded on the next statement
    or the next hire for the role is free, as the contract says."""
    found = placements.get(session, placement_id, lock=True)
    return PlacementRead.model_validate(placements.leave(session, found, body, access.user.id))
