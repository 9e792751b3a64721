"""Daily sales rollups and the dashboard: the figures equal what the order API lists for the same
period, follow every change of an order, and never mix tenants."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

import daiyun.platform.reports.tasks  # noqa: F401  (subscribes the handlers)
from daiyun.cli import app as cli_app
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.events import service as events
from daiyun.core.events.models import OutboxEvent
from daiyun.core.tenancy import TenantContextMissing
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import (
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderStatus,
)
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.reports import repository, service
from daiyun.platform.reports.tasks import refresh_for_order_event
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.conftest import World

API = "/api/v1/tenants"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The period under test: three Shanghai days, and the three before them.
D1, D3 = date(2026, 10, 14), date(2026, 10, 16)
PREVIOUS = (date(2026, 10, 11), date(2026, 10, 13))


# --- building an order book ------------------------------------------------------------------


def new_tenant(time_zone: str = "Asia/Shanghai") -> Tenant:
    slug = f"r-{uuid.uuid4().hex[:10]}"
    with unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session,
            TenantCreate(
                slug=slug, display_name=slug, legal_name=f"{slug} Ltd", time_zone=time_zone
            ),
        )
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
    return tenant


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def make_order(
    external_id: str,
    placed: datetime,
    *,
    status: OrderStatus = OrderStatus.paid,
    lines: list[tuple[str, int, int]] | None = None,
    refunded: int = 0,
    currency: str = "CNY",
    version: int = 0,
) -> NormalizedOrder:
    """An order placed at ``placed`` with (sku, quantity, unit price) lines; ``version`` orders
    successive descriptions of the same order."""
    order = factories.order(
        external_id,
        placed=placed,
        status=status,
        updated=placed + timedelta(minutes=10 + version),
        buyer=f"buyer {external_id}",
        email=f"{external_id}@example.com",
    )
    wanted = lines or [("TEA-001", 2, 2999)]
    order.lines = [
        NormalizedLine(f"{external_id}-{n}", sku, f"Title of {sku}", quantity, price)
        for n, (sku, quantity, price) in enumerate(wanted)
    ]
    order.total_minor = sum(line.total_minor for line in order.lines) + 1000  # plus shipping
    order.subtotal_minor = order.total_minor - 1000
    order.shipping_minor = 1000
    order.currency = currency
    if refunded:
        order.refunds = [NormalizedRefund(f"{external_id}-r", refunded, placed + timedelta(days=1))]
    order.raw = {**order.raw, "version": version, "status": status.value}
    return order


def ingest(tenant_id: uuid.UUID, shop_id: uuid.UUID, channel: str, *orders: Any) -> None:
    with unit_of_work(tenant_id) as session:
        order_service.ingest(session, shop_id, channel, list(orders))


def deliver_all(tenant_id: uuid.UUID) -> int:
    """What the worker does: run the handlers of every pending event, once each."""
    with unit_of_work(tenant_id) as session:
        ids = [e.id for e in events.pending(session, 10_000)]
    for event_id in ids:
        with unit_of_work(tenant_id) as session:
            events.handle(session, event_id)
    return len(ids)


def dashboard(
    tenant: Tenant, start: date = D1, end: date = D3, **options: Any
) -> service.Dashboard:
    with unit_of_work(tenant.id) as session:
        return service.dashboard(session, tenant, start, end, **options)


def rollups(tenant_id: uuid.UUID) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with unit_of_work(tenant_id) as session:
        return repository.rollup_rows(session)


def rebuild(tenant: Tenant) -> service.RebuildResult:
    with unit_of_work(tenant.id) as session:
        return service.rebuild(session, tenant)


@dataclass
class Book:
    tenant: Tenant
    shops: dict[str, uuid.UUID]


def seed_book(tenant: Tenant) -> Book:
    """Two shops on two channels; orders in every status over six days, one in USD."""
    shops = {
        "shopify": factories.shop(tenant.id, "shopify").id,
        "woocommerce": factories.shop(tenant.id, "woocommerce").id,
    }
    S = OrderStatus
    plan: list[tuple[str, int, int, OrderStatus, list[tuple[str, int, int]], int, str]] = [
        # channel, day offset from D1 (-3..2), hour, status, lines, refunded, currency
        ("shopify", 0, 9, S.paid, [("TEA-001", 2, 2999), ("CUP-01", 1, 1850)], 0, "CNY"),
        ("shopify", 0, 23, S.shipped, [("TEA-001", 1, 2999)], 0, "CNY"),
        ("shopify", 1, 1, S.pending, [("TEA-002", 3, 4500)], 0, "CNY"),
        ("shopify", 1, 12, S.cancelled, [("TEA-002", 1, 4500)], 0, "CNY"),
        ("shopify", 1, 13, S.refunded, [("KET-01", 1, 6400)], 7400, "CNY"),
        ("shopify", 2, 8, S.partially_refunded, [("TEA-002", 2, 4500)], 4500, "CNY"),
        ("shopify", 2, 20, S.delivered, [("TEA-001", 4, 2999)], 0, "USD"),
        ("woocommerce", 0, 0, S.paid, [("CUP-01", 6, 1850)], 0, "CNY"),
        ("woocommerce", 1, 18, S.fulfilled, [("TEA-003", 1, 3800), ("CUP-01", 2, 1850)], 0, "CNY"),
        ("woocommerce", 2, 23, S.paid, [("TEA-001", 1, 2999)], 0, "CNY"),
        ("shopify", -3, 10, S.paid, [("TEA-001", 1, 2999)], 0, "CNY"),
        ("shopify", -2, 11, S.paid, [("TEA-002", 1, 4500)], 0, "CNY"),
        ("woocommerce", -1, 22, S.refunded, [("CUP-01", 1, 1850)], 2850, "CNY"),
        ("woocommerce", 3, 0, S.paid, [("TEA-001", 9, 2999)], 0, "CNY"),  # after the period
    ]
    for n, (channel, offset, hour, status, lines, refunded, currency) in enumerate(plan):
        placed = local(D1 + timedelta(days=offset), hour, 30)
        order = make_order(
            f"{channel}-{n}",
            placed,
            status=status,
            lines=lines,
            refunded=refunded,
            currency=currency,
        )
        ingest(tenant.id, shops[channel], channel, order)
    deliver_all(tenant.id)
    return Book(tenant, shops)


# --- what the order API says ------------------------------------------------------------------


def api_orders(
    client: TestClient,
    headers: dict[str, str],
    tenant: Tenant,
    start: date,
    end: date,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """Every order the API lists as placed in the Shanghai days ``start`` to ``end``, paged."""
    params: dict[str, Any] = {
        "placed_from": local(start, 0).isoformat(),
        "placed_to": local(end + timedelta(days=1), 0).isoformat(),
        "limit": 3,
    }
    if channel:
        params["channel"] = channel
    found: list[dict[str, Any]] = []
    while True:
        answer = client.get(f"{API}/{tenant.slug}/orders", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found.extend(page["items"])
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


def is_paid(order: dict[str, Any]) -> bool:
    return order["status"] not in ("pending", "cancelled")


def expected(orders: list[dict[str, Any]], currency: str = "CNY") -> service.Figures:
    mine = [o for o in orders if o["currency"] == currency]
    paid = [o for o in mine if is_paid(o)]
    gmv = sum(o["total_minor"] for o in paid)
    items = sum(o["item_count"] for o in paid)
    refunded = sum(o["refunded_minor"] for o in paid)
    figures = service.Figures(
        orders=len(mine),
        paid_orders=len(paid),
        gmv_minor=gmv,
        items_sold=items,
        refunded_minor=refunded,
        refunded_orders=sum(1 for o in paid if o["refunded_minor"] > 0),
    )
    if paid:
        figures = replace(
            figures,
            aov_minor=int((Decimal(gmv) / len(paid)).quantize(Decimal(1), ROUND_HALF_UP)),
            items_per_order=(Decimal(items) / len(paid)).quantize(Decimal("0.01"), ROUND_HALF_UP),
        )
    if gmv:
        figures = replace(
            figures,
            refund_rate=(Decimal(refunded) / gmv).quantize(Decimal("0.0001"), ROUND_HALF_UP),
        )
    return figures


def local_day_of(order: dict[str, Any]) -> date:
    return datetime.fromisoformat(order["placed_at"]).astimezone(SHANGHAI).date()


def expected_products(
    client: TestClient, headers: dict[str, str], tenant: Tenant, orders: list[dict[str, Any]]
) -> list[tuple[str, int, int]]:
    """(sku, quantity, revenue) of paid CNY orders, read line by line from each order's detail."""
    quantity: dict[str, int] = defaultdict(int)
    revenue: dict[str, int] = defaultdict(int)
    for order in orders:
        if order["currency"] != "CNY" or not is_paid(order):
            continue
        detail = client.get(f"{API}/{tenant.slug}/orders/{order['id']}", headers=headers)
        assert detail.status_code == 200, detail.text
        for line in detail.json()["lines"]:
            quantity[line["sku"]] += line["quantity"]
            revenue[line["sku"]] += line["total_minor"]
    ranked = sorted(revenue, key=lambda sku: (-revenue[sku], -quantity[sku], sku))
    return [(sku, quantity[sku], revenue[sku]) for sku in ranked[: service.TOP_PRODUCTS]]


