"""The catalog's part of the isolation tests (the interface: tests/platform/warehouse/isolation.py).

It comes first among the parts: the others stock, list and promote the SKU it seeds (``part_id``).
The catalog's rows for the ORM guard are part of the guard's own seed (tests/tenants/guard/seed.py),
since every other department's rows hang from them.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.storefront import bulk, changes, exports, imports, listings, prices, runner
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront.listing_rules import ListingState, SyncStatus
from daiyun.platform.storefront.listing_schemas import (
    ListingCreate,
    PriceListCreate,
    PriceListItemIn,
)
from daiyun.platform.storefront.models import (
    BundlePart,
    CatalogJob,
    CatalogSettings,
    Category,
    Listing,
    MarginFloor,
    PriceList,
    PriceListItem,
    Product,
    Sku,
    SkuMapping,
)
from daiyun.platform.storefront.schemas import (
    BulkEditCreate,
    BundleCreate,
    CatalogStatus,
    CategoryCreate,
    ExportCreate,
    PartIn,
    ProductCreate,
    SkuCreate,
)
from tests.authz import ORDER_READERS, TENANT, P, R, Route, TenantRule, rows_of, rules

READ = TenantRule(P.catalog_read, ORDER_READERS)  # merchants and every staff role reading orders
MANAGE = TenantRule(P.catalog_manage, frozenset({R.agency_admin, R.account_manager}))
EXPORT: Route = ("POST", f"{TENANT}/catalog/exports")  # an export is a read of the catalog

# Listings and prices: an override of the floor needs prices:override on top, checked in the
# body (tests/platform/storefront/test_listing_api.py).
TENANT_RULES = rules(
    (
        ("POST", "/products"),
        ("GET", "/products"),
        ("GET", "/products/{product_id}"),
        ("PATCH", "/products/{product_id}"),
        ("DELETE", "/products/{product_id}"),
        ("GET", "/products/{product_id}/variants"),
        ("POST", "/products/{product_id}/variants"),
        ("GET", "/skus"),
        ("GET", "/skus/{sku_id}"),
        ("PATCH", "/skus/{sku_id}"),
        ("POST", "/bundles"),
        ("GET", "/bundles/{sku_id}"),
        ("GET", "/categories"),
        ("POST", "/categories"),
        ("PATCH", "/categories/{category_id}"),
        ("GET", "/margin-floors"),
        ("PUT", "/margin-floors"),
        ("GET", "/portfolio"),
        ("PUT", "/portfolio/settings"),
        ("POST", "/catalog/imports"),
        ("GET", "/catalog/imports/{import_id}"),
        ("GET", "/catalog/imports/{import_id}/report"),
        ("GET", "/catalog/exports/{export_id}"),
        ("GET", "/catalog/exports/{export_id}/file"),
        ("POST", "/catalog/bulk-edits"),
        ("GET", "/catalog/bulk-edits/{edit_id}"),
        ("GET", "/catalog/bulk-edits/{edit_id}/report"),
        ("GET", "/catalog/unmatched-lines"),
        ("POST", "/catalog/unmatched-lines/mappings"),
        ("GET", "/listings"),
        ("POST", "/listings"),
        ("GET", "/listings/{listing_id}"),
        ("POST", "/listings/{listing_id}/publish"),
        ("POST", "/listings/{listing_id}/unlist"),
        ("POST", "/listings/{listing_id}/retry"),
        ("PUT", "/prices/listings/{listing_id}"),
        ("POST", "/prices/schedules"),
        ("GET", "/prices/schedules"),
        ("GET", "/prices/schedules/{price_list_id}"),
    ),
    read=READ,
    write=MANAGE,
) | {EXPORT: READ}
OTHER_RULES: dict[Route, str | P] = {}
BULK_UPDATES: dict[type[Any], dict[str, Any]] = {}  # the guard's own seed covers the catalog
APPEND_ONLY: frozenset[type[Any]] = frozenset()
TABLES = (
    Category,
    Product,
    Sku,
    BundlePart,
    MarginFloor,
    CatalogSettings,
    CatalogJob,
    SkuMapping,
    Listing,
    PriceList,
    PriceListItem,
)


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    """A product with one SKU, a bundle of it, catalog jobs, and a draft listing on A's shop."""
    with db.unit_of_work(tenant_id) as session:
        category = catalog.create_category(session, CategoryCreate(name="Matrix"))
        product = catalog.create_product(
            session,
            ProductCreate(
                name="Matrix tea",
                category_id=category.id,
                variants=[SkuCreate(code="MATRIX-A", cost_minor=1000, currency="CNY")],
            ),
        )
        bundle = catalog.create_bundle(
            session,
            BundleCreate(
                code="MATRIX-SET",
                product_id=product.id,
                currency="CNY",
                parts=[PartIn(sku_id=product.variants[0].id, quantity=2)],
            ),
        )
    return {
        "product_id": str(product.id),
        "sku_id": str(bundle.id),  # a bundle: GET /bundles/{sku_id} needs one
        "part_id": str(product.variants[0].id),
        "category_id": str(category.id),
        **_jobs(tenant_id),
        **_listing(tenant_id, bundle.id, uuid.UUID(places["shop_id"])),
    }


