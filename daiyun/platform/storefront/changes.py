"""Finding a listing and recording that it changed: what listings, prices and the push share.

A change the marketplace must hear of bumps the listing's ``version``, marks it pending and
writes one ``listing.changed`` event per shop to the outbox, in the transaction of the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.errors import Problem
from daiyun.core.events.service import emit
from daiyun.platform.storefront.listing_rules import SyncStatus, action_for
from daiyun.platform.storefront.models import Listing

CHANGED = "listing.changed"


def get(session: Session, listing_id: uuid.UUID, *, lock: bool = False) -> Listing:
    stmt = select(Listing).where(Listing.id == listing_id)
    if lock:
        stmt = stmt.with_for_update()
    listing = session.scalar(stmt)
    if listing is None:
        raise Problem(404, "not-found", "No such listing")
    return listing


def mark_changed(session: Session, listings: Iterable[Listing]) -> None:
    """Record that these listings need pushing: version bumped, pending, one outbox event per
    shop naming them (a listing with nothing to send is left as it is)."""
    by_shop: dict[uuid.UUID, list[str]] = {}
    for listing in listings:
        listing.version += 1
        if action_for(listing.state, listing.pushed.get("state")) is None:
            # Nothing the marketplace has to hear of (a draft's price, an unlist of a listing
            # that never reached it).
            listing.sync_status = listing.next_attempt_at = None
            continue
        listing.sync_status = SyncStatus.pending
        listing.sync_attempts = 0
        listing.next_attempt_at = None
        by_shop.setdefault(listing.shop_id, []).append(str(listing.id))
    for shop_id, ids in by_shop.items():
        emit(session, CHANGED, {"shop_id": str(shop_id), "listing_ids": ids})
