"""Listings and their prices, under ``/tenants/{tenant}``: ``/listings`` (per shop, with their
sync state; create, publish, unlist, retry) and ``/prices`` (set a listing's prices, schedule
price lists). Mounted by ``api.router`` (its prefix names the tenant).

No route here calls a marketplace: a change is recorded with its outbox event and pushed by a
task (MARKETPLACES.md, Outbound).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.storefront import listings, prices
from daiyun.platform.storefront.listing_rules import ListingState, PriceListStatus, SyncStatus
from daiyun.platform.storefront.listing_schemas import (
    ListingCreate,
    ListingRead,
    PriceListCreate,
    PriceListRead,
    PriceSet,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["listings"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.catalog_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.catalog_manage))]


# --------------------------------------------------------------------------------------------
# Listings
# --------------------------------------------------------------------------------------------


@router.post(
    "/listings", response_model=ListingRead, status_code=201, responses=problems(403, 409, 422)
)
def create_listing(
    session: SessionDep,
    access: Manager,
    body: ListingCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """List a SKU on one of the tenant's shops, as a draft, at prices the margin floor lets
    through: under a ``block`` floor 422 ``below-margin-floor`` naming the SKU, the floor and
    the price, unless a user with ``prices:override`` gives an ``override_reason`` (audited);
    under ``warn`` accepted with ``floor_flag`` set. One listing per SKU and shop (409)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: listings.read(
            listings.create(session, body, can_override=access.can(P.prices_override))
        ),
    )


@router.get("/listings", response_model=Page[ListingRead])
def list_listings(
    session: SessionDep,
    access: Reader,
    shop_id: uuid.UUID | None = None,
    sku_id: uuid.UUID | None = None,
    state: ListingState | None = None,
    sync_status: SyncStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ListingRead]:
    """The tenant's listings, oldest first, by shop, SKU, state or sync state (``failed``:
    the pushes that did not go through, each with the marketplace's error)."""
    rows, next_cursor = listings.find(
        session,
        shop_id=shop_id,
        sku_id=sku_id,
        state=state,
        sync_status=sync_status,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


@router.get("/listings/{listing_id}", response_model=ListingRead)
def get_listing(session: SessionDep, access: Reader, listing_id: uuid.UUID) -> ListingRead:
    """One listing: its prices, marketplace ids, state and sync state."""
    return listings.read(listings.get(session, listing_id))


@router.post(
    "/listings/{listing_id}/publish", response_model=ListingRead, responses=problems(409, 422)
)
def publish_listing(session: SessionDep, access: Manager, listing_id: uuid.UUID) -> ListingRead:
    """Send the listing to its marketplace: ``in_review`` until the marketplace accepts it
    (``published``) or refuses it (``rejected``, with its error). 409 from a state that cannot
    be published; 422 ``capability-missing`` for a marketplace without a listing API."""
    return listings.read(listings.publish(session, listing_id))


@router.post("/listings/{listing_id}/unlist", response_model=ListingRead, responses=problems(409))
def unlist_listing(session: SessionDep, access: Manager, listing_id: uuid.UUID) -> ListingRead:
    """Take the listing off sale on its marketplace (kept, with its ids, to publish again)."""
    return listings.read(listings.unlist(session, listing_id))


@router.post("/listings/{listing_id}/retry", response_model=ListingRead, responses=problems(409))
def retry_listing(session: SessionDep, access: Manager, listing_id: uuid.UUID) -> ListingRead:
    """Push a listing whose last push failed again, now (409 when it did not fail)."""
    return listings.read(listings.retry(session, listing_id))


# --------------------------------------------------------------------------------------------
# Prices and scheduled price lists
# --------------------------------------------------------------------------------------------


@router.put(
    "/prices/listings/{listing_id}", response_model=ListingRead, responses=problems(403, 422)
)
def set_price(
    session: SessionDep, access: Manager, listing_id: uuid.UUID, body: PriceSet
) -> ListingRead:
    """Set a listing's list and sale price; what a buyer paid before becomes its prior ("was")
    price. The margin floor applies as on creation (422, or a flag, or an audited override by
    ``prices:override``: 403 for a reason given without it). A listing on sale is pushed."""
    listing = prices.set_price(
        session, listing_id, body, can_override=access.can(P.prices_override)
    )
    return listings.read(listing)


@router.post(
    "/prices/schedules",
    response_model=PriceListRead,
    status_code=201,
    responses=problems(403, 422),
)
def schedule_prices(
    session: SessionDep,
    access: Manager,
    body: PriceListCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Schedule a price list: its listings take its prices at ``starts_at`` and get back the
    ones they had at ``ends_at`` (unless changed meanwhile). Prices meet the margin floor now,
    or carry a permitted override (audited)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: prices.read_list(
            session,
            prices.create_list(session, body, can_override=access.can(P.prices_override)),
        ),
    )


@router.get("/prices/schedules", response_model=Page[PriceListRead])
def list_price_lists(
    session: SessionDep,
    access: Reader,
    status: PriceListStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[PriceListRead]:
    """The tenant's price lists, oldest first: scheduled, in effect or ended."""
    rows, next_cursor = prices.find_lists(session, status, cursor, limit)
    return Page(items=rows, next_cursor=next_cursor)


@router.get("/prices/schedules/{price_list_id}", response_model=PriceListRead)
def get_price_list(session: SessionDep, access: Reader, price_list_id: uuid.UUID) -> PriceListRead:
    """One price list with its prices and, once applied, the prices it replaced."""
    return prices.read_list(session, prices.get_list(session, price_list_id))
