"""The catalog API (店铺/商品): products and their SKUs, bundles, categories, margin floors."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.storefront import api_bulk, api_listings, portfolio, service
from daiyun.platform.storefront.schemas import (
    BundleCreate,
    CatalogStatus,
    CategoryCreate,
    CategoryRead,
    CategoryTree,
    CategoryUpdate,
    MarginFloorsIn,
    MarginFloorsRead,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    SkuCreate,
    SkuRead,
    SkuUpdate,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix="/tenants/{tenant}", tags=["catalog"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.catalog_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.catalog_manage))]


# --------------------------------------------------------------------------------------------
# Products and their variants
# --------------------------------------------------------------------------------------------


@router.post("/products", response_model=ProductRead, status_code=201, responses=problems(409, 422))
def create_product(session: SessionDep, access: Manager, body: ProductCreate) -> ProductRead:
    """Add a product with its variants (SKUs): all of them or none. A SKU code already in the
    tenant is 409; a category that is not the tenant's 422."""
    return service.create_product(session, body)


@router.get("/products", response_model=Page[ProductRead])
def list_products(
    session: SessionDep,
    access: Reader,
    status: CatalogStatus | None = None,
    category_id: uuid.UUID | None = Query(
        default=None, description="This category and every category under it"
    ),
    q: str | None = Query(default=None, max_length=200, description="Text in the name or brand"),
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ProductRead]:
    """The tenant's products with their variants, oldest first."""
    rows, next_cursor = service.find_products(
        session, status=status, category_id=category_id, text=q, cursor=cursor, limit=limit
    )
    return Page(items=rows, next_cursor=next_cursor)


@router.get("/products/{product_id}", response_model=ProductRead)
def get_product(session: SessionDep, access: Reader, product_id: uuid.UUID) -> ProductRead:
    """One product with its variants; a bundle's cost derived from its parts."""
    return service.get_product(session, product_id)


@router.patch("/products/{product_id}", response_model=ProductRead, responses=problems(422))
def update_product(
    session: SessionDep, access: Manager, product_id: uuid.UUID, body: ProductUpdate
) -> ProductRead:
    """Change a product's name, description, category, brand or status (null clears the
    description, category or brand)."""
    return service.update_product(session, product_id, body)


@router.delete("/products/{product_id}", response_model=ProductRead)
def archive_product(session: SessionDep, access: Manager, product_id: uuid.UUID) -> ProductRead:
    """Archive a product: it is kept (orders name it) with the status ``archived``."""
    return service.archive_product(session, product_id)


@router.get("/products/{product_id}/variants", response_model=Page[SkuRead])
def list_variants(
    session: SessionDep,
    access: Reader,
    product_id: uuid.UUID,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SkuRead]:
    """A product's SKUs, oldest first."""
    service.get_product(session, product_id)  # 404 for another tenant's or no product
    rows, next_cursor = service.find_skus(
        session, product_id=product_id, cursor=cursor, limit=limit
    )
    return Page(items=rows, next_cursor=next_cursor)


@router.post(
    "/products/{product_id}/variants",
    response_model=SkuRead,
    status_code=201,
    responses=problems(409, 422),
)
def add_variant(
    session: SessionDep, access: Manager, product_id: uuid.UUID, body: SkuCreate
) -> SkuRead:
    """Add a SKU to a product; its code must be new in the tenant (409)."""
    return service.add_variant(session, product_id, body)


# --------------------------------------------------------------------------------------------
# SKUs and bundles
# --------------------------------------------------------------------------------------------


@router.get("/skus", response_model=Page[SkuRead])
def find_skus(
    session: SessionDep,
    access: Reader,
    code: str | None = Query(default=None, max_length=100, description="Exactly this code"),
    barcode: str | None = Query(default=None, max_length=64, description="Exactly this barcode"),
    q: str | None = Query(default=None, max_length=100, description="Text in the code"),
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SkuRead]:
    """The tenant's SKUs by code or barcode, oldest first."""
    rows, next_cursor = service.find_skus(
        session, code=code, barcode=barcode, text=q, cursor=cursor, limit=limit
    )
    return Page(items=rows, next_cursor=next_cursor)


@router.get("/skus/{sku_id}", response_model=SkuRead, responses=problems(409))
def get_sku(session: SessionDep, access: Reader, sku_id: uuid.UUID) -> SkuRead:
    """One SKU; a bundle with its parts and its cost derived from them."""
    return service.get_sku(session, sku_id)


