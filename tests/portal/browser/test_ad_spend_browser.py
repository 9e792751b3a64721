"""Ad spend and ROAS in a real browser, in English and Chinese: a marketer uploads a channel's
report on the console (a bad file shows its validation report, a good one is imported), the
merchant reads the ROAS page with its charts; nothing cut off at 1280 and 1440 px."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from daiyun.tenants.auth.permissions import Role
from tests.platform.marketing.test_ad_spend import ZTC, _campaign, _orders
from tests.portal.browser.conftest import Seeder, sign_in
from tests.portal.browser.live import LiveServer
from tests.portal.browser.test_layout import _check

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page


@pytest.fixture(params=["en-US", "zh-CN"])
def page(request: pytest.FixtureRequest, browser: Browser, live: LiveServer) -> Iterator[Page]:
    made: BrowserContext = browser.new_context(base_url=live.url, locale=request.param)
    made.set_default_timeout(15_000)
    yield made.new_page()
    made.close()


def test_a_marketer_imports_ad_spend_and_a_merchant_reads_roas(page: Page, seed: Seeder) -> None:
    tenant = seed.tenant("ads")
    campaign_id = _campaign(tenant)
    sign_in(page, seed.user(Role.marketer, tenant))
    path = f"/portal/console/ad-spend?tenant={tenant.slug}"
    problems = _check(page, path)

    def upload(text: str, name: str) -> None:
        page.select_option("#f-channel", "ztc")
        page.set_input_files(
            "#f-file", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}]
        )
        with page.expect_navigation():
            page.click("form[aria-labelledby='upload-heading'] button[type=submit]")

    upload(ZTC.replace("200.00,20000", "二百,20000"), "bad.csv")
    assert page.locator("[data-row='3'][data-column='spend']").is_visible()
    upload(ZTC, "ztc.csv")
    assert page.locator("[data-imported='3']").is_visible()
    _orders(tenant, campaign_id, ("order:a", datetime(2026, 3, 1, 3, tzinfo=UTC), 600_00))
    page.context.clear_cookies()
    sign_in(page, seed.user(Role.merchant_owner, tenant))
    roas = f"/portal/t/{tenant.slug}/roas?from=2026-03-01&to=2026-03-02"
    problems += _check(page, roas)
    assert page.locator(f"[data-campaign='{campaign_id}'] [data-roas='2.0000']").count() == 1
    assert page.locator("svg").count() >= 2
    assert problems == []
