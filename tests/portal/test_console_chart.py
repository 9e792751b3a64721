"""The console overview draws each merchant's GMV of the month so far by day, from the rollups,
in the merchant's own currency; a role that may not see a merchant's GMV gets no chart of it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.reports import service as reports_service
from daiyun.portal.i18n import Formatter
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.portal.conftest import PortalClient

EN = Formatter("en", "Asia/Shanghai")


def _sold_today(tenant: Tenant, *totals: int) -> datetime:
    """Orders placed earlier today (in the tenant's zone), counted into the rollups."""
    zone = ZoneInfo(tenant.time_zone)
    now = utcnow()
    midnight = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)
    placed = (midnight + (now - midnight) / 2).astimezone(UTC)  # today, before now
    with unit_of_work(tenant.id) as session:
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
    shop = factories.shop(tenant.id, "shopify")
    orders = [
        factories.order(f"T-{n}", placed=placed, updated=placed, total_minor=total)
        for n, total in enumerate(totals)
    ]
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop.id, "shopify", orders)
        reports_service.count_order_events(session)
    return placed


def test_the_overview_charts_each_merchants_month_by_day(
    world: World, portal_as: PortalClient
) -> None:
    selling, quiet, hidden = world.tenant(), world.tenant(), world.tenant()
    placed = _sold_today(selling, 12_000, 30_000)
    _sold_today(hidden, 99_900)
    staff = world.user(Role.account_manager)
    for tenant in (selling, quiet):
        world.assign(staff, tenant, Role.account_manager)
    world.assign(staff, hidden, Role.recruiter)  # a recruiter does not see orders, nor GMV

    html = portal_as(staff).get("/portal/console").text
    cards = dict(re.findall(r'<li data-tenant="([^"]+)">(.*?)</li>', html, re.S))
    assert set(cards) == {selling.slug}  # no sales yet: no chart; not for the role: none
    card = cards[selling.slug]
    today = placed.astimezone(ZoneInfo(selling.time_zone)).date()
    assert card.count("<rect ") == today.day  # the first of the month to today
    assert f"<title>{EN.date(today)}: {EN.money(42_000, 'CNY')}</title>" in card
    assert EN.money(42_000, "CNY") in card  # the month's total beside the name
    assert 'class="tick unit">CNY<' in card
