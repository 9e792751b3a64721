"""Marketing across the staff member's merchants (市场/推广): the campaign planner (each
merchant's campaigns and their promotions in date order, the days they run) and the flash-sale
monitor (stock carved out, sold, left, redemptions). Read in one unit of work per tenant where the
user's role there grants ``marketing:read``, through marketing's service.

A merchant whose promotions cannot be read shows nothing rather than failing the page, as the
other console pages do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daiyun.core.ids import utcnow
from daiyun.platform.marketing import service as marketing
from daiyun.platform.marketing.rules import Kind
from daiyun.platform.marketing.schemas import CampaignRead, PromotionRead
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

# Campaigns and promotions read per merchant; the API pages through them all.
PER_MERCHANT = 50
# The planner's calendar: this many days from today, one column each.
CALENDAR_DAYS = 14


@dataclass(frozen=True)
class PlannedPromotion:
    promotion: PromotionRead
    days: frozenset[date]  # the calendar days (tenant time) it runs on

    @property
    def live(self) -> bool:
        now = utcnow()
        p = self.promotion
        return p.active and p.starts_at <= now < p.ends_at


@dataclass(frozen=True)
class PlannedCampaign:
    tenant: TenantView
    campaign: CampaignRead
    promotions: list[PlannedPromotion]


@dataclass(frozen=True)
class FlashRow:
    tenant: TenantView
    promotion: PromotionRead

    @property
    def left(self) -> int:
        return max(0, self.promotion.flash_stock - self.promotion.flash_sold)


@dataclass
class MarketingWork:
    days: list[date] = field(default_factory=list)
    campaigns: list[PlannedCampaign] = field(default_factory=list)
    flash: list[FlashRow] = field(default_factory=list)
    unread: list[TenantView] = field(default_factory=list)
    may_manage: set[uuid.UUID] = field(default_factory=set)  # tenants the user may plan for


def _days(start: datetime, end: datetime, zone: ZoneInfo, shown: list[date]) -> frozenset[date]:
    first, last = start.astimezone(zone).date(), (end - timedelta(seconds=1)).astimezone(zone)
    return frozenset(d for d in shown if first <= d <= last.date())


def marketing_work(accesses: list[Access], user_id: uuid.UUID) -> MarketingWork:
    """Every readable merchant's campaigns with their promotions, and its flash sales."""
    work = MarketingWork()
    today = utcnow().date()
    work.days = [today + timedelta(days=n) for n in range(CALENDAR_DAYS)]
    for access in with_permission(accesses, Permission.marketing_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            done = quietly(partial(_read, session, access.tenant, work))
            session.rollback()
        if done is None:
            work.unread.append(access.tenant)
    for access in with_permission(accesses, Permission.marketing_manage):
        work.may_manage.add(access.tenant.id)
    work.campaigns.sort(key=lambda c: (c.campaign.starts_at, c.tenant.display_name.lower()))
    work.flash.sort(key=lambda f: (f.promotion.ends_at, f.tenant.display_name.lower()))
    return work


def _read(session: Session, tenant: TenantView, work: MarketingWork) -> bool:
    zone = ZoneInfo(tenant.time_zone)
    campaigns, _ = marketing.find_campaigns(session, None, PER_MERCHANT)
    promotions, _ = marketing.find_promotions(session, None, None, None, PER_MERCHANT * 4)
    by_campaign: dict[uuid.UUID, list[PlannedPromotion]] = {}
    for row in promotions:
        read = marketing.promotion_read(row)
        planned = PlannedPromotion(read, _days(read.starts_at, read.ends_at, zone, work.days))
        by_campaign.setdefault(read.campaign_id, []).append(planned)
        if read.kind is Kind.flash:
            work.flash.append(FlashRow(tenant, read))
    for campaign in campaigns:
        ordered = sorted(by_campaign.get(campaign.id, []), key=lambda p: p.promotion.starts_at)
        work.campaigns.append(PlannedCampaign(tenant, marketing.campaign_read(campaign), ordered))
    return True