# --- the figures equal the order API ----------------------------------------------------------


@pytest.mark.parametrize("channel", [None, "shopify", "woocommerce"])
def test_dashboard_figures_equal_the_order_api_for_the_same_period_and_channel(
    world: World, client: TestClient, channel: str | None
) -> None:
    tenant = new_tenant()
    book = seed_book(tenant)
    owner = world.actor(Role.merchant_owner, tenant)
    listed = api_orders(client, owner.headers, tenant, D1, D3, channel)
    earlier = api_orders(client, owner.headers, tenant, *PREVIOUS, channel)
    assert listed and earlier

    board = dashboard(tenant, channel=channel)

    assert board.currency == "CNY"
    assert board.period == service.DayRange(D1, D3)
    assert board.previous_period == service.DayRange(*PREVIOUS)
    assert board.totals == expected(listed)
    assert board.previous == expected(earlier)
    assert board.change == service.Change.between(expected(listed), expected(earlier))
    assert board.change.gmv == (
        (Decimal(board.totals.gmv_minor) - board.previous.gmv_minor) / board.previous.gmv_minor
    ).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    # Every day, each equal to the API's orders of that local day.
    assert [d.day for d in board.daily] == [D1, D1 + timedelta(days=1), D3]
    for point in board.daily:
        assert point.figures == expected([o for o in listed if local_day_of(o) == point.day])
    # By channel and by shop, with the shop names the connectors know.
    channels = sorted({o["channel"] for o in listed})
    assert sorted(c.channel for c in board.by_channel) == channels
    for part in board.by_channel:
        assert part.figures == expected([o for o in listed if o["channel"] == part.channel])
    names = {uuid.UUID(s["id"]): s["name"] for s in _shops(client, owner.headers, tenant)}
    for shop in board.by_shop:
        assert shop.shop_name == names[shop.shop_id]
        assert shop.channel == next(c for c, i in book.shops.items() if i == shop.shop_id)
        assert shop.figures == expected([o for o in listed if o["shop_id"] == str(shop.shop_id)])
    gmvs = [c.figures.gmv_minor for c in board.by_channel]
    assert gmvs == sorted(gmvs, reverse=True)
    # Top products, line by line from the order details.
    assert [(p.sku, p.quantity, p.revenue_minor) for p in board.top_products] == (
        expected_products(client, owner.headers, tenant, listed)
    )
    assert all(p.title == f"Title of {p.sku}" for p in board.top_products)
    # The USD order is left out of CNY money, and offered as another currency.
    if channel in (None, "shopify"):
        assert board.currencies == ("CNY", "USD")
        usd = dashboard(tenant, channel=channel, currency="USD")
        assert usd.totals == expected(listed, "USD")
        assert [p.sku for p in usd.top_products] == ["TEA-001"]
    else:
        assert board.currencies == ("CNY",)


