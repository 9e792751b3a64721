"""Marketing (市场/推广): campaigns, their promotions, coupon codes, redemptions and the tenant's
marketing settings. Every table is the tenant's, keyed ``(tenant_id, id)``; promotions reference
their campaign and coupons their promotion through ``(tenant_id, x)``.

Ad spend (``AdSpend``) is one row per day, ad channel, ad campaign and ad group, keeping the
amount as the ad platform billed it and as converted into the tenant's currency at that day's
recorded rate, so a report never converts again nor guesses a rate.

Counters (a promotion's redemptions and flash units sold, a coupon's uses, a campaign's
discount cost and attributed GMV) change only with the redemption row that records why (or the
reversal row that gives it back), under the lock taken in ``repository.lock``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import TenantScoped
from daiyun.platform.marketing.rules import Kind, Stacking, ValueType


class MarginPolicy(StrEnum):
    """What a promotion that would sell under the margin floor meets: refused when created, or
    allowed and capped at the floor by the engine (the engine caps in both cases)."""

    refuse = "refuse"
    cap = "cap"


class CarveStatus(StrEnum):
    none = "none"  # not a flash sale
    held = "held"  # the flash stock is held back from the warehouse's sellable quantity
    released = "released"  # the window ended (or the sale stopped): what was left went back


class RedemptionSource(StrEnum):
    api = "api"  # recorded through /redemptions
    order = "order"  # attributed from an incoming order


class AdChannel(StrEnum):
    """Where an ad ran: the formats the ad-spend import reads (``ad_formats``)."""

    ztc = "ztc"  # 直通车/万相台 (Taobao, Tmall)
    pdd_search = "pdd_search"  # 多多搜索 (Pinduoduo)
    qianchuan = "qianchuan"  # 巨量千川 (Douyin)
    google_ads = "google_ads"
    meta = "meta"


class AdSpendSource(StrEnum):
    csv = "csv"  # a channel's report file, imported
    api = "api"  # recorded through /ad-spend


def _kind(enum: type[StrEnum], length: int) -> Enum:
    return Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class MarketingSettings(TenantScoped, Timestamped, Base):
    """The tenant's marketing settings: one row, created on first write."""

    __tablename__ = "mkt_settings"

    margin_policy: Mapped[MarginPolicy] = mapped_column(_kind(MarginPolicy, 16))


class Campaign(TenantScoped, Timestamped, Base):
    """Promotions grouped with dates, a budget (discount cost may not pass it) and a goal."""

    __tablename__ = "mkt_campaigns"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str | None] = mapped_column(String(300))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    currency: Mapped[str] = mapped_column(String(3))
    budget_minor: Mapped[int] = mapped_column(BigInteger)
    discount_cost_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    attributed_gmv_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    redemptions: Mapped[int] = mapped_column(default=0)


class Promotion(TenantScoped, Timestamped, Base):
    """One promotion; which fields matter depends on ``kind`` (see ``rules.Kind``)."""

    __tablename__ = "mkt_promotions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "campaign_id"], ["mkt_campaigns.tenant_id", "mkt_campaigns.id"]
        ),
        Index("ix_mkt_promotions_campaign", "tenant_id", "campaign_id"),
    )

    campaign_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[Kind] = mapped_column(_kind(Kind, 16))
    value_type: Mapped[ValueType] = mapped_column(_kind(ValueType, 16))
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    # 满减 tiers: [{"threshold_minor", "off_minor"}], thresholds rising.
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cap_minor: Mapped[int | None] = mapped_column(BigInteger)
    sku_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    category_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_order_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    buy_quantity: Mapped[int] = mapped_column(default=0)
    get_quantity: Mapped[int] = mapped_column(default=0)
    stacking: Mapped[Stacking] = mapped_column(_kind(Stacking, 16))
    priority: Mapped[int] = mapped_column(default=100)
    # Only with one of its coupons' codes.
    requires_coupon: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)
    total_limit: Mapped[int | None]
    per_buyer_limit: Mapped[int | None]
    redeemed: Mapped[int] = mapped_column(default=0)
    # 秒杀: the price, the stock carved out of the warehouse where it is held, and units sold.
    flash_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    flash_stock: Mapped[int] = mapped_column(default=0)
    flash_sold: Mapped[int] = mapped_column(default=0)
    flash_warehouse_id: Mapped[uuid.UUID | None]
    carve_status: Mapped[CarveStatus] = mapped_column(_kind(CarveStatus, 16))
    # What the carve-out still holds back in the warehouse (stock less units sold, until release).
    carved: Mapped[int] = mapped_column(default=0)


