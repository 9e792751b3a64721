"""The sales dashboard: the rollups it reads against the raw SQL behind it, in one run.

One tenant (Asia/Shanghai, CNY) with four shops on three channels and ``--orders`` orders
(default 1,000,000) placed evenly over the year 1 November 2025 to 31 October 2026 (Shanghai
time), one or two lines each, in a realistic mix of statuses (pending, cancelled, refunded and
partially refunded among them). Orders are written with Core ``insert().executemany`` in batches
of 5,000, each batch in its own tenant-bound ``unit_of_work``; on PostgreSQL the tables are then
analyzed as the owner (as autovacuum would have by then).

Then, on the same database:

* **rebuild**: ``reports.service.rebuild`` of the whole tenant, once (what ``daiyun rollups
  rebuild`` does), and the rows it wrote;
* for a month (October 2026) and for the year, each measured as the best of ``--repeat`` runs
  after one warm-up, every one in its own ``unit_of_work(tenant_id)``:
  - **service**: ``reports.service.dashboard`` (totals, previous period, daily trend, by channel,
    by shop with names, top 10 products), what the page calls;
  - **SQL on rollups**: the same figures by hand-written SQL over ``daily_sales`` and
    ``daily_product_sales`` (the floor for the service);
  - **SQL on orders**: the same figures by hand-written SQL over ``orders`` and ``order_lines``
    (the dashboard's cost without rollups). The local day is computed in SQL: ``AT TIME ZONE``
    on PostgreSQL, ``+8 hours`` on SQLite (Shanghai keeps no daylight saving time).

It prints, per database, a table of seconds and ratios (to the service) per period, and checks
that the SQL on orders finds the figures the service shows (totals, previous period, the daily
trend and the top products). ``MEASURES`` lists the rows; the last one, **portal page**, is the
merchant's dashboard page itself: a merchant user signed in to the portal asks for
``/portal/t/{tenant}/dashboard?from=...&to=...`` through the whole application (session,
membership check, the service, the Jinja2 template with its chart and tables), in process
through Starlette's test client (no network), and checks the answer is the page with its chart.

Then, on the same database, the agency console's overview page with 1 merchant against 50
(``bench/console_overview.py``: fifty merchants with ``--overview-orders`` orders this month
each, rollups and stored drafts; ``--overview-orders 0`` skips it).

Run (from the repository root)::

    .venv/bin/python bench/dashboard.py --database both               # 1,000,000 orders
    .venv/bin/python bench/dashboard.py --database sqlite --orders 50000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import common

TIME_ZONE = "Asia/Shanghai"
UTC_OFFSET_HOURS = 8  # Shanghai, all year round
YEAR_START, YEAR_END = date(2025, 11, 1), date(2026, 10, 31)
MONTH_START = date(2026, 10, 1)
BATCH = 5_000
SHIPPING_MINOR = 1_000
# (channel, shop name, share of the orders)
SHOPS = (
    ("shopify", "Lotus Tea (Shopify)", 0.4),
    ("shopify", "Lotus Teaware (Shopify)", 0.15),
    ("woocommerce", "Lotus Direct (WooCommerce)", 0.25),
    ("amazon", "Lotus Tea US (Amazon)", 0.2),
)
CREDENTIALS: dict[str, dict[str, Any]] = {
    "shopify": common.SHOPIFY_CREDENTIALS,
    "woocommerce": {
        "store_url": "https://bench.example.com",
        "consumer_key": "ck_bench",
        "consumer_secret": "cs_bench",
        "webhook_secret": "woo-bench",
    },
    "amazon": {
        "seller_id": "A1BENCH",
        "marketplace_ids": ["ATVPDKIKX0DER"],
        "lwa_client_id": "amzn1.application-oa2-client.bench",
        "lwa_client_secret": "lwa-bench",
        "refresh_token": "Atzr|bench",
    },
}
SKUS = [(f"SKU-{n:03d}", f"Bench product {n:03d}", 990 + 37 * n) for n in range(120)]
# (status, weight, refunded share of the total)
STATUSES = (
    ("paid", 30, 0.0),
    ("shipped", 25, 0.0),
    ("delivered", 25, 0.0),
    ("pending", 5, 0.0),
    ("cancelled", 5, 0.0),
    ("refunded", 5, 1.0),
    ("partially_refunded", 5, 0.5),
)


# --- the order book --------------------------------------------------------------------------


def new_shop(tenant_id: uuid.UUID, channel: str, name: str, n: int) -> uuid.UUID:
    from daiyun.connectors import service as shop_service
    from daiyun.connectors.schemas import ShopCreate
    from daiyun.core.db import unit_of_work

    body = ShopCreate(
        channel=channel,
        name=name,
        external_id=f"bench-{channel}-{n}",
        credentials=CREDENTIALS[channel],
    )
    with unit_of_work(tenant_id) as session:
        return shop_service.connect(session, body).id


def day_start_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=UTC_OFFSET_HOURS)


def seed(tenant_id: uuid.UUID, shops: list[tuple[uuid.UUID, str]], total: int) -> tuple[int, float]:
    """Write ``total`` orders; returns the number of lines and the seconds it took."""
    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id, utcnow
    from daiyun.platform.orders.models import Order, OrderLine

    orders_table, lines_table = Order.__table__, OrderLine.__table__
    rng = random.Random(20261031)
    start = day_start_utc(YEAR_START)
    span = int((day_start_utc(YEAR_END + timedelta(days=1)) - start).total_seconds())
    weights = [share for _, _, share in SHOPS]
    status_weights = [w for _, w, _ in STATUSES]
    lines_written = 0
    started = time.perf_counter()
    for first in range(0, total, BATCH):
        now = utcnow()
        order_rows: list[dict[str, Any]] = []
        line_rows: list[dict[str, Any]] = []
        for n in range(first, min(total, first + BATCH)):
            order_id = new_id()
            shop_id, channel = rng.choices(shops, weights)[0]
            status, _, refunded_share = rng.choices(STATUSES, status_weights)[0]
            placed = start + timedelta(seconds=min(span - 1, span * n // total + rng.randrange(60)))
            subtotal = items = 0
            for position, (sku, title, price) in enumerate(rng.sample(SKUS, 1 + n % 2)):
                quantity = 1 + rng.randrange(3)
                line_total = price * quantity
                subtotal += line_total
                items += quantity
                line_rows.append(
                    {
                        "tenant_id": tenant_id,
                        "id": new_id(),
                        "order_id": order_id,
                        "position": position,
                        "external_id": f"{n}-{position}",
                        "sku": sku,
                        "title": title,
                        "quantity": quantity,
                        "unit_price_minor": price,
                        "discount_minor": 0,
                        "tax_minor": 0,
                        "total_minor": line_total,
                    }
                )
            total_minor = subtotal + SHIPPING_MINOR
            order_rows.append(
                {
                    "tenant_id": tenant_id,
                    "id": order_id,
                    "created_at": now,
                    "updated_at": now,
                    "shop_id": shop_id,
                    "channel": channel,
                    "external_id": str(7_000_000_000 + n),
                    "status": status,
                    "source_status": status,
                    "channel_status": status,
                    "review_state": "passed",
                    "hold_reasons": [],
                    "currency": "CNY",
                    "subtotal_minor": subtotal,
                    "discount_minor": 0,
                    "shipping_minor": SHIPPING_MINOR,
                    "tax_minor": 0,
                    "total_minor": total_minor,
                    "refunded_minor": int(total_minor * refunded_share),
                    "item_count": items,
                    "buyer_name": None,
                    "buyer_email": None,
                    "buyer_phone": None,
                    "shipping_address": None,
                    "fingerprint": None,
                    "placed_at": placed,
                    "paid_at": None if status == "pending" else placed + timedelta(minutes=1),
                    "source_offset_minutes": 480,
                    "source_updated_at": placed + timedelta(minutes=5),
                    "raw": {},
                }
            )
        with unit_of_work(tenant_id) as session:
            connection = session.connection()
            connection.execute(orders_table.insert(), order_rows)
            connection.execute(lines_table.insert(), line_rows)
        lines_written += len(line_rows)
        if (first // BATCH) % 20 == 19:
            print(f"  ... {first + BATCH:,} orders", flush=True)
    return lines_written, time.perf_counter() - started


def analyze(owner_url: str) -> None:
    from sqlalchemy import text

    from daiyun.core.db import make_engine

    engine = make_engine(owner_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("analyze orders, order_lines, daily_sales, daily_product_sales")
            )
    finally:
        engine.dispose()


# --- the figures by hand-written SQL ---------------------------------------------------------

# Per (local day, shop, channel) over [previous period start, period end], paid = not pending
# and not cancelled; and the top 10 products of the period.
ORDERS_SQL = """
select {day} as day, shop_id, channel,
  count(*) as orders,
  sum(case when status not in ('pending', 'cancelled') then 1 else 0 end) as paid_orders,
  sum(case when status not in ('pending', 'cancelled') then total_minor else 0 end) as gmv,
  sum(case when status not in ('pending', 'cancelled') then item_count else 0 end) as items,
  sum(case when status not in ('pending', 'cancelled') then refunded_minor else 0 end)
    as refunded