def _listing(tenant_id: uuid.UUID, sku_id: uuid.UUID, shop_id: uuid.UUID) -> dict[str, str]:
    """A draft listing of A's bundle on A's shop, and a price list naming it."""
    with db.unit_of_work(tenant_id) as session:
        listing = listings.create(
            session,
            ListingCreate(sku_id=sku_id, shop_id=shop_id, list_price_minor=50_00),
            can_override=False,
        )
        start = datetime(2030, 1, 1, tzinfo=UTC)
        schedule = prices.create_list(
            session,
            PriceListCreate(
                name="Matrix",
                starts_at=start,
                ends_at=start + timedelta(days=1),
                items=[PriceListItemIn(listing_id=listing.id, list_price_minor=60_00)],
            ),
            can_override=False,
        )
    return {"listing_id": str(listing.id), "price_list_id": str(schedule.id)}


def _jobs(tenant_id: uuid.UUID) -> dict[str, str]:
    """An import, a finished export and a bulk edit of A, for the routes that read them."""
    with db.unit_of_work(tenant_id) as session:
        csv = b"product,code,cost_minor,currency\nMatrix job,MATRIX-JOB,100,CNY\n"
        imported = imports.start(
            session, io.BytesIO(csv), "m.csv", valid_rows_only=False, user_id=None
        )
        exported = exports.start(session, ExportCreate(), None)
        edited = bulk.start(session, BulkEditCreate(status=CatalogStatus.active), None)
    runner.run(tenant_id, exported.id)
    return {"import_id": str(imported.id), "export_id": str(exported.id), "edit_id": str(edited.id)}


