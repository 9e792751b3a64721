"""Bulk edits of the catalog (批量编辑), as a background job.

The products a filter selects get a new status, a new category, or their listings' list price
changed by a percentage. The selection is walked in id order, a page per transaction committed
with the job's progress (the last product done), so a resumed run goes on after it and never
applies a change twice (a price raised 10 % is raised once).

Every new price goes through the margin floor as the import's do: a price a ``block`` floor
refuses leaves its listing as it was and is reported (row: the product's place in the
selection; column ``list_price_minor``), a ``warn`` floor flags the listing. ``updated_count``
counts products and listings changed, ``skipped_count`` listings left as they were.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.events.service import emit_many, pending_event
from daiyun.core.ids import utcnow
from daiyun.platform.storefront import changes as changes_
from daiyun.platform.storefront import costs, jobs, listing_rules, repository, rules
from daiyun.platform.storefront.import_rows import Context
from daiyun.platform.storefront.jobs import table as core_table
from daiyun.platform.storefront.models import CatalogJob, Listing, Product
from daiyun.platform.storefront.schemas import (
    BulkEditCreate,
    CatalogFilter,
    JobKind,
    JobState,
)

PAGE = 200


def start(session: Session, body: BulkEditCreate, user_id: uuid.UUID | None) -> CatalogJob:
    """Queue a bulk edit: at least one change, a category and shop of the tenant's (422)."""
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"filter", "shop_id"})
    if not changes:
        raise Problem(
            422, "nothing-to-change", "Give a status, a category_id or a price_change_percent"
        )
    jobs.check_filter(session, body.filter)
    jobs.check_shop(session, body.shop_id)
    if body.category_id is not None and repository.get_category(session, body.category_id) is None:
        raise Problem(422, "unknown-category", f"There is no category {body.category_id}")
    options = {
        "filter": body.filter.model_dump(mode="json"),
        "shop_id": str(body.shop_id) if body.shop_id else None,
        "changes": changes,
    }
    return jobs.create(session, JobKind.bulk_edit, options, user_id=user_id)


def new_price(price: int, percent: Decimal) -> int:
    """``price`` changed by ``percent``, rounded half up to the minor unit."""
    exact = Decimal(price) * (100 + percent) / 100
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def run(tenant_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """Apply the edit a page of products at a time, from where the last run stopped."""
    with unit_of_work(tenant_id) as session:
        job = jobs.load(session, job_id)
        job.state = JobState.writing
    while True:
        with unit_of_work(tenant_id) as session:
            job = jobs.load(session, job_id)
            given = CatalogFilter.model_validate(job.options["filter"])
            after = job.options.get("after")
            stmt = jobs.selection(session, given)
            if after:
                stmt = stmt.where(Product.id > uuid.UUID(after))
            products = list(session.scalars(stmt.order_by(Product.id).limit(PAGE)))
            if not products:
                jobs.finish(session, job, JobState.succeeded)
                return
            _apply(session, job, products)
            job.options = {**job.options, "after": str(products[-1].id)}
            job.written_rows += len(products)
            job.total_rows = job.written_rows


def _apply(session: Session, job: CatalogJob, products: list[Product]) -> None:
    changes: dict[str, Any] = job.options["changes"]
    tenant = job.tenant_id
    now = utcnow()
    changed: list[Product] = []
    for product in products:
        moved = "category_id" in changes and str(product.category_id or "") != str(
            changes["category_id"] or ""
        )
        restated = "status" in changes and product.status.value != changes["status"]
        if moved or restated:
            changed.append(product)
    if changed:
        table = core_table(Product)
        keep_status = "status" not in changes
        keep_category = "category_id" not in changes
        category = uuid.UUID(changes["category_id"]) if changes.get("category_id") else None
        stmt = (
            update(table)
            .where(table.c.tenant_id == tenant, table.c.id == bindparam("b_id"))
            .values(
                status=table.c.status if keep_status else changes["status"],
                category_id=table.c.category_id if keep_category else category,
                updated_at=now,
            )
        )
        session.execute(stmt, [{"b_id": p.id} for p in changed])
        emit_many(
            session,
            [
                pending_event(
                    tenant,
                    "catalog.product.updated",
                    {"product_id": str(p.id), "status": changes.get("status", p.status.value)},
                    now,
                )
                for p in changed
            ],
        )
    job.updated_count += len(changed)
    if "price_change_percent" in changes:
        start_at = job.written_rows
        _reprice(session, job, products, Decimal(str(changes["price_change_percent"])), start_at)


def _reprice(
    session: Session, job: CatalogJob, products: list[Product], percent: Decimal, start_at: int
) -> None:
    """Change the list price of the listings of ``products``' SKUs (on the job's shop, or on
    all), each through its margin floor."""
    place = {p.id: start_at + n for n, p in enumerate(products, start=1)}
    changes = job.options["changes"]
    category_of = {
        p.id: (
            uuid.UUID(changes["category_id"])
            if changes.get("category_id")
            else None
            if "category_id" in changes
            else p.category_id
        )
        for p in products
    }
    skus = {s.id: s for p in products for s in p.skus}
    if not skus:
        return
    stmt = select(Listing).where(Listing.sku_id.in_(list(skus)))
    if job.options.get("shop_id"):
        stmt = stmt.where(Listing.shop_id == uuid.UUID(job.options["shop_id"]))
    listings = list(session.scalars(stmt.order_by(Listing.id)))
    graph = costs.load(session, set(skus))
    ctx = Context.load(session)
    problems: list[tuple[int, str, str]] = []
    repriced: list[Listing] = []
    for listing in listings:
        sku = skus[listing.sku_id]
        price = new_price(listing.list_price_minor, percent)
        row = place[sku.product_id]
        if not listing_rules.MIN_PRICE_MINOR <= price <= listing_rules.MAX_PRICE_MINOR:
            problems.append((row, "list_price_minor", f"{sku.code}: {price:,} is out of range"))
            continue
        if price == listing.list_price_minor:
            continue
        source, floor = ctx.floor(sku.id, category_of[sku.product_id])
        effective = listing_rules.effective_price(price, listing.sale_price_minor)
        verdict = rules.check_price(effective, graph.cost(sku.id), floor)
        text = (
            f"{sku.code} on shop {listing.shop_id}: a price of {effective:,} is under the "
            f"margin floor of {verdict.floor_minor:,} (set by {source})"
        )
        if not verdict.allowed:
            problems.append((row, "list_price_minor", text))
            continue
        # As a price set in the API (``prices``): what a buyer paid before is the prior price.
        before = listing_rules.effective_price(listing.list_price_minor, listing.sale_price_minor)
        if before != effective:
            listing.prior_price_minor = before
        listing.list_price_minor = price
        listing.price_overridden = False
        listing.floor_flag = text if verdict.flagged else None
        repriced.append(listing)
    changes_.mark_changed(session, repriced)
    session.flush()
    jobs.add_problems(session, job, problems)
    job.updated_count += len(repriced)
    job.skipped_count += len(problems)
