"""The merchant's catalog pages (店铺/商品): products with their variants, and the portfolio.

As the other merchant pages, each is checked by :func:`tenant_page` with the permission its API
route asks for (``catalog:read`` to look, ``catalog:manage`` to change the portfolio's
thresholds) and reads the catalog through the functions its API uses. Filters are GET forms, so
every view can be bookmarked and works without JavaScript.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core.errors import Problem
from daiyun.platform.storefront import portfolio, service
from daiyun.platform.storefront.schemas import CatalogStatus, ProductRead
from daiyun.portal.navigation import CATALOG_PAGES, tabs
from daiyun.portal.views.catalog_chart import scatter
from daiyun.portal.views.merchant.common import (
    N_,
    list_cursor,
    path_id,
    tenant_base,
    tenant_zone,
    url,
    values,
)
from daiyun.portal.web import PREFIX, Page, PortalRoute, redirect, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission


def _requires(name: str) -> Permission:
    """The permission the navigation shows a page's link for: the page asks for the same."""
    permission = CATALOG_PAGES[name].permission
    assert permission is not None
    return permission


CatalogPage = Annotated[Page, Depends(tenant_page(_requires("products")))]
PortfolioPage = Annotated[Page, Depends(tenant_page(_requires("portfolio")))]
ThresholdsForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.catalog_manage))]

PAGE_SIZE = 50
# Products whose SKU code matches a search, shown above the name matches (first page only).
CODE_MATCHES = 20
CATALOG_STATUS_LABELS = {
    CatalogStatus.draft: N_("Draft"),
    CatalogStatus.active: N_("On sale"),
    CatalogStatus.archived: N_("Archived"),
}
CATALOG_TONES = {"active": "good", "draft": "warn", "archived": ""}
QUADRANT_LABELS = {
    portfolio.Quadrant.star: N_("Star (潜力产品)"),
    portfolio.Quadrant.cash_cow: N_("Cash cow (畅销品)"),
    portfolio.Quadrant.question_mark: N_("Question mark (不确定)"),
    portfolio.Quadrant.dog: N_("Dog (滞销品)"),
}
QUADRANT_HINTS = {
    portfolio.Quadrant.star: N_("High share, high growth: push it."),
    portfolio.Quadrant.cash_cow: N_("High share, low growth: keep it stocked and priced."),
    portfolio.Quadrant.question_mark: N_("Low share, high growth: decide whether to back it."),
    portfolio.Quadrant.dog: N_("Low share, low growth: clear it or rework it."),
}
# A path's month as one character (with its name beside it for screen readers).
QUADRANT_MARKS = {
    portfolio.Quadrant.star: "★",
    portfolio.Quadrant.cash_cow: "◆",
    portfolio.Quadrant.question_mark: "?",
    portfolio.Quadrant.dog: "▼",
}


def catalog_values(page: Page, path: str, **more: object) -> dict[str, object]:
    assert page.tenant is not None and page.role is not None
    return values(
        page,
        tabs=tabs("products", page.tenant.slug, page.role, path),
        catalog_status_labels=CATALOG_STATUS_LABELS,
        catalog_tones=CATALOG_TONES,
        quadrant_labels=QUADRANT_LABELS,
        quadrant_hints=QUADRANT_HINTS,
        quadrant_marks=QUADRANT_MARKS,
        **more,
    )


# --- products --------------------------------------------------------------------------------