def prepare(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """Before each caller of a listing's unlist or retry: it is published, or its push failed."""
    if not path.endswith(("/unlist", "/retry")):
        return
    with db.unit_of_work(tenant_id) as session:
        listing = changes.get(session, uuid.UUID(places["listing_id"]))
        listing.state = ListingState.published
        listing.sync_status = SyncStatus.failed if path.endswith("/retry") else SyncStatus.synced
        listing.pushed = {"state": "published"}


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    """Catalog writes: each call names new codes and values, so an allowed one changes A."""
    sku = {"code": f"MATRIX-{n}", "cost_minor": 100 + n, "currency": "CNY"}
    if (method, path) == ("POST", "/products"):
        return {"json": {"name": f"Matrix {n}", "variants": [sku]}}
    if (method, path) == ("PATCH", "/products/{product_id}"):
        return {"json": {"name": f"Matrix product {n}"}}
    if (method, path) == ("POST", "/products/{product_id}/variants"):
        return {"json": sku}
    if (method, path) == ("PATCH", "/skus/{sku_id}"):
        return {"json": {"barcode": f"690{n:010d}"}}
    if (method, path) == ("POST", "/bundles"):
        part = {"sku_id": places["part_id"], "quantity": 1 + n % 5}
        body = {"code": f"MATRIX-SET-{n}", "name": "Set", "currency": "CNY", "parts": [part]}
        return {"json": body}
    if (method, path) == ("POST", "/categories"):
        return {"json": {"name": f"Matrix {n}", "parent_id": places["category_id"]}}
    if (method, path) == ("PATCH", "/categories/{category_id}"):
        return {"json": {"name": f"Matrix renamed {n}"}}
    if (method, path) == ("GET", "/portfolio"):
        return {"params": {"period": "2026-10"}}
    if (method, path) == ("PUT", "/portfolio/settings"):
        return {"json": {"share_threshold_bp": n % 10_000, "growth_threshold_bp": n}}
    if (method, path) == ("POST", "/catalog/imports"):
        csv = f"product,code,cost_minor,currency\nMatrix {n},MATRIX-IMPORT-{n},{n},CNY\n"
        return {"files": {"file": ("matrix.csv", csv.encode(), "text/csv")}}
    if (method, path) in {("POST", "/catalog/exports"), ("POST", "/catalog/bulk-edits")}:
        return {"json": {"status": "active"} if path.endswith("edits") else {}}
    if (method, path) == ("POST", "/catalog/unmatched-lines/mappings"):
        mapping = {"shop_id": places["shop_id"], "marketplace_sku": f"MATRIX-{n}"}
        return {"json": {**mapping, "sku_id": places["part_id"]}}
    if (method, path) == ("PUT", "/margin-floors"):
        margin = str(Decimal(n % 10_000).scaleb(-4))
        return {"json": {"tenant": {"mode": "block", "minimum_margin": margin}}}
    return _listing_request(path, method, places, n)


def _listing_request(
    path: str, method: str, places: dict[str, str], n: int
) -> dict[str, Any] | None:
    """Listing and price writes: new prices each call (above any floor the matrix sets)."""
    key = {"Idempotency-Key": f"matrix-{n}"}
    if (method, path) == ("POST", "/listings"):
        body = {
            "sku_id": places["part_id"],
            "shop_id": places["shop_id"],
            "list_price_minor": 50_00 + n,
        }
        return {"json": body, "headers": key}
    if (method, path) == ("PUT", "/prices/listings/{listing_id}"):
        return {"json": {"list_price_minor": 50_00 + n, "sale_price_minor": 45_00}}
    if (method, path) == ("POST", "/prices/schedules"):
        item = {"listing_id": places["listing_id"], "list_price_minor": 50_00 + n}
        body = {
            "name": f"Matrix {n}",
            "starts_at": "2030-02-01T00:00:00Z",
            "ends_at": "2030-02-02T00:00:00Z",
            "items": [item],
        }
        return {"json": body, "headers": key}
    return None


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    return None


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """Put back what a route changed, for the next allowed caller."""
    with db.unit_of_work(tenant_id) as session:
        if path == "/products/{product_id}":  # DELETE archives; PATCH leaves the status alone
            product_id = uuid.UUID(places["product_id"])
            product = session.scalar(select(Product).where(Product.id == product_id))
            assert product is not None
            product.status = CatalogStatus.draft
        if path == "/listings":
            # The part's listing is what POST creates: gone again for the next caller.
            session.execute(delete(Listing).where(Listing.sku_id == uuid.UUID(places["part_id"])))
        if "/listings/{listing_id}/" in path:
            listing = changes.get(session, uuid.UUID(places["listing_id"]))
            listing.state, listing.sync_status, listing.pushed = ListingState.draft, None, {}


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    return rows_of(session, TABLES)


def platform_state(session: Session) -> list[Any]:
    return []


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], Any]:
    return {}