def _shops(client: TestClient, headers: dict[str, str], tenant: Tenant) -> list[dict[str, Any]]:
    answer = client.get(f"{API}/{tenant.slug}/shops", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return items


def test_the_daily_trend_has_every_day_of_the_period_zeros_included(world: World) -> None:
    tenant = new_tenant()
    seed_book(tenant)
    board = dashboard(tenant, date(2026, 10, 1), date(2026, 10, 31))
    assert len(board.daily) == 31
    assert [d.day for d in board.daily] == [date(2026, 10, n) for n in range(1, 32)]
    empty = board.daily[0].figures
    assert empty == service.Figures()
    assert empty.aov_minor is None and empty.refund_rate is None
    assert sum(d.figures.gmv_minor for d in board.daily) == board.totals.gmv_minor
    assert board.previous_period == service.DayRange(date(2026, 8, 31), date(2026, 9, 30))
    assert board.previous == service.Figures()
    assert board.change == service.Change(None, None, None, None, None)


def test_a_period_must_be_in_order_and_bounded(world: World) -> None:
    tenant = new_tenant()
    with pytest.raises(Problem) as reversed_period:
        dashboard(tenant, D3, D1)
    assert reversed_period.value.status == 400
    with pytest.raises(Problem) as too_long:
        dashboard(tenant, date(2020, 1, 1), date(2026, 1, 1))
    assert too_long.value.status == 400


# --- changes of an order move the figures -----------------------------------------------------


def test_an_order_paid_then_refunded_or_cancelled_moves_the_figures(world: World) -> None:
    tenant = new_tenant()
    shop = factories.shop(tenant.id).id
    placed = local(D1, 10)
    first = make_order("A", placed, lines=[("TEA-001", 2, 2999)])
    second = make_order("B", placed, lines=[("CUP-01", 1, 1850)])
    ingest(tenant.id, shop, "shopify", first, second)
    deliver_all(tenant.id)
    before = dashboard(tenant, D1, D1).totals
    assert (before.paid_orders, before.gmv_minor, before.refunded_minor) == (2, 6998 + 2850, 0)

    refunded = make_order("A", placed, status=OrderStatus.refunded, refunded=6998, version=1)
    ingest(tenant.id, shop, "shopify", refunded)
    deliver_all(tenant.id)
    after_refund = dashboard(tenant, D1, D1).totals
    assert after_refund.paid_orders == 2
    assert after_refund.refunded_minor == 6998
    assert after_refund.refunded_orders == 1
    assert after_refund.refund_rate == (Decimal(6998) / (6998 + 2850)).quantize(
        Decimal("0.0001"), ROUND_HALF_UP
    )

    cancelled = make_order(
        "B", placed, status=OrderStatus.cancelled, lines=[("CUP-01", 1, 1850)], version=1
    )
    ingest(tenant.id, shop, "shopify", cancelled)
    deliver_all(tenant.id)
    board = dashboard(tenant, D1, D1)
    assert board.totals.orders == 2
    assert board.totals.paid_orders == 1
    assert board.totals.gmv_minor == 6998
    assert board.totals.items_sold == 2
    assert [p.sku for p in board.top_products] == ["TEA-001"]


def test_duplicate_and_out_of_order_events_leave_the_same_rollups(world: World) -> None:
    tenant = new_tenant()
    book = seed_book(tenant)
    shop = book.shops["shopify"]
    placed = local(D1, 15)
    for version, status in enumerate(
        (OrderStatus.paid, OrderStatus.shipped, OrderStatus.refunded), start=1
    ):
        refunded = 5998 + 1000 if status == OrderStatus.refunded else 0
        ingest(
            tenant.id,
            shop,
            "shopify",
            make_order("late", placed, status=status, refunded=refunded, version=version),
        )
    with unit_of_work(tenant.id) as session:
        pending = events.pending(session, 1000)
        assert {e.topic for e in pending} >= {"order.created", "order.updated", "order.refunded"}
        # Newest first, and each one twice: the handler is called directly, as a redelivery
        # that lost its handled mark would call it.
        for event in [*reversed(pending), *pending]:
            refresh_for_order_event(session, event)
    incremental = rollups(tenant.id)
    deliver_all(tenant.id)  # the regular delivery after all that
    assert rollups(tenant.id) == incremental
    rebuild(tenant)
    assert rollups(tenant.id) == incremental
    totals = dashboard(tenant, D1, D1).totals
    assert totals.refunded_minor == 5998 + 1000


def test_rebuild_equals_the_incremental_rollups(world: World) -> None:
    tenant = new_tenant()
    seed_book(tenant)
    incremental = rollups(tenant.id)
    sales, products = incremental
    assert sales and products
    result = rebuild(tenant)
    assert rollups(tenant.id) == incremental
    assert (result.sales_rows, result.product_rows) == (len(sales), len(products))
    # A rebuild also repairs rows that drifted.
    with unit_of_work(tenant.id) as session:
        repository.delete_all(session)
    assert rollups(tenant.id) == ([], [])
    rebuild(tenant)
    assert rollups(tenant.id) == incremental


def test_rollups_rebuild_command(world: World) -> None:
    tenant = new_tenant()
    seed_book(tenant)
    incremental = rollups(tenant.id)
    with unit_of_work(tenant.id) as session:
        repository.delete_all(session)
    runner = CliRunner()
    done = runner.invoke(cli_app, ["rollups", "rebuild", "--tenant", tenant.slug])
    assert done.exit_code == 0, done.output
    assert f"Rebuilt the rollups of {tenant.slug}" in done.output
    assert rollups(tenant.id) == incremental
    missing = runner.invoke(cli_app, ["rollups", "rebuild", "--tenant", "no-such-tenant"])
    assert isinstance(missing.exception, Problem)


# --- days in the tenant's time zone -----------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day"),
    [("Asia/Shanghai", date(2026, 10, 15)), ("America/New_York", date(2026, 11, 1))],
)
def test_days_split_in_the_tenants_time_zone(world: World, zone: str, day: date) -> None:
    """An order at 23:30 local lands on that local day, one at 00:30 on the next (New York's
    1 November 2026 is 25 hours long: DST ends)."""
    tenant = new_tenant(zone)
    tz = ZoneInfo(zone)
    shop = factories.shop(tenant.id).id
    late = make_order("late", local(day, 23, 30, tz), lines=[("A", 1, 1000)])
    early = make_order("early", local(day + timedelta(days=1), 0, 30, tz), lines=[("B", 1, 500)])
    first = make_order("first", local(day, 0, 0, tz), lines=[("C", 1, 200)])
    ingest(tenant.id, shop, "shopify", late, early, first)
    deliver_all(tenant.id)
    board = dashboard(tenant, day, day + timedelta(days=1))
    by_day = {d.day: d.figures for d in board.daily}
    assert by_day[day].paid_orders == 2
    assert by_day[day].gmv_minor == 1000 + 1000 + 200 + 1000
    assert by_day[day + timedelta(days=1)].gmv_minor == 500 + 1000
    assert service.day_bounds(day, tz)[1] - service.day_bounds(day, tz)[0] == timedelta(
        hours=25 if zone == "America/New_York" else 24
    )
    # In UTC one of the two lands on another date than its local one.
    assert late.placed_at.date() != day or early.placed_at.date() == day