@router.patch("/skus/{sku_id}", response_model=SkuRead, responses=problems(409, 422))
def update_sku(session: SessionDep, access: Manager, sku_id: uuid.UUID, body: SkuUpdate) -> SkuRead:
    """Change a SKU. A bundle's parts are replaced whole and its cost is never set (it is
    derived); a change after which any bundle would hold parts in another currency than its
    own, contain itself or cost past 10^12 is refused (422) naming the SKUs."""
    return service.update_sku(session, sku_id, body)


@router.post("/bundles", response_model=SkuRead, status_code=201, responses=problems(409, 422))
def create_bundle(session: SessionDep, access: Manager, body: BundleCreate) -> SkuRead:
    """Add a bundle (组合商品): a SKU made of other SKUs with quantities, its cost derived from
    theirs. Parts in another currency than the bundle's are refused (422) naming them."""
    return service.create_bundle(session, body)


@router.get("/bundles/{sku_id}", response_model=SkuRead, responses=problems(409))
def get_bundle(session: SessionDep, access: Reader, sku_id: uuid.UUID) -> SkuRead:
    """One bundle with its parts and derived cost (404 for a SKU that is not a bundle)."""
    return service.get_bundle(session, sku_id)


# --------------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------------


@router.get("/categories", response_model=CategoryTree)
def list_categories(session: SessionDep, access: Reader) -> CategoryTree:
    """The tenant's category tree, each category after its parent."""
    return service.category_tree(session)


@router.post(
    "/categories", response_model=CategoryRead, status_code=201, responses=problems(409, 422)
)
def create_category(session: SessionDep, access: Manager, body: CategoryCreate) -> CategoryRead:
    """Add a category under a parent (or as a root); names are unique among siblings (409)."""
    return service.create_category(session, body)


@router.patch(
    "/categories/{category_id}", response_model=CategoryRead, responses=problems(409, 422)
)
def update_category(
    session: SessionDep, access: Manager, category_id: uuid.UUID, body: CategoryUpdate
) -> CategoryRead:
    """Rename a category or move it with its subtree (``parent_id``: null for a root). A move
    under itself or its own descendant is refused (422 ``category-cycle``)."""
    return service.update_category(session, category_id, body)


# --------------------------------------------------------------------------------------------
# Margin floors
# --------------------------------------------------------------------------------------------


@router.get("/margin-floors", response_model=MarginFloorsRead)
def get_margin_floors(session: SessionDep, access: Reader) -> MarginFloorsRead:
    """The tenant's margin floor and its overrides per category and per SKU. A price is under
    the floor when it is below cost × (1 + minimum margin); the SKU's override applies first,
    then the nearest category's (its own, then each ancestor's), then the tenant's."""
    return service.margin_floors(session)


@router.put("/margin-floors", response_model=MarginFloorsRead, responses=problems(422))
def put_margin_floors(
    session: SessionDep, access: Manager, body: MarginFloorsIn
) -> MarginFloorsRead:
    """Replace the tenant's margin floor and all its overrides with those given."""
    return service.set_margin_floors(session, body)


# --------------------------------------------------------------------------------------------
# Portfolio analysis
# --------------------------------------------------------------------------------------------

PortfolioPeriod = Annotated[
    str,
    Query(pattern=r"^2\d{3}-(0[1-9]|1[0-2])$", examples=["2026-10"], description="YYYY-MM"),
]


@router.get("/portfolio", response_model=portfolio.PortfolioRead, responses=problems(409))
def get_portfolio(
    session: SessionDep, access: Reader, period: PortfolioPeriod
) -> portfolio.PortfolioRead:
    """Each SKU's share of the month's GMV, its growth on the month before, margin and units,
    its quadrant (star 潜力产品, cash cow 畅销品, question mark 不确定, dog 滞销品) by the
    tenant's thresholds (10 % and 10 % unless set), and its quadrant in each of the last six
    months. Read from the daily rollups, in the currency the dashboard opens in."""
    return portfolio.analyse(session, portfolio.Month.parse(period))


@router.put("/portfolio/settings", response_model=portfolio.ThresholdsRead, responses=problems(422))
def put_portfolio_settings(
    session: SessionDep, access: Manager, body: portfolio.ThresholdsIn
) -> portfolio.ThresholdsRead:
    """Set the share and growth thresholds (basis points) that place SKUs in quadrants; a SKU
    on a threshold counts as high."""
    return portfolio.set_thresholds(session, body)


# --------------------------------------------------------------------------------------------
# Bulk work (imports, exports, bulk edits) and order-line matching: their own module, mounted here
# --------------------------------------------------------------------------------------------

router.include_router(api_bulk.router)
LARGE_BODIES = api_bulk.LARGE_BODIES


# --------------------------------------------------------------------------------------------
# Listings on the shops and their prices: their own module, mounted here
# --------------------------------------------------------------------------------------------

router.include_router(api_listings.router)
