"""Listing prices (价格): list, sale and prior ("was") price, the margin floor on every price set,
audited overrides, and scheduled price lists applied and restored by beat.

Every price goes through the margin floor (:mod:`.floors`) on what a buyer pays (the sale price
while there is one): ``block`` refuses it with a 422 naming the SKU, the floor and the price,
``warn`` accepts it and flags the listing, ``off`` says nothing. A user with ``prices:override``
may give a reason instead: the price is used, the listing says so, and the audit log keeps who,
which price, which floor and why.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import instant, utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.storefront import floors, repository
from daiyun.platform.storefront.changes import get, mark_changed
from daiyun.platform.storefront.listing_rules import PriceListStatus, effective_price
from daiyun.platform.storefront.listing_schemas import (
    PriceListCreate,
    PriceListItemRead,
    PriceListRead,
    PriceSet,
)
from daiyun.platform.storefront.models import Listing, PriceList, PriceListItem, Sku

if TYPE_CHECKING:
    from daiyun.platform.storefront.schemas import PriceCheck


def _verdict(
    session: Session, listing: Listing, sku: Sku, price: int, reason: str | None, can_override: bool
) -> tuple[PriceCheck, bool]:
    """The floor's check of ``price`` and whether it is used by an override (403 when a reason
    is given without ``prices:override``; the floor's 422 when blocked and not overridden)."""
    if reason is not None and not can_override:
        raise Problem(403, "forbidden", "Overriding the margin floor needs prices:override")
    check = floors.check_price(session, sku.id, price, listing.currency)
    if check.allowed:
        return check, False
    if reason is None:
        floors.enforce_price(session, sku.id, price, listing.currency)  # the floor's 422
    return check, True


def check_and_set(
    session: Session,
    listing: Listing,
    sku: Sku,
    list_price: int,
    sale_price: int | None,
    reason: str | None,
    *,
    can_override: bool,
    first: bool = False,
) -> bool:
    """Put new prices on ``listing`` once the floor allows them; returns whether what a buyer
    pays changed. The price before becomes the prior price (not on the first price)."""
    price = effective_price(list_price, sale_price)
    check, overridden = _verdict(session, listing, sku, price, reason, can_override)
    before = None if first else effective_price(listing.list_price_minor, listing.sale_price_minor)
    changed = before != price or listing.list_price_minor != list_price
    if before is not None and before != price:
        listing.prior_price_minor = before
    listing.list_price_minor, listing.sale_price_minor = list_price, sale_price
    listing.price_overridden = overridden
    if overridden:
        listing.floor_flag = f"Overridden: {reason}"[:400]
        audit.record(
            session,
            "catalog.price.overridden",
            f"listing:{listing.id}",
            {
                "sku": check.code,
                "price_minor": price,
                "floor_minor": check.floor_minor,
                "currency": listing.currency,
                "reason": reason,
            },
        )
    elif check.flagged:
        listing.floor_flag = (
            f"Under the margin floor: {price:,} < {check.floor_minor:,} {listing.currency} minor "
            f"units (cost {check.cost_minor:,} × (1 + {check.minimum_margin}), {check.source})"
        )
    else:
        listing.floor_flag = None
    return changed


def set_price(
    session: Session, listing_id: uuid.UUID, body: PriceSet, *, can_override: bool
) -> Listing:
    """Give a listing new prices; a listed one is pushed to its marketplace."""
    listing = get(session, listing_id, lock=True)
    sku = repository.get_sku(session, listing.sku_id)
    assert sku is not None  # the foreign key keeps it
    if check_and_set(
        session,
        listing,
        sku,
        body.list_price_minor,
        body.sale_price_minor,
        body.override_reason,
        can_override=can_override,
    ):
        mark_changed(session, [listing])
    session.flush()
    return listing


# --------------------------------------------------------------------------------------------
# Scheduled price lists
# --------------------------------------------------------------------------------------------


def read_list(session: Session, price_list: PriceList) -> PriceListRead:
    items = session.scalars(
        select(PriceListItem)
        .where(PriceListItem.price_list_id == price_list.id)
        .order_by(PriceListItem.id)
    )
    return PriceListRead(
        id=price_list.id,
        name=price_list.name,
        starts_at=price_list.starts_at,
        ends_at=price_list.ends_at,
        status=price_list.status,
        applied_at=price_list.applied_at,
        ended_at=price_list.ended_at,
        items=[PriceListItemRead.model_validate(i) for i in items],
        created_at=price_list.created_at,
    )


def get_list(session: Session, price_list_id: uuid.UUID) -> PriceList:
    found = session.scalar(select(PriceList).where(PriceList.id == price_list_id))
    if found is None:
        raise Problem(404, "not-found", "No such price list")
    return found


def find_lists(
    session: Session, status: PriceListStatus | None, cursor: str | None, limit: int
) -> tuple[list[PriceListRead], str | None]:
    stmt = select(PriceList)
    if status is not None:
        stmt = stmt.where(PriceList.status == status)
    rows, next_cursor = paginate(session, stmt, PriceList.id, cursor, limit)
    return [read_list(session, row) for row in rows], next_cursor


