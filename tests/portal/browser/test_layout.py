"""Nothing is cut off on a laptop or desktop screen: on the main merchant and console pages, at
1280 and 1440 px, no table scrolls inside its box, no card or chart is wider than its box, the
page itself does not scroll sideways, and the header stays on one row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from daiyun.billing import service as billing
from daiyun.connectors.models import Shop
from daiyun.core import db
from daiyun.portal.console.overview import current_period
from daiyun.tenants.auth.permissions import Role
from tests.portal.browser.conftest import MONTH, Merchant, Seeder, local, normalized, sign_in
from tests.portal.browser.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

WIDTHS = (1280, 1440)
# A sync error as marketplaces write them: long, and a URL without a place to break.
LONG_ERROR = (
    "HTTP 502 from https://gateway.marketplace-partner-api.example.com/api/v2/orders/search"
    "?updated_at_min=2026-10-01T00%3A00%3A00%2B08%3A00&page_size=100&fields=line_items,refunds"
)

# Every element that must hold its content: table wrappers, KPI and chart cards, charts, the
# main column and the page. Reported as "selector #n: content width > box width".
OVERFLOWING = """
() => {
  const found = [];
  const boxes = ['.table-wrap', '.kpis li', '.chart-cards li', '.chart-frame', 'main'];
  for (const selector of boxes) {
    document.querySelectorAll(selector).forEach((el, n) => {
      if (el.scrollWidth > el.clientWidth + 1) {
        found.push(`${selector} #${n}: ${el.scrollWidth} > ${el.clientWidth}`);
      }
    });
  }
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth + 1) {
    found.push(`page: ${page.scrollWidth} > ${page.clientWidth}`);
  }
  return found;
}
"""

# The header's items, each with its top: one row means they all start at about the same height.
HEADER_ROWS = """
() => {
  const tops = [...document.querySelector('header.top').children]
    .filter(el => el.getBoundingClientRect().height > 0)
    .map(el => Math.round(el.getBoundingClientRect().top + el.getBoundingClientRect().height / 2));
  return new Set(tops.map(t => Math.round(t / 12))).size;
}
"""


def _with_this_months_draft(merchant: Merchant) -> None:
    """The current month's draft statement: the overview then shows commission with its "as
    of" time, as it does in the middle of any month."""
    with db.unit_of_work(merchant.tenant.id) as session:
        billing.generate(session, current_period(merchant.tenant))


def _shop_of(merchant: Merchant) -> Shop:
    with db.unit_of_work(merchant.tenant.id) as session:
        shop = session.query(Shop).order_by(Shop.id).first()
        assert shop is not None
        return shop


def _with_a_failing_shop(merchant: Merchant) -> None:
    with db.unit_of_work(merchant.tenant.id) as session:
        shop = session.query(Shop).first()
        assert shop is not None
        shop.last_error = LONG_ERROR
        shop.consecutive_failures = 3


def _check(page: Page, path: str) -> list[str]:
    problems: list[str] = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        problems += [f"{path} at {width}px: {p}" for p in page.evaluate(OVERFLOWING)]
        rows: Any = page.evaluate(HEADER_ROWS)
        if rows != 1:
            problems.append(f"{path} at {width}px: the header takes {rows} rows")
    return problems


@pytest.fixture(params=["en-US", "zh-CN"])
def page(request: pytest.FixtureRequest, browser: Browser, live: LiveServer) -> Iterator[Page]:
    """A page in English and one in Chinese (the language the browser asks for): the same
    layout holds words of very different widths."""
    made: BrowserContext = browser.new_context(base_url=live.url, locale=request.param)
    made.set_default_timeout(15_000)
    yield made.new_page()
    made.close()


@pytest.fixture
def merchant(seed: Seeder) -> Merchant:
    found = seed.merchant(held=2)
    _with_a_failing_shop(found)
    _with_this_months_draft(found)
    # A big order: a GMV of millions is what a KPI card must hold.
    shop = _shop_of(found)
    big = normalized("BIG-1", local(date(MONTH.year, MONTH.month, 12), 10), 987_654_321_00)
    seed.ingest(found.tenant, shop.id, shop.channel, big)
    return found


def test_merchant_pages_hold_their_content(page: Page, seed: Seeder, merchant: Merchant) -> None:
    sign_in(page, merchant.owner)
    base = f"/portal/t/{merchant.tenant.slug}"
    problems: list[str] = []
    for path in (
        f"{base}/dashboard?period={MONTH}",
        f"{base}/dashboard",
        f"{base}/orders",
        f"{base}/statements",
        f"{base}/shops",
        f"{base}/stock",
    ):
        problems += _check(page, path)
    assert problems == []


def test_console_pages_hold_their_content(page: Page, seed: Seeder, merchant: Merchant) -> None:
    admin = seed.user(Role.agency_admin)
    sign_in(page, admin)
    problems: list[str] = []
    for path in (
        "/portal/console",
        "/portal/console?sort=unpaid&dir=desc",
        "/portal/console/billing",
        "/portal/console/sync",
        "/portal/console/warehouse",
        "/portal/console/stocktakes",
        "/portal/console/replenishment",
        # A merchant's pages as staff see them: the merchant's menu beside the console's entry.
        f"/portal/t/{merchant.tenant.slug}/dashboard",
        f"/portal/t/{merchant.tenant.slug}/products",
    ):
        problems += _check(page, path)
    assert problems == []
    # The long error is there, wrapped inside its cell rather than cut off.
    page.goto("/portal/console/sync")
    assert page.locator("td", has_text="marketplace-partner-api.example.com").count() >= 1
