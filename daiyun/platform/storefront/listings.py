"""Listings (商品上架): one SKU on one of the tenant's shops, its lifecycle and its sync state.

Every change a marketplace must hear of (publish, unlist, a price) bumps the listing's
``version``, marks it pending and writes a ``listing.changed`` event to the outbox in the same
transaction: the push task (:mod:`.sync`) sends what is pending, so a crash between the change
and the call loses nothing. Nothing here calls a marketplace (a call is made from a task, never
from a request).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.outbound import LISTINGS
from daiyun.core.errors import Problem
from daiyun.core.ids import instant, new_id
from daiyun.core.pagination import paginate
from daiyun.platform.storefront import prices, repository
from daiyun.platform.storefront.changes import get, mark_changed
from daiyun.platform.storefront.listing_rules import (
    PUBLISHABLE,
    UNLISTABLE,
    ListingState,
    SyncStatus,
)
from daiyun.platform.storefront.listing_schemas import ListingCreate, ListingRead
from daiyun.platform.storefront.models import Listing


def read(listing: Listing) -> ListingRead:
    return ListingRead.model_validate(listing)


def find(
    session: Session,
    *,
    shop_id: uuid.UUID | None = None,
    sku_id: uuid.UUID | None = None,
    state: ListingState | None = None,
    sync_status: SyncStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ListingRead], str | None]:
    stmt: Select[tuple[Listing]] = select(Listing)
    if shop_id is not None:
        stmt = stmt.where(Listing.shop_id == shop_id)
    if sku_id is not None:
        stmt = stmt.where(Listing.sku_id == sku_id)
    if state is not None:
        stmt = stmt.where(Listing.state == state)
    if sync_status is not None:
        stmt = stmt.where(Listing.sync_status == sync_status)
    rows, next_cursor = paginate(session, stmt, Listing.id, cursor, limit)
    return [read(row) for row in rows], next_cursor


def _shop(session: Session, shop_id: uuid.UUID) -> tuple[str, str]:
    """The shop's channel and name; a shop that is not the tenant's is a 422 in a body."""
    try:
        shop = shop_service.get(session, shop_id)
    except Problem:
        raise Problem(422, "unknown-shop", "No such shop in this tenant") from None
    return shop.channel, shop.name


def create(session: Session, body: ListingCreate, *, can_override: bool) -> Listing:
    """A draft listing of a SKU on a shop, at prices the margin floor lets through (or that a
    permitted user overrode). One per SKU and shop (409)."""
    sku = repository.get_sku(session, body.sku_id)
    if sku is None:
        raise Problem(422, "unknown-sku", "No such SKU in this tenant")
    _shop(session, body.shop_id)
    existing = session.scalar(
        select(Listing.id).where(Listing.sku_id == sku.id, Listing.shop_id == body.shop_id)
    )
    if existing is not None:
        raise Problem(409, "listing-exists", "This SKU is already listed on this shop")
    product = repository.get_product(session, sku.product_id)
    listing = Listing(
        id=new_id(),  # now, not at flush: an override's audit entry names it
        sku_id=sku.id,
        shop_id=body.shop_id,
        title=body.title or (product.name if product else sku.code),
        state=ListingState.draft,
        currency=sku.currency,
        list_price_minor=body.list_price_minor,
        available_from=instant("available_from", body.available_from),
        pushed={},
    )
    prices.check_and_set(
        session,
        listing,
        sku,
        body.list_price_minor,
        body.sale_price_minor,
        body.override_reason,
        can_override=can_override,
        first=True,
    )
    session.add(listing)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Two creates of the same pair at once: the unique key keeps one.
        raise Problem(409, "listing-exists", "This SKU is already listed on this shop") from None
    return listing


def publish(session: Session, listing_id: uuid.UUID) -> Listing:
    """Send the listing to its marketplace (state ``in_review`` until it answers). 409 from a
    state that cannot be published; 422 when the shop's marketplace has no listing API."""
    listing = get(session, listing_id, lock=True)
    if listing.state not in PUBLISHABLE:
        raise Problem(409, "listing-state", f"A {listing.state.value} listing cannot be published")
    channel, _ = _shop(session, listing.shop_id)
    if LISTINGS not in connector_for(channel).outbound:
        raise Problem(
            422, "capability-missing", f"{channel} has no listing API: publish it in the shop"
        )
    listing.state = ListingState.in_review
    listing.sync_error = None
    mark_changed(session, [listing])
    session.flush()
    return listing


def unlist(session: Session, listing_id: uuid.UUID) -> Listing:
    """Take the listing off sale (kept, with its marketplace ids, to be published again)."""
    listing = get(session, listing_id, lock=True)
    if listing.state not in UNLISTABLE:
        raise Problem(409, "listing-state", f"A {listing.state.value} listing cannot be unlisted")
    listing.state = ListingState.unlisted
    listing.sync_error = None
    mark_changed(session, [listing])
    session.flush()
    return listing


def retry(session: Session, listing_id: uuid.UUID) -> Listing:
    """Send a listing whose last push failed again, now (409 when none failed)."""
    listing = get(session, listing_id, lock=True)
    if listing.sync_status is not SyncStatus.failed:
        raise Problem(409, "nothing-to-retry", "The listing's last push did not fail")
    if listing.state is ListingState.rejected:
        listing.state = ListingState.in_review
    mark_changed(session, [listing])
    session.flush()
    return listing


def due(session: Session, shop_id: uuid.UUID, now: datetime, limit: int) -> list[Listing]:
    """The shop's listings a push should send now: pending ones, and failed ones whose next
    attempt has come (oldest first)."""
    stmt = (
        select(Listing)
        .where(
            Listing.shop_id == shop_id,
            Listing.sync_status.in_([SyncStatus.pending, SyncStatus.failed]),
            (Listing.next_attempt_at.is_(None) & (Listing.sync_status == SyncStatus.pending))
            | (Listing.next_attempt_at <= now),
        )
        .order_by(Listing.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def shops_with_due(session: Session, now: datetime) -> list[uuid.UUID]:
    """The bound tenant's shops with a listing to push now (the sweep enqueues a push each)."""
    stmt = (
        select(Listing.shop_id)
        .where(
            Listing.sync_status.in_([SyncStatus.pending, SyncStatus.failed]),
            (Listing.next_attempt_at.is_(None) & (Listing.sync_status == SyncStatus.pending))
            | (Listing.next_attempt_at <= now),
        )
        .distinct()
    )
    return list(session.scalars(stmt))
