"""The dashboard counts orders no worker has delivered yet (a backfill in progress), says as of
when its figures were computed, and its month picker shows the month it shows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from daiyun.core.db import unit_of_work
from daiyun.core.events import service as events
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.portal.i18n import Formatter
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.portal.conftest import PortalClient

SHANGHAI = ZoneInfo("Asia/Shanghai")
EN = Formatter("en", "Asia/Shanghai")


def kpi(html: str, name: str) -> str:
    found = re.search(rf'data-kpi="{name}">.*?<span class="value">([^<]*)</span>', html, re.S)
    assert found is not None, name
    return found.group(1).strip()


def test_the_dashboard_counts_a_backfill_the_worker_has_not_delivered(
    world: World, portal_as: PortalClient
) -> None:
    tenant = world.tenant()
    with unit_of_work(tenant.id) as session:
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
    shop = factories.shop(tenant.id, "shopify", external_id="backfilled")
    first = datetime.combine(date(2026, 10, 1), time(10), tzinfo=SHANGHAI).astimezone(UTC)
    for page in range(3):  # three pages of a first sync, each committed on its own
        orders = [
            factories.order(
                f"BF-{page}-{n}",
                placed=first + timedelta(days=page * 3 + n),
                updated=first + timedelta(days=page * 3 + n, minutes=5),
                total_minor=1000 * (n + 1),
            )
            for n in range(3)
        ]
        with unit_of_work(tenant.id) as session:
            order_service.ingest(session, shop.id, "shopify", orders)
    with unit_of_work(tenant.id) as session:
        assert len(events.pending(session, 1000)) == 9  # nothing delivered them

    owner = world.user(Role.merchant_owner, tenant)
    html = portal_as(owner).get(f"/portal/t/{tenant.slug}/dashboard?period=2026-10").text
    assert kpi(html, "paid-orders") == "9"
    assert kpi(html, "gmv") == EN.money(3 * (1000 + 2000 + 3000), "CNY")
    freshness = re.search(r'class="muted freshness" data-as-of="([^"]+)" data-waiting="0"', html)
    assert freshness is not None
    assert "Figures as of " in html
    # The chart: a bar per day of October with its day and amount as tooltip, an amount axis.
    assert html.count("<rect x=") == 31
    assert f"<title>Oct 4, 2026: {EN.money(1000, 'CNY')}</title>" in html
    # Days of ¥10, ¥20 and ¥30: gridlines every ¥10 up to the highest.
    assert re.findall(r'text-anchor="end" class="tick">([\d,]+)</text>', html) == [
        "0",
        "10",
        "20",
        "30",
    ]
    # The month picker names the month shown, never Chromium's empty "--------- ----".
    assert re.search(r'id="f-period" name="period" type="month" value="2026-10"', html)
    # With no month asked for, it shows this month (the default period).
    html = portal_as(owner).get(f"/portal/t/{tenant.slug}/dashboard").text
    value = re.search(r'id="f-period" name="period" type="month" value="(\d{4}-\d{2})"', html)
    assert value is not None
