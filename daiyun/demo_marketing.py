"""The demo's marketing (市场/推广), seeded by :func:`daiyun.demo.seed` after the stock: each
demo merchant runs a campaign from yesterday to a month ahead with a 满减 promotion in two
tiers, a welcome code (WELCOME10) and a flash sale of its most popular SKU, its units carved out
of the warehouse, so the console's planner and flash-sale monitor and the merchant's campaign
page have something to show, and a cart priced in the console meets all three.

Each merchant also has the last 30 days of ad spend (:func:`ensure_ad_spend`): two ad groups on
each of its channels, the campaign's ad campaign linked to it, the ad platforms' attributed
orders and GMV beside the spend, so the ROAS page charts real figures. Lotus Tea buys Google Ads
in USD as well, converted at the demo's recorded USD/CNY rates.

Idempotent as the rest of the demo: a merchant whose demo campaign (or ad spend) exists is left
alone.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.marketing import ad_spend
from daiyun.platform.marketing import service as marketing
from daiyun.platform.marketing.models import AdChannel
from daiyun.platform.marketing.rules import Kind, ValueType
from daiyun.platform.marketing.schemas import (
    AdSpendBatchIn,
    AdSpendIn,
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
AD_DAYS = 30
# Each merchant's channels, the currency it is billed in there, and its daily budget (major).
AD_CHANNELS: dict[str, tuple[tuple[AdChannel, str, int], ...]] = {
    "lotus-tea": ((AdChannel.ztc, "CNY", 300), (AdChannel.google_ads, "USD", 40)),
    "north-peak": ((AdChannel.google_ads, "USD", 120), (AdChannel.meta, "USD", 80)),
    "maple-home": ((AdChannel.qianchuan, "CNY", 500), (AdChannel.pdd_search, "CNY", 200)),
}
AD_GROUPS = ("Best sellers", "New arrivals")


def ensure_marketing(tenant: Tenant) -> list[str]:
    """The merchant's running campaign with a 满减 tier, a code and a flash sale; its ads."""
    return _campaign(tenant) + ensure_ad_spend(tenant)


def _wobble(*parts: object) -> int:
    """A stable number 0..99 for the demo's figures (the same every run)."""
    return hashlib.sha256(repr(parts).encode()).digest()[0] * 100 // 256


def ensure_ad_spend(tenant: Tenant, today: date | None = None) -> list[str]:
    """The last 30 days of ad spend on the merchant's channels, once."""
    channels = AD_CHANNELS.get(tenant.slug)
    if channels is None:
        return []
    today = today or utcnow().date()
    with unit_of_work(tenant.id) as session:
        found, _ = ad_spend.find(session, None, None, None, None, None, 1)
        if found:
            return []
        campaigns, _ = marketing.find_campaigns(session, None, 200)
        linked = next((c.id for c in campaigns if c.name == CAMPAIGN), None)
        rows = []
        for back in range(AD_DAYS):
            day = today - timedelta(days=back)
            for channel, currency, budget in channels:
                for n, group in enumerate(AD_GROUPS):
                    share = (60 if n == 0 else 40) + _wobble(tenant.slug, day, channel, n) // 5
                    spend = budget * share  # minor units: budget x share% x 100
                    clicks = spend // 150 + _wobble(day, group)
                    orders = max(0, clicks // 25 - 1 + _wobble(channel, day) % 3)
                    roas = 2 + _wobble(tenant.slug, group, day.weekday()) % 4
                    rows.append(
                        AdSpendIn(
                            day=day,
                            channel=channel,
                            ad_campaign=CAMPAIGN if n == 0 else "Always on",
                            ad_group=group,
                            campaign_id=linked if n == 0 else None,
                            currency=currency,
                            spend_minor=spend,
                            impressions=clicks * (30 + _wobble(group, day) // 4),
                            clicks=clicks,
                            attributed_orders=orders,
                            attributed_gmv_minor=spend * roas if orders else 0,
                        )
                    )
        ad_spend.record(session, AdSpendBatchIn(rows=rows))
    return [f"{len(rows)} ad spend rows -> {tenant.slug}"]


def _campaign(tenant: Tenant) -> list[str]:
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
