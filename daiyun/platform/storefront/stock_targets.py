"""What the warehouse's stock sync reads of the catalog: the listings a SKU's stock reaches on
the marketplaces (its own and those of the bundles made of it) and the parts of bundles.

A listing takes stock pushes once the marketplace has it: published and acknowledged by a
listing push at least once (before that there is nothing on the marketplace to set).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from daiyun.platform.storefront.listing_rules import ListingState
from daiyun.platform.storefront.models import BundlePart, Listing, Sku

# Ids per IN list: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 1000


@dataclass(frozen=True)
class StockTarget:
    listing_id: uuid.UUID
    shop_id: uuid.UUID
    sku_id: uuid.UUID
    sku_code: str
    product_id: str | None
    external_sku_id: str | None
    inventory_item_id: str | None


def _chunks(ids: Collection[uuid.UUID]) -> list[list[uuid.UUID]]:
    items = sorted(ids)
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def bundles_containing(session: Session, part_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for chunk in _chunks(part_ids):
        stmt = select(BundlePart.bundle_id).where(BundlePart.part_id.in_(chunk))
        found.update(session.scalars(stmt))
    return found


def bundle_parts(
    session: Session, bundle_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, int]]]:
    """Each bundle's (part, quantity) list; SKUs that are no bundle are absent."""
    parts: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = defaultdict(list)
    for chunk in _chunks(bundle_ids):
        stmt = select(BundlePart).where(BundlePart.bundle_id.in_(chunk))
        for row in session.scalars(stmt):
            parts[row.bundle_id].append((row.part_id, row.quantity))
    return dict(parts)


def _targets(stmt: Any) -> Any:
    return stmt.where(Listing.state == ListingState.published, Listing.pushed_version > 0)


def targets(
    session: Session,
    *,
    sku_ids: Collection[uuid.UUID] | None = None,
    shop_id: uuid.UUID | None = None,
    listing_ids: Collection[uuid.UUID] | None = None,
) -> list[StockTarget]:
    """The listings on the marketplaces of these SKUs (or of this shop, or these listings)."""
    base = _targets(select(Listing, Sku.code).join(Sku, Sku.id == Listing.sku_id))
    if shop_id is not None:
        base = base.where(Listing.shop_id == shop_id)
    stmts: list[Select[Any]] = []
    if sku_ids is not None:
        stmts = [base.where(Listing.sku_id.in_(c)) for c in _chunks(sku_ids)]
    elif listing_ids is not None:
        stmts = [base.where(Listing.id.in_(c)) for c in _chunks(listing_ids)]
    else:
        stmts = [base]
    found = []
    for stmt in stmts:
        for listing, code in session.execute(stmt.order_by(Listing.id)):
            found.append(
                StockTarget(
                    listing_id=listing.id,
                    shop_id=listing.shop_id,
                    sku_id=listing.sku_id,
                    sku_code=code,
                    product_id=listing.external_product_id,
                    external_sku_id=listing.external_sku_id,
                    inventory_item_id=listing.external_inventory_item_id,
                )
            )
    return found
