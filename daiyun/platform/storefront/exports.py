"""CSV export of the catalog (商品导出), as a background job.

One row per SKU of the products the filter selects (bundles left out: they are made in the API),
in the columns an import reads, so a file exported, edited and imported again changes what was
edited and nothing else. With ``shop_id`` the SKUs' listing prices on that shop are filled in.

Every cell goes through the project's CSV writer (``core.csv_export``): a product named
``=HYPERLINK(...)`` opens in a spreadsheet as the text it is. The file is written a page of
products per transaction, each page a stored piece of the file committed with the job's
progress (the last product written), so a resumed run goes on after it.
"""

from __future__ import annotations

import io
import json
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import csv_export
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.platform.storefront import jobs
from daiyun.platform.storefront.import_rows import COLUMNS
from daiyun.platform.storefront.models import CatalogJob, CatalogJobChunk, Listing, Product, Sku
from daiyun.platform.storefront.schemas import CatalogFilter, ExportCreate, JobKind, JobState

PAGE = 500


def start(session: Session, body: ExportCreate, user_id: uuid.UUID | None) -> CatalogJob:
    """Queue an export of the products ``body.filter`` selects (422 for a category or shop
    that is not the tenant's)."""
    jobs.check_filter(session, body.filter)
    jobs.check_shop(session, body.shop_id)
    return jobs.create(
        session, JobKind.export, body.model_dump(mode="json"), user_id=user_id, filename=None
    )


def _page(session: Session, given: CatalogFilter, after: uuid.UUID | None) -> list[Product]:
    stmt = jobs.selection(session, given)
    if after is not None:
        stmt = stmt.where(Product.id > after)
    return list(session.scalars(stmt.order_by(Product.id).limit(PAGE)))


def _rows(
    session: Session, products: list[Product], shop_id: uuid.UUID | None
) -> list[list[object]]:
    skus = [s for p in products for s in p.skus if not s.is_bundle]
    prices: dict[uuid.UUID, tuple[int, int | None]] = {}
    if shop_id is not None and skus:
        stmt = select(Listing.sku_id, Listing.list_price_minor, Listing.sale_price_minor).where(
            Listing.shop_id == shop_id, Listing.sku_id.in_([s.id for s in skus])
        )
        prices = {sku_id: (lp, sp) for sku_id, lp, sp in session.execute(stmt)}
    rows: list[list[object]] = []
    for product in products:
        for sku in product.skus:
            if sku.is_bundle:
                continue
            price = prices.get(sku.id)
            rows.append(_row(product, sku, shop_id if price else None, price))
    return rows


def _row(
    product: Product, sku: Sku, shop_id: uuid.UUID | None, price: tuple[int, int | None] | None
) -> list[object]:
    values: dict[str, object] = {
        "product": product.name,
        "brand": product.brand,
        "description": product.description,
        "category_id": str(product.category_id) if product.category_id else None,
        "product_status": product.status.value,
        "code": sku.code,
        "barcode": sku.barcode,
        "attributes": json.dumps(sku.attributes, ensure_ascii=False) if sku.attributes else None,
        "weight_grams": sku.weight_grams,
        "length_mm": sku.length_mm,
        "width_mm": sku.width_mm,
        "height_mm": sku.height_mm,
        "cost_minor": sku.cost_minor,
        "currency": sku.currency,
        "status": sku.status.value,
        "shop_id": str(shop_id) if shop_id else None,
        "list_price_minor": price[0] if price else None,
        "sale_price_minor": price[1] if price else None,
    }
    return [values[c] for c in COLUMNS]


def _csv(rows: list[list[object]], header: bool) -> bytes:
    out = io.StringIO()
    writer = csv_export.writer(out)
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def run(tenant_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """Write the export a page of products at a time, from where the last run stopped."""
    with unit_of_work(tenant_id) as session:
        job = jobs.load(session, job_id)
        job.state = JobState.writing
    while True:
        with unit_of_work(tenant_id) as session:
            job = jobs.load(session, job_id)
            body = ExportCreate.model_validate(
                {k: v for k, v in job.options.items() if k != "after"}
            )
            after = job.options.get("after")
            products = _page(session, body.filter, uuid.UUID(after) if after else None)
            if not products:
                if job.written_rows == 0:  # nothing selected: the file is its header
                    session.add(
                        CatalogJobChunk(job_id=job.id, part="result", seq=0, data=_csv([], True))
                    )
                jobs.finish(session, job, JobState.succeeded)
                return
            rows = _rows(session, products, body.shop_id)
            seq = job.written_rows  # pages written so far: this page's piece number
            session.add(
                CatalogJobChunk(
                    job_id=job.id, part="result", seq=seq, data=_csv(rows, header=seq == 0)
                )
            )
            job.options = {**job.options, "after": str(products[-1].id)}
            job.written_rows += 1
            job.total_rows += len(rows)
            job.checked_rows += len(products)


def download(session: Session, job_id: uuid.UUID) -> CatalogJob:
    """A finished export whose file may be read (409 while it is being written)."""
    job = jobs.get(session, job_id, JobKind.export)
    if job.state is not JobState.succeeded:
        raise Problem(409, "export-not-ready", f"The export is {job.state.value}, not finished")
    return job
