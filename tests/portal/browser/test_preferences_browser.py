"""The preferences page in headless Chromium, in Chinese: a merchant's owner chooses 简体中文 and
Tokyo time, signs out, and a browser that never saw the choice (no cookies) shows the order in
Tokyo time, labelled UTC+9, because the account keeps it; the shop's reviewer still reads
Shanghai time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.orders.models import Order
from daiyun.portal.i18n import Formatter, catalog
from daiyun.tenants.auth.models import User
from tests.portal.browser.conftest import Seeder, sign_in
from tests.portal.browser.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ZH = catalog("zh_CN")


def _zone_of(user: User) -> str | None:
    with db.unit_of_work() as session:
        return session.scalar(select(User.time_zone).where(User.id == user.id))


def test_a_zone_chosen_on_the_zh_preferences_page_is_kept_with_the_account(
    page: Page, browser: Browser, live: LiveServer, seed: Seeder
) -> None:
    merchant = seed.merchant()
    with db.unit_of_work(merchant.tenant.id) as session:
        order = session.scalar(select(Order).where(Order.external_id == "S-1001"))
        assert order is not None
        order_path = f"/portal/t/{merchant.tenant.slug}/orders/{order.id}"
        placed = order.placed_at
    tokyo = Formatter("zh_CN", user_zone="Asia/Tokyo").datetime(placed)
    shanghai = Formatter("zh_CN", "Asia/Shanghai").datetime(placed)
    assert tokyo.endswith(" UTC+9") and shanghai.endswith(" UTC+8")

    sign_in(page, merchant.owner)
    page.goto("/portal/preferences")
    page.select_option("#pref-locale", "zh_CN")
    page.select_option("#pref-zone", "Asia/Tokyo")
    with page.expect_navigation():
        page.click("form[action='/portal/preferences'] button[type=submit]")
    # The page answers in the language just chosen, and says where the zone is kept.
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == ZH["Preferences"]
    assert page.locator("[role=status]").inner_text() == ZH["Your preferences are saved."]
    assert page.locator("#pref-zone").input_value() == "Asia/Tokyo"
    assert "账户" in page.locator("#pref-zone-help").inner_text()
    assert _zone_of(merchant.owner) == "Asia/Tokyo"
    assert not [c for c in page.context.cookies() if c["name"] == "daiyun_time_zone"]

    # A zone not offered (a crafted form) is refused on the page, in Chinese; nothing changes.
    page.evaluate(
        "document.querySelector('#pref-zone').add(new Option('Mars/Olympus', 'Mars/Olympus'))"
    )
    page.select_option("#pref-zone", "Mars/Olympus")
    with page.expect_navigation():
        page.click("form[action='/portal/preferences'] button[type=submit]")
    alert = ZH["That language or time zone is not one of those offered. Nothing was saved."]
    assert page.locator("[role=alert]").inner_text() == alert
    assert page.locator("#pref-zone").input_value() == "Asia/Tokyo"
    assert _zone_of(merchant.owner) == "Asia/Tokyo"

    page.click("form[action='/portal/logout'] button")
    assert page.url.endswith("/portal/login")

    # Another browser, no cookies: the account's language and zone.
    fresh = browser.new_context(base_url=live.url, locale="en-US")
    try:
        other = fresh.new_page()
        sign_in(other, merchant.owner)
        other.goto(order_path)
        assert other.locator("html").get_attribute("lang") == "zh-CN"
        placed_cell = other.locator("tr", has_text=ZH["Placed"]).locator("td").first
        assert placed_cell.inner_text() == tokyo
        # The tenant's reviewer, who chose nothing, reads the tenant's zone.
        reviewer = browser.new_context(base_url=live.url, locale="en-US")
        try:
            theirs = reviewer.new_page()
            sign_in(theirs, merchant.reviewer)
            theirs.goto(order_path)
            cell = theirs.locator("tr", has_text="Placed").locator("td").first
            assert cell.inner_text() == Formatter("en", "Asia/Shanghai").datetime(placed)
        finally:
            reviewer.close()
    finally:
        fresh.close()
