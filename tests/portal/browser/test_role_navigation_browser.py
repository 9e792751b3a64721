"""What a staff member sees in the browser: a menu of only the pages their role opens, a
refusal that keeps the menu and a working sign-out, and a recruiter's switch that lands on the
merchant's openings."""

from __future__ import annotations

from playwright.sync_api import Page

from daiyun.tenants.auth.permissions import Role
from tests.portal.browser.conftest import Seeder, sign_in


def _menu(page: Page) -> list[str]:
    return [
        (text or "").strip() for text in page.locator("nav[aria-label='Main'] a").all_inner_texts()
    ]


def _switch_to(page: Page, slug: str) -> None:
    page.goto("/portal/tenants")
    with page.expect_navigation():
        page.click(f"form[action='/portal/switch']:has(input[value='{slug}']) button")


def test_a_warehouse_user_sees_only_their_pages_and_keeps_the_menu_on_a_refusal(
    page: Page, seed: Seeder
) -> None:
    tenant = seed.tenant("lotus")
    user = seed.user(Role.warehouse_operator, tenant)
    sign_in(page, user)
    _switch_to(page, tenant.slug)
    assert page.url.endswith(f"/portal/t/{tenant.slug}/dashboard")
    # After-sales: returns come back through the warehouse.
    menu = ["Console", "Dashboard", "Orders", "Products", "Stock", "After-sales"]
    assert _menu(page) == menu

    # Typed by hand, a page outside the role: words, the same menu, and a way out.
    answer = page.goto(f"/portal/t/{tenant.slug}/statements")
    assert answer is not None and answer.status == 403
    assert page.locator("h1").inner_text() == "Not allowed"
    assert "Your role does not include this page." in page.locator("main").inner_text()
    assert "forbidden" not in page.content()
    assert _menu(page) == menu
    with page.expect_navigation():
        page.click("form[action='/portal/logout'] button")
    assert page.url.endswith("/portal/login")


def test_a_recruiter_switching_merchant_lands_on_its_openings(page: Page, seed: Seeder) -> None:
    tenant = seed.tenant("lotus")
    sign_in(page, seed.user(Role.recruiter, tenant))
    _switch_to(page, tenant.slug)
    assert f"/portal/t/{tenant.slug}/recruiting" in page.url
    assert "Recruiting" in _menu(page)
    assert page.locator("form[action='/portal/logout'] button").is_visible()
