"""Marketing's pages: the console's campaign planner, flash-sale monitor and cart preview for a
marketer; the merchant's campaign results; both in Chinese with every message translated."""

from __future__ import annotations

from daiyun.core import db
from daiyun.platform.marketing import pricing
from daiyun.platform.marketing.schemas import RedemptionIn
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.marketing.conftest import Market, market  # noqa: F401 (fixture)
from tests.portal.conftest import PortalClient
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"
TIERS = [{"threshold_minor": 20_000, "off_minor": 2_000}]


def _plan(market: Market) -> None:  # noqa: F811
    market.promotion(name="满200减20", kind="tiered", tiers=TIERS)
    market.promotion(
        name="秒杀 CUP",
        kind="flash",
        sku_ids=[market.skus["CUP"]],
        flash_price_minor=800,
        flash_stock=5,
    )
    cart = market.cart(("TEA", 3, 10_000), ("CUP", 1, 1_500), buyer="a@example.com")
    with db.unit_of_work(market.tenant.id) as session:
        pricing.redeem(session, RedemptionIn(key="page-1", **cart.model_dump()))


def test_the_console_plans_monitors_and_previews(
    market: Market,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    _plan(market)
    other = world.tenant()
    marketer = portal_as(world.user(Role.marketer, market.tenant))
    page = marketer.get(f"{PORTAL}/console/marketing")
    assert page.status_code == 200, page.text
    assert f'data-merchant="{market.tenant.slug}" data-campaign="Double 11"' in page.text
    assert 'data-promotion="满200减20"' in page.text and "●" in page.text
    assert f'data-merchant="{market.tenant.slug}" data-flash="秒杀 CUP"' in page.text
    assert f'data-merchant="{other.slug}"' not in page.text
    preview = marketer.get(
        f"{PORTAL}/console/marketing",
        params={"tenant": market.tenant.slug, "sku0": "TEA", "qty0": "2", "price0": "100"},
    )
    # 200.00 reaches the 满减 tier: 20.00 off.
    assert 'data-total="18000"' in preview.text, preview.text[-3000:]
    assert 'data-discount="满200减20"' in preview.text
    unknown = marketer.get(
        f"{PORTAL}/console/marketing",
        params={"tenant": market.tenant.slug, "sku0": "NOPE", "qty0": "x"},
    )
    assert unknown.status_code == 200 and "data-total" not in unknown.text


def test_the_merchant_sees_campaign_results_in_chinese(
    market: Market,  # noqa: F811
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    _plan(market)
    owner = portal_as(world.user(Role.merchant_owner, market.tenant))
    page = owner.get(f"{PORTAL}/t/{market.tenant.slug}/campaigns")
    assert page.status_code == 200, page.text
    # 3 TEA and a CUP at 8.00 on the flash price (7.00 off), then 20.00 off the 308.00.
    assert 'data-campaign="Double 11"' in page.text
    assert 'data-gmv="28800"' in page.text
    choose_chinese(owner)
    zh = owner.get(f"{PORTAL}/t/{market.tenant.slug}/campaigns")
    assert "活动" in zh.text
    staff = portal_as(world.user(Role.marketer, market.tenant))
    choose_chinese(staff)
    assert staff.get(f"{PORTAL}/console/marketing").status_code == 200
    assert not untranslated, sorted(untranslated)