from orders
where tenant_id = :tenant and currency = 'CNY' and placed_at >= :start and placed_at < :end
group by 1, shop_id, channel
"""
ORDERS_TOP_SQL = """
select l.sku, max(l.title), sum(l.quantity) as quantity, sum(l.total_minor) as revenue
from orders o
join order_lines l on l.tenant_id = o.tenant_id and l.order_id = o.id
where o.tenant_id = :tenant and o.currency = 'CNY' and o.placed_at >= :start
  and o.placed_at < :end and o.status not in ('pending', 'cancelled')
group by l.sku
order by revenue desc, quantity desc, l.sku
limit 10
"""
ROLLUPS_SQL = """
select day, shop_id, channel, sum(orders), sum(paid_orders), sum(gmv_minor), sum(items_sold),
  sum(refunded_minor)
from daily_sales
where tenant_id = :tenant and currency = 'CNY' and day >= :first and day <= :last
group by day, shop_id, channel
"""
ROLLUPS_TOP_SQL = """
select sku, max(title), sum(quantity) as quantity, sum(revenue_minor) as revenue
from daily_product_sales
where tenant_id = :tenant and currency = 'CNY' and day >= :first and day <= :last
group by sku
order by revenue desc, quantity desc, sku
limit 10
"""


def local_day_sql(backend: str) -> str:
    if backend == "postgresql":
        return f"cast(placed_at at time zone '{TIME_ZONE}' as date)"
    return f"date(placed_at, '+{UTC_OFFSET_HOURS} hours')"


@dataclass(frozen=True)
class Figures:
    """What the hand-written SQL found, in the shape the check compares."""

    totals: tuple[int, ...]
    previous: tuple[int, ...]
    daily_gmv: tuple[int, ...]
    top: tuple[tuple[str, int, int], ...]


def _fold(rows: list[Any], first: date, last: date) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(orders, paid, GMV, items, refunded) of the period and of the one before it."""
    now, before = [0] * 5, [0] * 5
    for row in rows:
        day = row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0]))
        target = now if day >= first else before
        for i in range(5):
            target[i] += int(row[3 + i] or 0)
    del last
    return tuple(now), tuple(before)