class Coupon(TenantScoped, Timestamped, Base):
    """A code unlocking its promotion: single, or one of a bulk-generated ``batch``."""

    __tablename__ = "mkt_coupons"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        ForeignKeyConstraint(
            ["tenant_id", "promotion_id"], ["mkt_promotions.tenant_id", "mkt_promotions.id"]
        ),
        Index("ix_mkt_coupons_promotion", "tenant_id", "promotion_id"),
    )

    promotion_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(40))
    batch: Mapped[str | None] = mapped_column(String(40))
    total_limit: Mapped[int | None]
    per_buyer_limit: Mapped[int | None]
    min_order_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    redeemed: Mapped[int] = mapped_column(default=0)


class Redemption(TenantScoped, Base):
    """One promotion used by one order (or cart): append-only, unique per (key, promotion), so
    recording the same order twice changes nothing."""

    __tablename__ = "mkt_redemptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key", "promotion_id"),
        ForeignKeyConstraint(
            ["tenant_id", "promotion_id"], ["mkt_promotions.tenant_id", "mkt_promotions.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "coupon_id"], ["mkt_coupons.tenant_id", "mkt_coupons.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"]),
        Index("ix_mkt_redemptions_buyer", "tenant_id", "promotion_id", "buyer"),
        # The ROAS report reads a period's redemptions.
        Index("ix_mkt_redemptions_at", "tenant_id", "at"),
    )

    key: Mapped[str] = mapped_column(String(120))
    promotion_id: Mapped[uuid.UUID]
    campaign_id: Mapped[uuid.UUID]
    coupon_id: Mapped[uuid.UUID | None]
    order_id: Mapped[uuid.UUID | None]
    buyer: Mapped[str] = mapped_column(String(320))
    source: Mapped[RedemptionSource] = mapped_column(_kind(RedemptionSource, 16))
    currency: Mapped[str] = mapped_column(String(3))
    discount_minor: Mapped[int] = mapped_column(BigInteger)
    order_total_minor: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(default=0)  # flash units
    explanation: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RedemptionReversal(TenantScoped, Base):
    """A redemption given back because its order was cancelled or fully refunded: append-only
    like the redemption it names (which stays, so the history shows the use and its return),
    and one per redemption, so a second reversal cannot count anything back twice."""

    __tablename__ = "mkt_redemption_reversals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "redemption_id"),
        ForeignKeyConstraint(
            ["tenant_id", "redemption_id"], ["mkt_redemptions.tenant_id", "mkt_redemptions.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"]),
    )

    redemption_id: Mapped[uuid.UUID]
    order_id: Mapped[uuid.UUID]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AdSpend(TenantScoped, Timestamped, Base):
    """One day of one ad group's spend (广告花费) on one channel: as billed, and in the tenant's
    currency at that day's recorded rate. Attributed orders and GMV are what the ad platform
    reported, when its file has them (in the billed currency, and converted like the spend)."""

    __tablename__ = "mkt_ad_spend"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel", "day", "ad_campaign", "ad_group"),
        ForeignKeyConstraint(
            ["tenant_id", "campaign_id"], ["mkt_campaigns.tenant_id", "mkt_campaigns.id"]
        ),
        Index("ix_mkt_ad_spend_day", "tenant_id", "day"),
        Index("ix_mkt_ad_spend_campaign", "tenant_id", "campaign_id", "day"),
    )

    day: Mapped[date]
    channel: Mapped[AdChannel] = mapped_column(_kind(AdChannel, 16))
    # The ad platform's own names ("" when the file has no ad group).
    ad_campaign: Mapped[str] = mapped_column(String(200))
    ad_group: Mapped[str] = mapped_column(String(200), default="")
    # The marketing campaign the ads served, when known.
    campaign_id: Mapped[uuid.UUID | None]
    currency: Mapped[str] = mapped_column(String(3))
    spend_minor: Mapped[int] = mapped_column(BigInteger)
    home_currency: Mapped[str] = mapped_column(String(3))
    home_spend_minor: Mapped[int] = mapped_column(BigInteger)
    # The rate used (one unit of ``currency`` in ``home_currency``), as recorded: "1" when none.
    rate: Mapped[str] = mapped_column(String(40))
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    attributed_orders: Mapped[int | None] = mapped_column(BigInteger)
    attributed_gmv_minor: Mapped[int | None] = mapped_column(BigInteger)
    home_gmv_minor: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[AdSpendSource] = mapped_column(_kind(AdSpendSource, 8))
