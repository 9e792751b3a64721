"""Import writes (商品导入): a batch of checked rows into the catalog, set-based.

New products and SKUs go in with one Core ``executemany`` INSERT each, existing ones change with
one ``executemany`` UPDATE each (a column the file left out keeps its value: each row says so
in a flag the statement reads), listings are priced the same way, and the events go to the
outbox in one more. Rows carry their tenant explicitly: PostgreSQL's row security checks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from daiyun.core.events.service import emit_many, pending_event
from daiyun.core.ids import new_id, utcnow
from daiyun.platform.storefront import listing_rules
from daiyun.platform.storefront.changes import CHANGED
from daiyun.platform.storefront.import_rows import (
    IN_CHUNK,
    PRODUCT_FIELDS,
    SKU_FIELDS,
    Checked,
    ImportRow,
)
from daiyun.platform.storefront.jobs import table as core_table
from daiyun.platform.storefront.listing_rules import ListingState, SyncStatus
from daiyun.platform.storefront.models import Listing, Product, Sku
from daiyun.platform.storefront.schemas import CatalogStatus

IMPORTED = "catalog.skus.imported"


def write_batch(session: Session, groups: list[list[Checked]]) -> tuple[int, int]:
    """Write a batch's valid rows: new products and SKUs inserted, existing ones updated, each
    kind in one executemany; listings priced. Returns (SKUs created, SKUs updated).

    The batch is one ``catalog.skus.imported`` event naming the products made and the SKUs
    made and changed (hex ids): a file of 100,000 rows is some fifty events, not 100,000."""
    tenant = session.info["tenant_id"]
    now = utcnow()
    new_products: list[dict[str, Any]] = []
    product_changes: list[dict[str, Any]] = []
    new_skus: list[dict[str, Any]] = []
    sku_changes: list[dict[str, Any]] = []
    made: list[str] = []
    created: list[str] = []
    updated: list[str] = []
    priced: list[tuple[uuid.UUID, Checked]] = []
    for group in groups:
        if not group:
            continue
        head = group[0]
        product_id = head.product_id
        if product_id is None:
            product_id = new_id()
            new_products.append(_new_product(tenant, product_id, head, now))
            made.append(product_id.hex)
        else:
            product_changes.append(_product_change(product_id, head, now))
        for checked in group:
            sku_id = checked.sku_id
            if sku_id is None:
                sku_id = new_id()
                new_skus.append(_new_sku(tenant, sku_id, product_id, checked.row, now))
                created.append(sku_id.hex)
            else:
                sku_changes.append(_sku_change(sku_id, checked, now))
                updated.append(sku_id.hex)
            if checked.row.shop_id is not None and checked.row.list_price_minor is not None:
                priced.append((sku_id, checked))
    if new_products:
        session.execute(insert(core_table(Product)), new_products)
    if new_skus:
        session.execute(insert(core_table(Sku)), new_skus)
    _update_products(session, tenant, product_changes)
    _update_skus(session, tenant, sku_changes)
    _price_listings(session, tenant, priced, now)
    if created or updated:
        payload = {"product_ids": made, "created_sku_ids": created, "updated_sku_ids": updated}
        emit_many(session, [pending_event(tenant, IMPORTED, payload, now)])
    return len(new_skus), sum(len(g) for g in groups) - len(new_skus)


def _new_product(
    tenant: uuid.UUID, product_id: uuid.UUID, head: Checked, now: datetime
) -> dict[str, Any]:
    row = head.row
    return {
        "tenant_id": tenant,
        "id": product_id,
        "name": row.product,
        "description": row.description,
        "category_id": row.category_id,
        "brand": row.brand,
        "status": row.product_status or CatalogStatus.draft,
        "created_at": now,
        "updated_at": now,
    }


def _product_change(product_id: uuid.UUID, head: Checked, now: datetime) -> dict[str, Any]:
    # Every row of one executemany names the same columns: a column the file left out keeps
    # the stored value through COALESCE-free means, by being read back as it is (b_keep_*).
    row = head.row
    return {
        "b_id": product_id,
        "b_name": row.product,
        **{f"b_{f}": getattr(row, f) for f in PRODUCT_FIELDS},
        **{f"b_keep_{f}": f not in head.given for f in PRODUCT_FIELDS},
        "b_keep_product_status": row.product_status is None,
        "b_now": now,
    }


def _new_sku(
    tenant: uuid.UUID, sku_id: uuid.UUID, product_id: uuid.UUID, row: ImportRow, now: datetime
) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "id": sku_id,
        "product_id": product_id,
        "code": row.code,
        "barcode": row.barcode,
        "attributes": dict(row.attributes),
        "weight_grams": row.weight_grams,
        "length_mm": row.length_mm,
        "width_mm": row.width_mm,
        "height_mm": row.height_mm,
        "is_bundle": False,
        "cost_minor": row.cost_minor,
        "currency": row.currency,
        "status": row.status or CatalogStatus.active,
        "created_at": now,
        "updated_at": now,
    }


def _sku_change(sku_id: uuid.UUID, checked: Checked, now: datetime) -> dict[str, Any]:
    row = checked.row
    return {
        "b_id": sku_id,
        **{f"b_{f}": getattr(row, f) for f in SKU_FIELDS},
        **{f"b_keep_{f}": f not in checked.given for f in SKU_FIELDS},
        "b_cost_minor": row.cost_minor,
        "b_status": row.status,
        "b_keep_status": row.status is None,
        "b_now": now,
    }


def _kept(table: Any, fields: Sequence[str]) -> dict[str, Any]:
    """``column = CASE WHEN :b_keep_x THEN column ELSE :b_x END`` for each field."""
    return {
        f: case(
            (bindparam(f"b_keep_{f}", type_=Boolean), table.c[f]),
            else_=bindparam(f"b_{f}", type_=table.c[f].type),
        )
        for f in fields
    }


def _update_products(session: Session, tenant: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = core_table(Product)
    columns = {"brand", "description", "category_id"}
    values = _kept(table, sorted(columns))
    values["status"] = case(
        (bindparam("b_keep_product_status", type_=Boolean), table.c.status),
        else_=bindparam("b_product_status", type_=table.c.status.type),
    )
    stmt = (
        update(table)
        .where(table.c.tenant_id == tenant, table.c.id == bindparam("b_id"))
        .values(name=bindparam("b_name"), updated_at=bindparam("b_now"), **values)
    )
    session.execute(stmt, rows)


def _update_skus(session: Session, tenant: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = core_table(Sku)
    values = _kept(table, [*SKU_FIELDS, "status"])
    stmt = (
        update(table)
        .where(table.c.tenant_id == tenant, table.c.id == bindparam("b_id"))
        .values(cost_minor=bindparam("b_cost_minor"), updated_at=bindparam("b_now"), **values)
    )
    session.execute(stmt, rows)


def _price_listings(
    session: Session, tenant: uuid.UUID, priced: list[tuple[uuid.UUID, Checked]], now: datetime
) -> None:
    """Each priced row's listing on its shop takes the row's prices, or is made as a draft.

    As a price set in the API does (``prices``, ``changes.mark_changed``): what a buyer paid
    before becomes the prior price when it changes; the version is bumped; a listing the
    marketplace must hear of is marked pending and named in one ``listing.changed`` event per
    shop, which its push task follows."""
    if not priced:
        return
    ids = sorted({sku_id for sku_id, _ in priced})
    found: dict[tuple[uuid.UUID, uuid.UUID], Any] = {}
    for at in range(0, len(ids), IN_CHUNK):
        stmt = select(
            Listing.id,
            Listing.sku_id,
            Listing.shop_id,
            Listing.list_price_minor,
            Listing.sale_price_minor,
            Listing.prior_price_minor,
            Listing.state,
            Listing.pushed,
        ).where(Listing.sku_id.in_(ids[at : at + IN_CHUNK]))
        for row in session.execute(stmt):
            found[(row.sku_id, row.shop_id)] = row
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    pushed_by_shop: dict[uuid.UUID, list[str]] = {}
    for sku_id, checked in priced:
        given = checked.row
        assert given.shop_id is not None and given.list_price_minor is not None
        listing = found.get((sku_id, given.shop_id))
        if listing is None:
            new.append(_new_listing(tenant, sku_id, checked, now))
            continue
        if (listing.list_price_minor, listing.sale_price_minor) == (
            given.list_price_minor,
            given.sale_price_minor,
        ):
            continue
        before = listing_rules.effective_price(listing.list_price_minor, listing.sale_price_minor)
        after = listing_rules.effective_price(given.list_price_minor, given.sale_price_minor)
        live = listing_rules.action_for(listing.state, (listing.pushed or {}).get("state"))
        if live is not None:
            pushed_by_shop.setdefault(listing.shop_id, []).append(str(listing.id))
        changed.append(
            {
                "b_id": listing.id,
                "b_list": given.list_price_minor,
                "b_sale": given.sale_price_minor,
                "b_prior": before if before != after else listing.prior_price_minor,
                "b_flag": checked.floor_flag,
                "b_sync": SyncStatus.pending if live is not None else None,
                "b_now": now,
            }
        )
    if new:
        session.execute(insert(core_table(Listing)), new)
    if changed:
        table = core_table(Listing)
        update_stmt = (
            update(table)
            .where(table.c.tenant_id == tenant, table.c.id == bindparam("b_id"))
            .values(
                list_price_minor=bindparam("b_list"),
                sale_price_minor=bindparam("b_sale"),
                prior_price_minor=bindparam("b_prior"),
                floor_flag=bindparam("b_flag"),
                price_overridden=False,
                sync_status=bindparam("b_sync", type_=table.c.sync_status.type),
                sync_attempts=0,
                next_attempt_at=None,
                version=table.c.version + 1,
                updated_at=bindparam("b_now"),
            )
        )
        session.execute(update_stmt, changed)
    emit_many(
        session,
        [
            pending_event(
                tenant, CHANGED, {"shop_id": str(shop_id), "listing_ids": listing_ids}, now
            )
            for shop_id, listing_ids in pushed_by_shop.items()
        ],
    )


def _new_listing(
    tenant: uuid.UUID, sku_id: uuid.UUID, checked: Checked, now: datetime
) -> dict[str, Any]:
    row = checked.row
    return {
        "tenant_id": tenant,
        "id": new_id(),
        "sku_id": sku_id,
        "shop_id": row.shop_id,
        "title": row.product,
        "state": ListingState.draft,
        "currency": row.currency,
        "list_price_minor": row.list_price_minor,
        "sale_price_minor": row.sale_price_minor,
        "prior_price_minor": None,
        "floor_flag": checked.floor_flag,
        "price_overridden": False,
        "version": 0,
        "pushed_version": 0,
        "pushed": {},
        "sync_attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