def _daily(rows: list[Any], first: date, last: date) -> tuple[int, ...]:
    gmv: dict[date, int] = defaultdict(int)
    for row in rows:
        day = row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0]))
        gmv[day] += int(row[5] or 0)
    return tuple(gmv[first + timedelta(days=n)] for n in range((last - first).days + 1))


@dataclass(frozen=True)
class Context:
    backend: str
    tenant_id: uuid.UUID
    slug: str
    browser: Any  # a Starlette TestClient signed in to the portal as the merchant


@dataclass(frozen=True)
class Period:
    label: str
    first: date
    last: date

    @property
    def previous_first(self) -> date:
        return self.first - timedelta(days=(self.last - self.first).days + 1)


def sql_on_orders(ctx: Context, period: Period) -> Figures:
    from sqlalchemy import Uuid, bindparam, text

    from daiyun.core.db import UTCDateTime, unit_of_work

    start = day_start_utc(period.previous_first)
    end = day_start_utc(period.last + timedelta(days=1))
    types = (
        bindparam("tenant", type_=Uuid()),
        bindparam("start", type_=UTCDateTime()),
        bindparam("end", type_=UTCDateTime()),
    )
    with unit_of_work(ctx.tenant_id) as session:
        rows = list(
            session.execute(
                text(ORDERS_SQL.format(day=local_day_sql(ctx.backend))).bindparams(*types),
                {"tenant": ctx.tenant_id, "start": start, "end": end},
            )
        )
        top = session.execute(
            text(ORDERS_TOP_SQL).bindparams(*types),
            {"tenant": ctx.tenant_id, "start": day_start_utc(period.first), "end": end},
        ).all()
    totals, previous = _fold(rows, period.first, period.last)
    return Figures(
        totals,
        previous,
        _daily(rows, period.first, period.last),
        tuple((r[0], int(r[2]), int(r[3])) for r in top),
    )