def create_list(session: Session, body: PriceListCreate, *, can_override: bool) -> PriceList:
    """Schedule a price list. Its prices meet the margin floor as of now (or carry a permitted
    override, audited now); each listing once; it ends after it starts and in the future."""
    starts = instant("starts_at", body.starts_at)
    ends = instant("ends_at", body.ends_at)
    assert starts is not None and ends is not None
    if ends <= starts:
        raise Problem(422, "empty-period", "A price list ends after it starts")
    if ends <= utcnow():
        raise Problem(422, "period-over", "This price list would already be over")
    ids = [item.listing_id for item in body.items]
    if len(set(ids)) != len(ids):
        raise Problem(422, "duplicate-listing", "A listing is named twice in the price list")
    found = {
        listing.id: listing
        for listing in session.scalars(select(Listing).where(Listing.id.in_(ids)))
    }
    missing = sorted(str(i) for i in set(ids) - set(found))
    if missing:
        raise Problem(422, "unknown-listing", f"No such listings: {', '.join(missing)}")
    skus = repository.skus_by_id(session, {listing.sku_id for listing in found.values()})
    price_list = PriceList(name=body.name, starts_at=starts, ends_at=ends)
    session.add(price_list)
    session.flush()
    for item in body.items:
        listing = found[item.listing_id]
        price = effective_price(item.list_price_minor, item.sale_price_minor)
        check, overridden = _verdict(
            session, listing, skus[listing.sku_id], price, item.override_reason, can_override
        )
        if overridden:
            audit.record(
                session,
                "catalog.price.overridden",
                f"price_list:{price_list.id}",
                {
                    "listing": str(listing.id),
                    "sku": check.code,
                    "price_minor": price,
                    "floor_minor": check.floor_minor,
                    "currency": listing.currency,
                    "reason": item.override_reason,
                },
            )
        session.add(
            PriceListItem(
                price_list_id=price_list.id,
                listing_id=listing.id,
                list_price_minor=item.list_price_minor,
                sale_price_minor=item.sale_price_minor,
                override_reason=item.override_reason if overridden else None,
            )
        )
    session.flush()
    return price_list


def _claim(
    session: Session,
    price_list: PriceList,
    old: PriceListStatus,
    new: PriceListStatus,
    at: datetime,
) -> bool:
    """Move a list from ``old`` to ``new`` unless another run did first: one conditional
    UPDATE, so a task running twice, or two at once, applies (or restores) a list once."""
    stamp = {"applied_at": at} if new is PriceListStatus.active else {"ended_at": at}
    result = session.execute(
        update(PriceList)
        .where(PriceList.id == price_list.id, PriceList.status == old)
        .values(status=new, **stamp)
        .execution_options(synchronize_session=False)
    )
    claimed = bool(getattr(result, "rowcount", 0) == 1)
    if claimed:
        session.refresh(price_list)
    return claimed


def _items(session: Session, price_list: PriceList) -> list[tuple[PriceListItem, Listing]]:
    rows = session.execute(
        select(PriceListItem, Listing)
        .join(Listing, Listing.id == PriceListItem.listing_id)
        .where(PriceListItem.price_list_id == price_list.id)
        .order_by(PriceListItem.id)
        .with_for_update()
    )
    return [(item, listing) for item, listing in rows]


def run_due(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Apply the bound tenant's price lists whose start has come and restore those whose end
    has; the listings they change are pushed. Safe to run twice or concurrently."""
    now = now or utcnow()
    counts = {"applied": 0, "ended": 0}
    due = session.scalars(
        select(PriceList)
        .where(PriceList.status == PriceListStatus.scheduled, PriceList.starts_at <= now)
        .order_by(PriceList.starts_at, PriceList.id)
    ).all()
    for price_list in due:
        if not _claim(session, price_list, PriceListStatus.scheduled, PriceListStatus.active, now):
            continue
        changed = []
        for item, listing in _items(session, price_list):
            item.previous_list_price_minor = listing.list_price_minor
            item.previous_sale_price_minor = listing.sale_price_minor
            item.previous_prior_price_minor = listing.prior_price_minor
            _apply(
                session, listing, item.list_price_minor, item.sale_price_minor, item.override_reason
            )
            changed.append(listing)
        mark_changed(session, changed)
        counts["applied"] += 1
    ending = session.scalars(
        select(PriceList)
        .where(PriceList.status == PriceListStatus.active, PriceList.ends_at <= now)
        .order_by(PriceList.ends_at, PriceList.id)
    ).all()
    for price_list in ending:
        if not _claim(session, price_list, PriceListStatus.active, PriceListStatus.ended, now):
            continue
        changed = []
        for item, listing in _items(session, price_list):
            # A price changed since the list applied is a later decision: it stays.
            unchanged = (listing.list_price_minor, listing.sale_price_minor) == (
                item.list_price_minor,
                item.sale_price_minor,
            )
            if item.previous_list_price_minor is None or not unchanged:
                continue
            listing.list_price_minor = item.previous_list_price_minor
            listing.sale_price_minor = item.previous_sale_price_minor
            listing.prior_price_minor = item.previous_prior_price_minor
            listing.price_overridden = False
            listing.floor_flag = None
            changed.append(listing)
        mark_changed(session, changed)
        counts["ended"] += 1
    session.flush()
    return counts


def _apply(
    session: Session, listing: Listing, list_price: int, sale_price: int | None, reason: str | None
) -> None:
    """A scheduled price taking effect: checked against the floor as it is now; one the floor
    blocks now is still used when its override was given (and audited) at scheduling."""
    sku = repository.get_sku(session, listing.sku_id)
    assert sku is not None
    try:
        check_and_set(session, listing, sku, list_price, sale_price, reason, can_override=True)
    except Problem as exc:
        # The cost or the floor moved since the list was scheduled: the price is not used,
        # and the listing says why.
        listing.floor_flag = f"Scheduled price not applied: {exc.detail}"[:400]
