"""Marketing's pages in a real browser, in English and Chinese: the console's planner, flash-sale
monitor and cart preview (a marketer prices a cart and reads each discount), the merchant's
campaign results; nothing cut off at 1280 and 1440 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from daiyun.core import db
from daiyun.platform.marketing import pricing
from daiyun.platform.marketing.schemas import RedemptionIn
from daiyun.tenants.auth.permissions import Role
from tests.platform.marketing.conftest import Market, make_market, retire
from tests.portal.browser.conftest import Seeder, sign_in
from tests.portal.browser.live import LiveServer
from tests.portal.browser.test_layout import _check

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

TIERS = [{"threshold_minor": 20_000, "off_minor": 2_000}]


@pytest.fixture
def market(seed: Seeder) -> Iterator[Market]:
    made = make_market(seed.tenant("promo"))
    made.promotion(name="满200减20", kind="tiered", tiers=TIERS)
    made.promotion(
        name="秒杀 CUP",
        kind="flash",
        sku_ids=[made.skus["CUP"]],
        flash_price_minor=800,
        flash_stock=5,
    )
    cart = made.cart(("TEA", 3, 10_000), ("CUP", 1, 1_500), buyer="a@example.com")
    with db.unit_of_work(made.tenant.id) as session:
        pricing.redeem(session, RedemptionIn(key="browser-1", **cart.model_dump()))
    yield made
    retire(made.site)


@pytest.fixture(params=["en-US", "zh-CN"])
def page(request: pytest.FixtureRequest, browser: Browser, live: LiveServer) -> Iterator[Page]:
    made: BrowserContext = browser.new_context(base_url=live.url, locale=request.param)
    made.set_default_timeout(15_000)
    yield made.new_page()
    made.close()


def test_a_marketer_previews_a_cart_and_a_merchant_reads_results(
    page: Page, seed: Seeder, market: Market
) -> None:
    sign_in(page, seed.user(Role.marketer, market.tenant))
    problems = _check(page, "/portal/console/marketing")
    assert page.locator(f"[data-merchant='{market.tenant.slug}'][data-flash='秒杀 CUP']").count()
    page.select_option("#p-tenant", market.tenant.slug)
    page.fill("#p-sku0", "TEA")
    page.fill("#p-qty0", "2")
    page.fill("#p-price0", "100")
    with page.expect_navigation():
        page.click("form[aria-labelledby='preview-heading'] button[type=submit]")
    assert page.locator("#quote [data-total='18000']").count() == 1
    assert page.locator("#quote [data-discount='满200减20']").is_visible()
    page.context.clear_cookies()
    sign_in(page, seed.user(Role.merchant_owner, market.tenant))
    path = f"/portal/t/{market.tenant.slug}/campaigns"
    problems += _check(page, path)
    assert page.locator("[data-gmv='28800']").count() == 1
    assert problems == []
