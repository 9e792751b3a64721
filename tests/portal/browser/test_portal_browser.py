"""The portal in headless Chromium: sign-in, dashboard, orders, downloads, review queue, CSRF,
tenant isolation, languages and keyboard use, against the real app over HTTP."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.orders.models import Order, ReviewState
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.portal.i18n import Formatter, catalog
from tests.portal.browser.conftest import MONTH, SHANGHAI, Merchant, Seeder, sign_in
from tests.portal.browser.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

EN = Formatter("en", "Asia/Shanghai")
ZH = catalog("zh_CN")
PAID = {s.value for s in OrderStatus} - {"pending", "cancelled"}


def _orders_of(merchant: Merchant) -> dict[str, Order]:
    with db.unit_of_work(merchant.tenant.id) as session:
        return {o.external_id: o for o in session.scalars(select(Order))}


def test_sign_in_lands_on_the_merchant_dashboard(page: Page, seed: Seeder) -> None:
    merchant = seed.merchant(with_orders=False)
    page.goto("/portal/t/" + merchant.tenant.slug + "/orders")
    assert "/portal/login" in page.url  # sent to sign in first, with the way back kept
    page.fill("#email", merchant.owner.email)
    page.fill("#password", "wrong password")
    page.click("form[action='/portal/login'] button[type=submit]")
    assert page.locator("[role=alert]").inner_text().startswith("The e-mail address")
    sign_in(page, merchant.owner)
    assert page.url.endswith(f"/portal/t/{merchant.tenant.slug}/dashboard")
    assert page.locator("h1").first.inner_text() == "Dashboard"
    assert merchant.tenant.display_name in page.locator(".tenant-name").inner_text()
    # Signing out returns to the sign-in page; the pages are closed again.
    page.click("form[action='/portal/logout'] button")
    assert page.url.endswith("/portal/login")
    page.goto(f"/portal/t/{merchant.tenant.slug}/dashboard")
    assert "/portal/login?next=" in page.url


def test_dashboard_figures_equal_the_api(page: Page, seed: Seeder) -> None:
    merchant = seed.merchant()
    start = datetime(MONTH.year, MONTH.month, 1, tzinfo=SHANGHAI)
    end = datetime(MONTH.year, MONTH.month + 1, 1, tzinfo=SHANGHAI)
    listed = seed.api(
        merchant.owner,
        f"/tenants/{merchant.tenant.slug}/orders",
        placed_from=start.isoformat(),
        placed_to=end.isoformat(),
        limit=100,
    )["items"]
    paid = [o for o in listed if o["status"] in PAID]
    gmv = sum(o["total_minor"] for o in paid)
    assert len(paid) == 4 and gmv == 5998 + 12800 + 25800 + 45000

    sign_in(page, merchant.owner)
    page.goto(f"/portal/t/{merchant.tenant.slug}/dashboard?period={MONTH}")

    def kpi(name: str) -> str:
        return page.locator(f"[data-kpi={name}] .value").inner_text().strip()

    assert kpi("gmv") == EN.money(gmv, "CNY")
    assert kpi("paid-orders") == str(len(paid))
    assert kpi("aov") == EN.money(round(gmv / len(paid)), "CNY")
    # The month can also be chosen with the form.
    page.goto(f"/portal/t/{merchant.tenant.slug}/dashboard")
    page.fill("#f-period", str(MONTH))
    page.click("form[action$='/dashboard'] button[type=submit] >> nth=0")
    assert f"period={MONTH}" in page.url
    assert kpi("gmv") == EN.money(gmv, "CNY")


def _order_numbers(page: Page) -> list[str]:
    return sorted(t.strip() for t in page.locator("table tbody th[scope=row] a").all_inner_texts())


def test_order_filters(page: Page, seed: Seeder) -> None:
    merchant = seed.merchant()
    other = seed.merchant()
    sign_in(page, merchant.owner)
    page.goto(f"/portal/t/{merchant.tenant.slug}/orders")
    assert _order_numbers(page) == ["S-0901", "S-1001", "S-1002", "S-1003", "S-1004", "W-2001"]

    page.select_option("#f-status", "shipped")
    page.click("form[role=search] button[type=submit]")
    assert "status=shipped" in page.url
    assert _order_numbers(page) == ["S-1002"]

    page.goto(f"/portal/t/{merchant.tenant.slug}/orders")
    page.select_option("#f-channel", "woocommerce")
    page.click("form[role=search] button[type=submit]")
    assert _order_numbers(page) == ["W-2001"]

    page.goto(f"/portal/t/{merchant.tenant.slug}/orders")
    page.fill("#f-from", "2026-10-09")
    page.fill("#f-to", "2026-10-20")
    page.click("form[role=search] button[type=submit]")
    assert _order_numbers(page) == ["S-1002", "S-1003", "S-1004"]

    page.goto(f"/portal/t/{merchant.tenant.slug}/orders")
    page.fill("#f-q", "S-1004")
    # Enter submits without Playwright waiting for the page it leads to; wait for it, or the rows
    # read can be the old page's, or none while the new one loads.
    with page.expect_navigation():
        page.press("#f-q", "Enter")
    assert "q=S-1004" in page.url
    assert _order_numbers(page) == ["S-1004"]
    # The order's own page opens from the list.
    page.click("table tbody th[scope=row] a")
    assert "/orders/" in page.url and "S-1004" in page.locator("main").inner_text()
    assert other.tenant.slug not in page.content()


def test_downloads_hold_the_tenants_rows(page: Page, seed: Seeder) -> None:
    merchant = seed.merchant()
    other = seed.merchant()
    sign_in(page, merchant.owner)
    page.goto(f"/portal/t/{merchant.tenant.slug}/orders?status=paid")
    with page.expect_download() as info:
        page.click("a[href*='orders.csv']")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = open(download.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    rows = list(csv.DictReader(io.StringIO(text)))
    numbers = sorted(next(v for k, v in r.items() if "external" in k.lower()) for r in rows)
    assert numbers == ["S-0901", "S-1001", "S-1004"]
    assert other.tenant.slug not in text

    page.goto(f"/portal/t/{merchant.tenant.slug}/statements/{merchant.statement_id}")
    assert "2026-10" in page.locator("main").inner_text()
    with page.expect_download() as info:
        page.click("a[href$='.csv']")
    statement_csv = open(info.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    assert info.value.suggested_filename.endswith(".csv")
    assert len(list(csv.reader(io.StringIO(statement_csv)))) >= 2
    with page.expect_download() as info:
        page.click("a[href$='.pdf']")
    assert info.value.suggested_filename.endswith(".pdf")
    with open(info.value.path(), "rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF") and len(pdf) > 500


def test_review_queue_release_and_bulk(page: Page, seed: Seeder) -> None:
    merchant = seed.merchant(with_orders=False, held=4)
    sign_in(page, merchant.reviewer)
    assert page.url.endswith("/portal/console")
    page.click("nav a[href='/portal/console/review']")
    page.select_option("#filter-tenant", merchant.tenant.slug)
    page.click("form[action='/portal/console/review'] button[type=submit]")
    queue = page.locator("table.console-table tbody")
    for external in merchant.held:
        assert external in queue.inner_text()

    page.click("button[aria-label='Release order H-001']")
    assert page.locator("[role=status]").inner_text() == "Order released."
    assert "H-001" not in queue.inner_text()

    for external in ("H-002", "H-003"):
        page.get_by_label(f"Select order {external}").check()
    page.fill("#bulk-reason", "买家要求取消")
    page.click("#bulk-form button[value=cancel]")
    assert page.locator("[role=status]").inner_text() == "Done: 2. Skipped: 0."
    remaining = queue.inner_text()
    assert "H-004" in remaining and "H-002" not in remaining and "H-003" not in remaining

    orders = _orders_of(merchant)
    assert orders["H-001"].review_state == ReviewState.released
    assert orders["H-002"].status == OrderStatus.cancelled
    assert orders["H-003"].status == OrderStatus.cancelled
    assert orders["H-004"].review_state == ReviewState.held


@pytest.fixture
def other_origin() -> Iterator[dict[str, str]]:
    """A second site on another port: whatever page is put in ``pages`` is served as HTML."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    pages["__base__"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield pages
    finally:
        server.shutdown()
        server.server_close()