def sql_on_rollups(ctx: Context, period: Period) -> Figures:
    from sqlalchemy import Date, Uuid, bindparam, text

    from daiyun.core.db import unit_of_work

    types = (
        bindparam("tenant", type_=Uuid()),
        bindparam("first", type_=Date()),
        bindparam("last", type_=Date()),
    )
    with unit_of_work(ctx.tenant_id) as session:
        rows = list(
            session.execute(
                text(ROLLUPS_SQL).bindparams(*types),
                {"tenant": ctx.tenant_id, "first": period.previous_first, "last": period.last},
            )
        )
        top = session.execute(
            text(ROLLUPS_TOP_SQL).bindparams(*types),
            {"tenant": ctx.tenant_id, "first": period.first, "last": period.last},
        ).all()
    totals, previous = _fold(rows, period.first, period.last)
    return Figures(
        totals,
        previous,
        _daily(rows, period.first, period.last),
        tuple((r[0], int(r[2]), int(r[3])) for r in top),
    )


def service_dashboard(ctx: Context, period: Period) -> Figures:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.reports import repository, service

    with unit_of_work(ctx.tenant_id) as session:
        tenant = repository.tenant(session, ctx.tenant_id)
        assert tenant is not None
        board = service.dashboard(session, tenant, period.first, period.last)

    def five(f: Any) -> tuple[int, ...]:
        return (f.orders, f.paid_orders, f.gmv_minor, f.items_sold, f.refunded_minor)

    return Figures(
        five(board.totals),
        five(board.previous),
        tuple(d.figures.gmv_minor for d in board.daily),
        tuple((p.sku, p.quantity, p.revenue_minor) for p in board.top_products),
    )


def portal_page(ctx: Context, period: Period) -> None:
    answer = ctx.browser.get(
        f"/portal/t/{ctx.slug}/dashboard",
        params={"from": period.first.isoformat(), "to": period.last.isoformat()},
    )
    assert answer.status_code == 200, answer.text[:500]
    assert "<svg" in answer.text, "the page has no chart"


def signed_in_merchant(tenant_id: uuid.UUID) -> tuple[str, Any]:
    """The tenant's slug and a test client signed in to the portal as its owner."""
    import re

    from fastapi.testclient import TestClient

    from daiyun.app import create_app
    from daiyun.core.db import unit_of_work
    from daiyun.tenants.auth.permissions import Role
    from daiyun.tenants.auth.schemas import UserCreate
    from daiyun.tenants.auth.users import create_user
    from daiyun.tenants.models import Tenant

    password = "bench-dashboard-password"
    with unit_of_work() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        slug = tenant.slug
        email = f"owner@{slug}.example.com"
        create_user(
            session,
            UserCreate(email=email, name="Owner", password=password, role=Role.merchant_owner),
            tenant,
        )
    browser = TestClient(create_app(), base_url="http://localhost")
    form = browser.get("/portal/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = browser.post(
        "/portal/login",
        data={"csrf_token": token.group(1), "email": email, "password": password, "next": ""},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]
    return slug, browser


@dataclass(frozen=True)
class Measure:
    """One row of the table: a name and what it runs for a period (returning its figures, or
    None when it has none to compare, as a page render would)."""

    name: str
    run: Callable[[Context, Period], Figures | None]


