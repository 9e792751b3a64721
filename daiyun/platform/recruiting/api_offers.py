"""The offers API and the hires they make: offers from a recruiter's draft through the
merchant's approval to the candidate's answer, and placements (hires as billing sees them):
recruiters record a hire that no offer made a placement of and say when a hire left; the
merchant's owner reads them and approves offers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from daiyun.core import periods
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.recruiting import offers, placements, service
from daiyun.platform.recruiting.models import Guarantee, OfferStatus
from daiyun.platform.recruiting.schemas import (
    Decline,
    OfferCreate,
    OfferRead,
    OfferUpdate,
    PlacementCreate,
    PlacementLeave,
    PlacementRead,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["recruiting"])
Reviewer = Annotated[TenantAccess, Depends(tenant_access(Permission.recruiting_review))]
Manager = Annotated[TenantAccess, Depends(tenant_access(Permission.recruiting_manage))]
T = "/tenants/{tenant}"


# --- offers --------------------------------------------------------------------------------


@router.get(f"{T}/applications/{{application_id}}/offers", response_model=list[OfferRead])
def application_offers(
    session: SessionDep, access: Reviewer, application_id: uuid.UUID
) -> list[OfferRead]:
    """The application's offers, oldest first (a declined one, then the next)."""
    service.get_application(session, application_id)
    return [OfferRead.model_validate(o) for o in offers.of_application(session, application_id)]


@router.post(
    f"{T}/applications/{{application_id}}/offers",
    response_model=OfferRead,
    status_code=201,
    responses=problems(409, 422),
)
def draft_offer(
    session: SessionDep, access: Manager, application_id: uuid.UUID, body: OfferCreate
) -> OfferRead:
    """Draft an offer (pay in minor units with its currency, a start date) for the merchant to
    approve; refused while another offer stands for the application."""
    found = service.get_application(session, application_id, lock=True)
    return OfferRead.model_validate(offers.create(session, found, body, access.user.id))


@router.get(f"{T}/offers", response_model=Page[OfferRead])
def list_offers(
    session: SessionDep,
    access: Reviewer,
    status: OfferStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[OfferRead]:
    """Offers, of one status if named (``draft``: those waiting for the merchant)."""
    rows, next_cursor = offers.find(session, status, cursor, limit)
    return Page(items=[OfferRead.model_validate(o) for o in rows], next_cursor=next_cursor)


@router.get(f"{T}/offers/{{offer_id}}", response_model=OfferRead)
def get_offer(session: SessionDep, access: Reviewer, offer_id: uuid.UUID) -> OfferRead:
    return OfferRead.model_validate(offers.get(session, offer_id))


@router.patch(f"{T}/offers/{{offer_id}}", response_model=OfferRead, responses=problems(409))
def change_offer(
    session: SessionDep, access: Manager, offer_id: uuid.UUID, body: OfferUpdate
) -> OfferRead:
    """New terms before it is sent (an approved offer then waits for the merchant again)."""
    found = offers.get(session, offer_id, lock=True)
    return OfferRead.model_validate(offers.update(session, found, body))


@router.post(f"{T}/offers/{{offer_id}}/approve", response_model=OfferRead, responses=problems(409))
def approve_offer(session: SessionDep, access: Reviewer, offer_id: uuid.UUID) -> OfferRead:
    """The merchant approves the terms (its owner, or the agency for it)."""
    found = offers.get(session, offer_id, lock=True)
    return OfferRead.model_validate(offers.approve(session, found, access.user.id))


@router.post(f"{T}/offers/{{offer_id}}/send", response_model=OfferRead, responses=problems(409))
def send_offer(session: SessionDep, access: Manager, offer_id: uuid.UUID) -> OfferRead:
    """The approved offer went to the candidate (dated)."""
    found = offers.get(session, offer_id, lock=True)
    return OfferRead.model_validate(offers.send(session, found))


@router.post(f"{T}/offers/{{offer_id}}/accept", response_model=OfferRead, responses=problems(409))
def accept_offer(session: SessionDep, access: Manager, offer_id: uuid.UUID) -> OfferRead:
    """The candidate accepted: the application moves to the pipeline's last stage (hired) and
    becomes a placement when the pay is monthly or yearly (otherwise record it by hand)."""
    found = offers.get(session, offer_id, lock=True)
    return OfferRead.model_validate(offers.accept(session, found, access.user.id))


@router.post(f"{T}/offers/{{offer_id}}/decline", response_model=OfferRead, responses=problems(409))
def decline_offer(
    session: SessionDep, access: Manager, offer_id: uuid.UUID, body: Decline
) -> OfferRead:
    """The candidate declined (with their reason, if given); another offer may follow."""
    found = offers.get(session, offer_id, lock=True)
    return OfferRead.model_validate(offers.decline(session, found, body.reason))


# --- placements ----------------------------------------------------------------------------


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
    today = periods.today(access.tenant.time_zone)
    return PlacementRead.model_validate(
        placements.leave(session, found, body, access.user.id, today)
    )