# --- isolation ---------------------------------------------------------------------------------


def test_tenant_b_orders_never_appear_in_a_dashboard(world: World) -> None:
    a, b = new_tenant(), new_tenant()
    seed_book(a)
    alone = dashboard(a)
    seed_book(b)
    b_shop = factories.shop(b.id).id
    ingest(b.id, b_shop, "shopify", make_order("b-only", local(D1, 12), lines=[("B-SKU", 5, 9)]))
    deliver_all(b.id)
    assert dashboard(a) == alone
    assert "B-SKU" not in {p.sku for p in dashboard(a).top_products}
    assert "B-SKU" in {p.sku for p in dashboard(b).top_products}
    # A's rollups name only A's shops; refreshing under A with B's order ids finds nothing.
    with unit_of_work(b.id) as session:
        b_orders = list(session.scalars(select(OutboxEvent.payload)))
    b_ids = [uuid.UUID(p["order_id"]) for p in b_orders if "order_id" in p]
    before = rollups(a.id)
    with unit_of_work(a.id) as session:
        assert service.refresh(session, order_ids=b_ids) == []
    assert rollups(a.id) == before
    with unit_of_work(a.id) as session, pytest.raises(TenantContextMissing):
        service.dashboard(session, b, D1, D3)


def test_row_security_hides_b_rollups_from_raw_sql_under_a(world: World, postgres: object) -> None:
    """On PostgreSQL the rollup tables are behind row-level security: raw SQL bound to A reads
    A's rows only, although B's are in the same database (and transaction)."""
    a, b = new_tenant(), new_tenant()
    seed_book(a)
    seed_book(b)
    for table in ("daily_sales", "daily_product_sales"):
        with unit_of_work(a.id) as session:
            seen = set(session.scalars(text(f"select distinct tenant_id from {table}")))
        assert seen == {a.id}, table