def test_a_form_posted_from_another_origin_is_refused(
    page: Page, seed: Seeder, live: LiveServer, other_origin: dict[str, str]
) -> None:
    merchant = seed.merchant(with_orders=False, held=1)
    order_id = _orders_of(merchant)["H-001"].id
    target = f"{live.url}/portal/t/{merchant.tenant.slug}/orders/{order_id}/release"
    for name, token in (("no-token", None), ("forged", "guessed-token")):
        field = f'<input type="hidden" name="csrf_token" value="{token}">' if token else ""
        other_origin[f"/{name}"] = (
            f'<!doctype html><form method="post" action="{target}">{field}'
            '<input type="hidden" name="note" value="pwned"></form>'
            "<script>document.forms[0].submit()</script>"
        )
    sign_in(page, merchant.reviewer)  # the victim is signed in: the cookie goes along
    for name in ("no-token", "forged"):
        with page.expect_response(lambda r: r.url == target) as info:
            page.goto(f"{other_origin['__base__']}/{name}")
        assert info.value.status == 403, name
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "The form has expired"
    assert _orders_of(merchant)["H-001"].review_state == ReviewState.held


def test_merchant_a_is_denied_b_pages(page: Page, seed: Seeder) -> None:
    a, b = seed.merchant(with_orders=False), seed.merchant(with_orders=False)
    sign_in(page, a.owner)
    for path in ("dashboard", "orders", "statements", f"statements/{b.statement_id}", "shops"):
        answer = page.goto(f"/portal/t/{b.tenant.slug}/{path}")
        assert answer is not None and answer.status == 404, path
        assert page.locator("h1").inner_text() == "Page not found"
        assert b.tenant.display_name not in page.content()
    answer = page.goto(f"/portal/t/{a.tenant.slug}/statements/{b.statement_id}")
    assert answer is not None and answer.status == 404
    answer = page.goto("/portal/console")
    assert answer is not None and answer.status == 404


