"""The pack station in a real browser, as a keyboard-wedge scanner drives it: the scan input has
focus, a barcode typed and Enter checks it; a wrong item is refused in red and counted, the right
items complete the parcel, and the weight closes it. Also the wave screen and the merchant's
parcels, each page holding its content at 1280 px."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from daiyun.core import db
from daiyun.platform.fulfillment import service, waves
from daiyun.platform.fulfillment.schemas import FoState, WaveRuleIn
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.schemas import ProductCreate, SkuCreate
from daiyun.platform.warehouse import reservations
from daiyun.platform.warehouse import service as stock_service
from daiyun.platform.warehouse.schemas import (
    LocationCreate,
    ReceiptCreate,
    ReceivedLine,
    WarehouseCreate,
)
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.portal.browser.conftest import Seeder, sign_in
from tests.portal.browser.test_layout import _check

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _picked_parcel(seed: Seeder) -> tuple[object, str, uuid.UUID]:
    """A merchant with TEA and CUP in stock, one order of two TEA, picked in a wave."""
    tenant = seed.tenant("pack")
    with db.unit_of_work() as session:
        code = f"PK{uuid.uuid4().hex[:6].upper()}"
        site = stock_service.create_warehouse(session, WarehouseCreate(code=code, name="杭州仓"))
        shelf = stock_service.create_location(
            session, site.id, LocationCreate(zone="A", aisle="01", shelf="02", bin="03")
        )
        site_id, shelf_id = site.id, shelf.id
    shop = factories.shop(tenant.id, "shopify", external_id=f"shop-{tenant.slug}")
    with db.unit_of_work(tenant.id) as session:
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
        product = catalog_service.create_product(
            session,
            ProductCreate(
                name="西湖龙井",
                variants=[
                    SkuCreate(code="TEA", cost_minor=100, currency="CNY", barcode="6901234567892"),
                    SkuCreate(code="CUP", cost_minor=100, currency="CNY", barcode="6909876543210"),
                ],
            ),
        )
        lines = [
            ReceivedLine(sku_id=v.id, quantity=10, location_id=shelf_id) for v in product.variants
        ]
        stock_service.create_receipt(session, ReceiptCreate(warehouse_id=site_id, received=lines))
        [(_, order)] = order_service.ingest(
            session, shop.id, "shopify", [factories.order("P-1", sku="TEA", quantity=2)]
        )
        reservations.sync_order(session, order.id)
        [parcel] = service.sync_order(session, order.id)
        merchant = [waves.Merchant(tenant.id, tenant.display_name)]
        wave = waves.create(session, site_id, WaveRuleIn(), merchant)
        waves.confirm_pick(session, wave.id, merchant)
        return tenant, parcel.number, wave.id


def test_the_pack_station_refuses_a_wrong_item_and_packs_the_right_ones(
    page: Page, seed: Seeder
) -> None:
    tenant, number, wave_id = _picked_parcel(seed)
    operator = seed.user(Role.warehouse_operator, tenant)
    sign_in(page, operator)
    base = f"/portal/t/{tenant.slug}"  # type: ignore[attr-defined]
    page.goto(f"{base}/pack")
    page.fill("input[name=number]", number)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    scan = page.locator("#scan-input")
    assert scan.evaluate("e => e === document.activeElement")
    # A scanner types the CUP's barcode and presses Enter: refused, in red, and counted.
    page.keyboard.type("6909876543210")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    refused = page.locator("[data-scan=refused]")
    assert refused.count() == 1 and "6909876543210" in refused.inner_text()
    colour = refused.evaluate("e => getComputedStyle(e).color")
    assert colour.startswith("rgb(") and colour != "rgb(0, 0, 0)"
    assert "Scan errors: 1" in page.inner_text("main")
    assert page.locator("#scan-input").evaluate("e => e === document.activeElement")
    for barcode in ("6901234567892", "TEA"):
        page.keyboard.type(barcode)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("[data-scan=ok]").count() == 1
    page.keyboard.type("TEA")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("[data-scan=refused]").count() == 1  # one too many
    page.fill("input[name=weight]", "520")
    with page.expect_navigation():
        page.click("form[aria-label='Finish packing'] button")
    assert page.locator(".notice[role=status]").count() == 1
    with db.unit_of_work(tenant.id) as session:  # type: ignore[attr-defined]
        [packed] = [
            p
            for p in service.find(
                session,
                state=FoState.packed,
                warehouse_id=None,
                wave_id=None,
                order_id=None,
                cursor=None,
                limit=10,
            )[0]
        ]
    assert (packed.number, packed.weight_grams, packed.scan_errors) == (number, 520, 2)
    problems = _check(page, f"/portal/console/waves/{wave_id}")
    problems += _check(page, "/portal/console/fulfillment")
    page.context.clear_cookies()
    sign_in(page, seed.user(Role.merchant_owner, tenant))  # type: ignore[arg-type]
    problems += _check(page, f"{base}/fulfillment")
    assert problems == []
    assert number in page.inner_text("main")