# The service first: the other rows are compared with it.
MEASURES: list[Measure] = [
    Measure("dashboard service (rollups)", service_dashboard),
    Measure("SQL on rollups", sql_on_rollups),
    Measure("SQL on orders (no rollups)", sql_on_orders),
    Measure("portal page (HTML, whole app)", portal_page),
]


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    fn()  # warm-up: caches, statement compilation, the pages read
    best, result = float("inf"), None
    for _ in range(repeat):
        with common.Stopwatch() as clock:
            result = fn()
        best = min(best, clock.seconds)
    return best, result


# --- the run ---------------------------------------------------------------------------------


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> None:
    from daiyun import departments

    departments.load_models()  # every mapper, for the foreign keys
    from daiyun.core.db import unit_of_work
    from daiyun.platform.reports import repository, service

    with common.database(backend, workdir, args.postgres_url) as target:
        tenant_id = common.new_tenant("bench-dashboard")
        shops = [
            (new_shop(tenant_id, channel, name, n), channel)
            for n, (channel, name, _) in enumerate(SHOPS)
        ]
        lines, seconds = seed(tenant_id, shops, args.orders)
        print(
            f"[{backend}] wrote {args.orders:,} orders ({lines:,} lines) in {seconds:.1f} s"
            f" ({common.rate(args.orders, seconds)} orders/s)",
            flush=True,
        )
        if backend == "postgresql":
            analyze(target.owner_url)
        with common.Stopwatch() as rebuild_clock, unit_of_work(tenant_id) as session:
            tenant = repository.tenant(session, tenant_id)
            assert tenant is not None
            rebuilt = service.rebuild(session, tenant)
        print(
            f"[{backend}] rebuild: {rebuild_clock.seconds:.1f} s for {rebuilt.days} days,"
            f" {rebuilt.sales_rows:,} sales rows, {rebuilt.product_rows:,} product rows"
            f" ({common.rate(args.orders, rebuild_clock.seconds)} orders/s)",
            flush=True,
        )
        if backend == "postgresql":
            analyze(target.owner_url)

        ctx = Context(backend, tenant_id, *signed_in_merchant(tenant_id))
        periods = [
            Period("month", MONTH_START, YEAR_END),
            Period("year", YEAR_START, YEAR_END),
        ]
        rows = []
        for period in periods:
            reference: Figures | None = None
            base_seconds = 0.0
            for m in MEASURES:
                seconds, figures = best_of(args.repeat, lambda m=m, p=period: m.run(ctx, p))
                if reference is None:
                    reference, base_seconds = figures, seconds
                same = "-" if figures is None else ("yes" if figures == reference else "NO")
                rows.append(
                    [
                        m.name,
                        f"{period.label} ({(period.last - period.first).days + 1} d)",
                        f"{seconds * 1000:,.1f}",
                        f"{seconds / base_seconds:,.1f}x" if base_seconds else "n/a",
                        same,
                    ]
                )
            assert reference is not None
            print(
                f"[{backend}] {period.label}: GMV {reference.totals[2]:,}, paid orders"
                f" {reference.totals[1]:,} of {reference.totals[0]:,} placed; previous GMV"
                f" {reference.previous[2]:,}",
                flush=True,
            )
        common.print_table(
            f"[{backend}] dashboard of one tenant with {args.orders:,} orders over a year, best of"
            f" {args.repeat} ({common.machine()}, load average {os.getloadavg()[1]:.1f})",
            ["measure", "period", "ms", "vs service", "same figures"],
            rows,
        )
        if args.overview_orders:
            import console_overview

            console_overview.measure(backend, args.overview_orders, args.repeat, best_of)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument(
        "--orders", type=int, default=1_000_000, help="orders in the book (default 1,000,000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per row (best kept)")
    parser.add_argument(
        "--overview-orders",
        type=int,
        default=2_000,
        help="orders this month of each of the console overview's 50 merchants (0: skip)",
    )
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["DAIYUN_LOG_LEVEL"] = "WARNING"  # the page's request logs would bury the table
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            measure(backend, args, workdir)
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {time.perf_counter() - started:.0f} s in all")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