@router.get("/t/{tenant}/products")
def products(request: Request, page: CatalogPage) -> Response:
    """The tenant's products with their variants (code, attributes, cost, status), searched by
    name, brand or SKU code, filtered by status and category."""
    params = request.query_params
    q = (params.get("q") or "").strip()[:100] or None
    status = params.get("status") or ""
    chosen = CatalogStatus(status) if status in CatalogStatus.__members__ else None
    categories = service.category_tree(page.db).items
    category = next((c for c in categories if str(c.id) == params.get("category")), None)
    cursor = list_cursor(request)
    rows, next_cursor = service.find_products(
        page.db,
        status=chosen,
        category_id=category.id if category else None,
        text=q,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    if q and cursor is None and category is None:
        rows = _by_code(page, q, chosen, rows) + rows
    base = tenant_base(page)
    query = {"q": q, "status": chosen.value if chosen else None}
    query["category"] = str(category.id) if category else None
    return render(
        request,
        "merchant/products.html",
        catalog_values(
            page,
            request.url.path,
            rows=rows,
            q=q,
            status=chosen,
            statuses=list(CatalogStatus),
            categories=categories,
            category=category,
            category_names={c.id: " / ".join(c.path) for c in categories},
            next_url=url(f"{base}/products", {**query, "cursor": next_cursor})
            if next_cursor
            else None,
        ),
        page=page,
    )


def _by_code(
    page: Page, text: str, status: CatalogStatus | None, already: list[ProductRead]
) -> list[ProductRead]:
    """Products with a SKU whose code contains ``text``, not already in ``already``."""
    skus, _ = service.find_skus(page.db, text=text, limit=CODE_MATCHES)
    seen = {p.id for p in already}
    found = []
    for sku in skus:
        if sku.product_id in seen:
            continue
        seen.add(sku.product_id)
        product = service.get_product(page.db, sku.product_id)
        if status is None or product.status == status:
            found.append(product)
    return found


@router.get("/t/{tenant}/products/{product_id}")
def product(request: Request, page: CatalogPage, product_id: str) -> Response:
    """One product: its variants with codes, barcodes, attributes, costs and status; a
    bundle's parts and its cost derived from them."""
    found = service.get_product(page.db, path_id(product_id, "product"))
    categories = {c.id: " / ".join(c.path) for c in service.category_tree(page.db).items}
    return render(
        request,
        "merchant/product.html",
        catalog_values(
            page,
            request.url.path,
            product=found,
            category=categories.get(found.category_id) if found.category_id else None,
        ),
        page=page,
    )


# --- portfolio -------------------------------------------------------------------------------


def _month(page: Page, text: str | None) -> tuple[portfolio.Month, str | None]:
    """The month asked for, or this month (the tenant's calendar) and why the one given was not
    used."""
    today = datetime.now(UTC).astimezone(tenant_zone(page)).date()
    this_month = portfolio.month_of(today)
    if not text:
        return this_month, None
    try:
        return portfolio.Month.parse(text.strip()[:7]), None
    except Problem:
        return this_month, N_("The month is not valid: use YYYY-MM.")


@router.get("/t/{tenant}/portfolio")
def portfolio_page(request: Request, page: PortfolioPage, notice: str = "") -> Response:
    """The four quadrants of a month as a scatter chart, each SKU a point, and the table of
    every SKU's figures and path over the last six months (from the daily rollups)."""
    month, error = _month(page, request.query_params.get("period"))
    found = portfolio.analyse(page.db, month)
    fmt = page.fmt
    chart = scatter(
        found,
        fmt,
        fmt.gettext(
            "Portfolio of %(month)s (%(currency)s)", month=str(month), currency=found.currency
        ),
    )
    base = tenant_base(page)
    return render(
        request,
        "merchant/portfolio.html",
        catalog_values(
            page,
            request.url.path,
            portfolio=found,
            chart=chart,
            month=month,
            error=error,
            notice=notice,
            earlier=url(f"{base}/portfolio", {"period": str(month.shift(-1))}),
            later=url(f"{base}/portfolio", {"period": str(month.shift(1))}),
            may_manage=page.can(P.catalog_manage),
            share_percent=_percent_text(found.thresholds.share_threshold_bp),
            growth_percent=_percent_text(found.thresholds.growth_threshold_bp),
        ),
        page=page,
    )


def _percent_text(bp: int) -> str:
    """Basis points as the percentage a form field shows (1000 -> "10", 1250 -> "12.5")."""
    return format(Decimal(bp).scaleb(-2).normalize(), "f")


def _basis_points(form: FormData, name: str, low: int, high: int) -> int | None:
    """A percentage typed in a form (up to two decimals) as basis points within bounds."""
    raw = form.get(name)
    try:
        value = Decimal(raw.strip().replace(",", ".")) if isinstance(raw, str) else None
    except InvalidOperation:
        return None
    if value is None or not value.is_finite():
        return None
    bp = int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return bp if low <= bp <= high else None


@router.post("/t/{tenant}/portfolio/settings")
def portfolio_settings(request: Request, form: ThresholdsForm) -> Response:
    """Change the share and growth thresholds (percentages), as ``PUT /portfolio/settings``."""
    page, data = form
    target = f"{tenant_base(page)}/portfolio"
    period = data.get("period")
    back = {"period": period if isinstance(period, str) and len(period) == 7 else None}
    share = _basis_points(data, "share", 0, 10_000)
    growth = _basis_points(data, "growth", -10_000, 1_000_000)
    if share is None or growth is None:
        return redirect(url(target, {**back, "notice": "bad-thresholds"}))
    portfolio.set_thresholds(
        page.db, portfolio.ThresholdsIn(share_threshold_bp=share, growth_threshold_bp=growth)
    )
    return redirect(url(target, {**back, "notice": "thresholds-saved"}))
