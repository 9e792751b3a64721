"""The catalog pages in a real browser, in English and Chinese: products and a product's
variants, the portfolio's scatter (a point per SKU that sold, the thresholds drawn) and table, the
console's catalog work; nothing cut off at 1280 and 1440 px; each role sees its links and forms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pytest

from daiyun.connectors import service as shop_service
from daiyun.core import db
from daiyun.platform.reports import service as reports_service
from daiyun.platform.storefront import listings
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.listing_rules import SyncStatus
from daiyun.platform.storefront.listing_schemas import ListingCreate
from daiyun.platform.storefront.schemas import (
    BundleCreate,
    CatalogStatus,
    CategoryCreate,
    PartIn,
    ProductCreate,
    SkuCreate,
)
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.platform.reports.test_reports import make_order
from tests.portal.browser.conftest import Seeder, local, sign_in
from tests.portal.browser.live import LiveServer
from tests.portal.browser.test_layout import LONG_ERROR, _check

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

# Colours and sizes as merchants write them: long enough to test the table's wrapping.
COLOURS = ("midnight black", "glacier blue", "forest green")
SIZES = ("S", "M", "L", "XL")


@dataclass
class Shopfront:
    tenant: Tenant
    owner: User
    viewer: User
    manager: User


def _catalog(tenant: Tenant) -> None:
    """A jacket in three colours and four sizes, a stove, and a kit of both."""
    with db.unit_of_work(tenant.id) as session:
        outdoor = catalog_service.create_category(session, CategoryCreate(name="户外 Outdoor"))
        jackets = catalog_service.create_category(
            session, CategoryCreate(name="冲锋衣 Rain jackets", parent_id=outdoor.id)
        )
        jacket = catalog_service.create_product(
            session,
            ProductCreate(
                name="山脊防水冲锋衣 Ridge Waterproof Breathable Rain Jacket with Hood",
                brand="North Peak Mountaineering",
                category_id=jackets.id,
                status=CatalogStatus.active,
                variants=[
                    SkuCreate(
                        code=f"JKT-RIDGE-{colour.split()[1].upper()}-{size}",
                        attributes={"colour": colour, "size": size},
                        cost_minor=45_00,
                        currency="CNY",
                        barcode=f"69012345{n:05d}",
                    )
                    for n, (colour, size) in enumerate((c, s) for c in COLOURS for s in SIZES)
                ],
            ),
        )
        stove = catalog_service.create_product(
            session,
            ProductCreate(
                name="钛合金炉头 Titanium Stove",
                status=CatalogStatus.active,
                category_id=outdoor.id,
                variants=[SkuCreate(code="STOVE-TI", cost_minor=120_00, currency="CNY")],
            ),
        )
        catalog_service.create_bundle(
            session,
            BundleCreate(
                code="KIT-RIDGE-STOVE",
                name="Ridge and stove kit 套装",
                currency="CNY",
                parts=[
                    PartIn(sku_id=jacket.variants[0].id, quantity=1),
                    PartIn(sku_id=stove.variants[0].id, quantity=1),
                ],
            ),
        )


def _sales(seed: Seeder, tenant: Tenant) -> None:
    """September and October sales of most SKUs, a few of them large, one code the catalog
    does not know."""
    shop = factories.shop(tenant.id, "shopify", external_id=f"shop-{tenant.slug}")
    codes = [f"JKT-RIDGE-{c.split()[1].upper()}-{s}" for c in COLOURS for s in SIZES]
    orders = []
    for month, scale in ((9, 1), (10, 2)):
        for n, code in enumerate(codes):
            quantity = 1 + (n * scale) % 7
            day = date(2026, month, 1 + n)
            orders.append(
                make_order(f"O{month}-{n}", local(day, 10), lines=[(code, quantity, 399_00)])
            )
        orders.append(
            make_order(
                f"S{month}",
                local(date(2026, month, 20), 9),
                lines=[("STOVE-TI", 40 * scale, 299_00)],
            )
        )
    orders.append(
        make_order("K10", local(date(2026, 10, 21), 9), lines=[("KIT-RIDGE-STOVE", 3, 649_00)])
    )
    orders.append(
        make_order("X10", local(date(2026, 10, 22), 9), lines=[("OLD-CODE-2019", 1, 99_00)])
    )
    seed.ingest(tenant, shop.id, "shopify", *orders)
    with db.unit_of_work(tenant.id) as session:
        reports_service.rebuild(session, tenant)


def _listed(tenant: Tenant) -> None:
    """Three jackets listed on the shop, one whose push failed with a long marketplace error."""
    with db.unit_of_work(tenant.id) as session:
        shop = shop_service.shops(session)[0]
        skus, _ = catalog_service.find_skus(session, text="JKT-RIDGE-BLACK", limit=3)
        made = [
            listings.create(
                session,
                ListingCreate(sku_id=sku.id, shop_id=shop.id, list_price_minor=399_00),
                can_override=False,
            )
            for sku in skus
        ]
        session.flush()
        made[0].sync_status = SyncStatus.failed
        made[0].sync_error = LONG_ERROR
        made[0].sync_attempts = 4


@pytest.fixture
def shopfront(seed: Seeder) -> Shopfront:
    tenant = seed.tenant("peak")
    _catalog(tenant)
    _sales(seed, tenant)
    _listed(tenant)
    return Shopfront(
        tenant,
        seed.user(Role.merchant_owner, tenant),
        seed.user(Role.merchant_viewer, tenant),
        seed.user(Role.account_manager, tenant),
    )


@pytest.fixture(params=["en-US", "zh-CN"])
def page(request: pytest.FixtureRequest, browser: Browser, live: LiveServer) -> Iterator[Page]:
    made: BrowserContext = browser.new_context(base_url=live.url, locale=request.param)
    made.set_default_timeout(15_000)
    yield made.new_page()
    made.close()


def test_catalog_pages_render_and_hold_their_content(
    page: Page, seed: Seeder, shopfront: Shopfront
) -> None:
    # As test_layout checks them: a merchant's pages as its owner, the console as an admin.
    sign_in(page, shopfront.owner)
    base = f"/portal/t/{shopfront.tenant.slug}"
    page.goto(f"{base}/products")
    link = page.locator("table a[href*='/products/']").first
    product_path = link.get_attribute("href")
    assert product_path is not None
    problems: list[str] = []
    for path in (
        f"{base}/products",
        product_path,
        f"{base}/portfolio?period=2026-10",
        f"{base}/portfolio",
        f"{base}/listings",
    ):
        problems += _check(page, path)
    page.context.clear_cookies()
    sign_in(page, seed.user(Role.agency_admin))
    problems += _check(page, "/portal/console/catalog")
    assert problems == []

    page.goto(f"{base}/portfolio?period=2026-10")
    # A point for each SKU that sold in October or September: 12 jackets, the stove, the kit
    # and the unknown code; the catalog's unsold SKUs are only in the table.
    assert page.locator("svg.scatter circle").count() == 15
    assert page.locator("svg.scatter line.threshold").count() == 2
    assert page.locator("table.portfolio-table tbody tr").count() == 15
    chinese = page.evaluate("document.documentElement.lang") == "zh-CN"
    heading = page.locator("h1").inner_text()
    assert heading == ("商品组合" if chinese else "Portfolio")
    names = page.locator("svg.scatter .quadrant-name").all_text_contents()
    assert ("潜力产品" in " ".join(names)) if chinese else ("Star" in " ".join(names))


def test_each_role_sees_its_catalog_links_and_forms(
    page: Page, seed: Seeder, shopfront: Shopfront
) -> None:
    base = f"/portal/t/{shopfront.tenant.slug}"
    sign_in(page, shopfront.viewer)
    page.goto(f"{base}/portfolio?period=2026-10")
    menu = page.locator("nav[aria-label='Main'] a")
    hrefs = [menu.nth(n).get_attribute("href") for n in range(menu.count())]
    assert f"{base}/products" in hrefs and f"{base}/portfolio" not in hrefs
    assert not any(h and h.startswith("/portal/console") for h in hrefs)
    # The portfolio is a tab of the catalog, under the one "Products" entry (marked current).
    current = page.locator("nav[aria-label='Main'] a[aria-current=page]")
    assert current.get_attribute("href") == f"{base}/products"
    tabs = page.locator("nav.tabs a")
    assert [tabs.nth(n).get_attribute("href") for n in range(tabs.count())] == [
        f"{base}/products",
        f"{base}/listings",
        f"{base}/portfolio",
    ]
    # A viewer reads the thresholds but has no form to change them.
    assert page.locator("form[action$='/portfolio/settings']").count() == 0

    page.context.clear_cookies()
    sign_in(page, shopfront.manager)
    page.goto(f"{base}/portfolio?period=2026-10")
    page.locator("details summary").last.click()
    page.fill("#f-share", "25")
    page.fill("#f-growth", "50")
    with page.expect_navigation():
        page.click("form[action$='/portfolio/settings'] button[type=submit]")
    assert page.locator("p[role=status]").count() == 1
    assert "25.0%" in page.locator("main p.muted").first.inner_text().replace(" ", "")

    page.context.clear_cookies()
    recruiter = seed.user(Role.recruiter, shopfront.tenant)
    sign_in(page, recruiter)
    answer = page.goto(f"{base}/products")
    assert answer is not None and answer.status == 403
    answer = page.goto("/portal/console/catalog")
    assert answer is not None and answer.status == 200
    assert page.locator("p.refused").count() == 1