def test_language_switch_to_chinese_and_back(page: Page, seed: Seeder) -> None:
    merchant = seed.merchant()
    sign_in(page, merchant.owner)
    page.goto(f"/portal/t/{merchant.tenant.slug}/orders")
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("form.lang button:has-text('简体中文')")
    assert page.url.endswith(f"/portal/t/{merchant.tenant.slug}/orders")  # the same page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    nav = page.locator("header nav").inner_text()
    assert ZH["Orders"] in nav and ZH["Dashboard"] in nav
    assert page.locator("h1").first.inner_text() == ZH["Orders"]
    # The choice stays with the user on the next page, and money reads in Chinese.
    page.goto(f"/portal/t/{merchant.tenant.slug}/dashboard?period={MONTH}")
    assert page.locator("h1").first.inner_text() == ZH["Dashboard"]
    assert "¥" in page.locator("[data-kpi=gmv] .value").inner_text()

    page.click("form.lang button:has-text('English')")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").first.inner_text() == "Dashboard"


def test_sign_in_with_the_keyboard_only(context: BrowserContext, seed: Seeder) -> None:
    merchant = seed.merchant(with_orders=False)
    page = context.new_page()
    page.goto("/portal/login")
    # From the top of the page, Tab reaches the e-mail field (past the skip link and language).
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "email":
            break
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(merchant.owner.email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("correct horse battery staple")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/portal/t/{merchant.tenant.slug}/dashboard")
    # The skip link is the first stop and leads to the content.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"


def test_sessions_expire_with_sign_out_in_the_browser(
    context: BrowserContext, seed: Seeder
) -> None:
    """A cookie copied before signing out does not open the portal afterwards."""
    merchant = seed.merchant(with_orders=False)
    page = context.new_page()
    sign_in(page, merchant.owner)
    copied = [c for c in context.cookies() if c["name"] == "daiyun_session"]
    assert copied and copied[0]["httpOnly"] and copied[0]["sameSite"] == "Lax"
    assert copied[0]["path"] == "/portal"
    assert page.evaluate("document.cookie").find("daiyun_session") == -1
    page.click("form[action='/portal/logout'] button")
    context.add_cookies(copied)  # type: ignore[arg-type]
    page.goto(f"/portal/t/{merchant.tenant.slug}/dashboard")
    assert "/portal/login?next=" in page.url
