"""The demo's marketing (市场/推广), seeded by :func:`daiyun.demo.seed` after the stock: each
demo merchant runs a campaign from yesterday to a month ahead with a 满减 promotion in two
tiers, a welcome code (WELCOME10) and a flash sale of its most popular SKU, its units carved out
of the warehouse, so the console's planner and flash-sale monitor and the merchant's campaign
page have something to show, and a cart priced in the console meets all three.

Idempotent as the rest of the demo: a merchant whose demo campaign exists is left alone.
"""

from __future__ import annotations

from datetime import timedelta

from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.marketing import service as marketing
from daiyun.platform.marketing.rules import Kind, ValueType
from daiyun.platform.marketing.schemas import (
    CampaignCreate,
    CouponCreate,
    PromotionCreate,
    TierIn,
)
from daiyun.platform.storefront import floors
from daiyun.platform.storefront import service as catalog_service
from daiyun.sandboxes.marketplaces.catalogs import CATALOGS, sold_items
from daiyun.tenants.models import Tenant

CAMPAIGN = "Demo: this month's promotions"
FLASH_UNITS = 10


def ensure_marketing(tenant: Tenant) -> list[str]:
    """The merchant's running campaign with a 满减 tier, a code and a flash sale."""
    catalog = CATALOGS.get(tenant.slug)
    if catalog is None:
        return []
    items = sold_items(catalog)[:-1]  # the bundle last: its stock is its parts'
    top = max(items, key=lambda item: item[4])[0]
    with unit_of_work(tenant.id) as session:
        campaigns, _ = marketing.find_campaigns(session, None, 200)
        if any(c.name == CAMPAIGN for c in campaigns):
            return []
        [sku], _ = catalog_service.find_skus(session, code=top, limit=1)
        start = utcnow() - timedelta(days=1)
        campaign = marketing.create_campaign(
            session,
            CampaignCreate(
                name=CAMPAIGN,
                goal="Repeat buyers",
                starts_at=start,
                ends_at=start + timedelta(days=31),
                currency=sku.currency,
                budget_minor=500_000,
            ),
        )
        tiers = [
            TierIn(threshold_minor=20_000, off_minor=2_000),
            TierIn(threshold_minor=50_000, off_minor=6_000),
        ]
        marketing.create_promotion(
            session,
            PromotionCreate(
                campaign_id=campaign.id,
                name="满200减20, 满500减60",
                kind=Kind.tiered,
                tiers=tiers,
                cap_minor=6_000,
            ),
        )
        welcome = marketing.create_promotion(
            session,
            PromotionCreate(
                campaign_id=campaign.id,
                name="WELCOME10: 10% off",
                kind=Kind.order,
                value_type=ValueType.percent,
                value=1_000,
                requires_coupon=True,
                cap_minor=5_000,
            ),
        )
        marketing.create_coupon(
            session,
            CouponCreate(promotion_id=welcome.id, code="WELCOME10", per_buyer_limit=1),
        )
        # The flash price: twice the cost, never under the SKU's margin floor.
        floor = floors.check_price(session, sku.id, sku.cost_minor, sku.currency).floor_minor
        marketing.create_promotion(
            session,
            PromotionCreate(
                campaign_id=campaign.id,
                name=f"秒杀 {top}",
                kind=Kind.flash,
                sku_ids=[sku.id],
                flash_price_minor=max(floor, 2 * sku.cost_minor),
                flash_stock=FLASH_UNITS,
                per_buyer_limit=2,
            ),
        )
    return [f"campaign {tenant.slug}"]
