"""Statement generation: ``billing.service.compute`` against one hand-written SQL aggregate.

One tenant with one Shopify shop and a contract (flat 5 % commission on the default base, a base
fee of 3,000.00, CNY, Asia/Shanghai, base date "paid"). Orders paid in October 2026 (Shanghai
time), status ``paid``, currency CNY, two lines each, are written with Core
``insert().executemany`` in batches of 5,000 orders, each batch in its own tenant-bound
``unit_of_work``. On PostgreSQL the two tables are then analyzed (as the owner), as autovacuum
would have done by the time a month is billed. The book grows to each size of ``--orders`` in
turn (smallest first); at each size a fresh child process measures, on the same database:

* **compute**: ``service.compute(session, Period(2026, 10))`` in ``unit_of_work(tenant_id)``,
  once: wall time, and peak RSS growth over the RSS just before it (``/proc/self/statm`` sampled
  every 10 ms in a thread). Before the baseline is taken, the child computes September (no
  orders) once, so imports, mapper configuration and statement compilation are not counted;
* **SQL**: ``select sum(total_minor - shipping_minor - tax_minor) from orders where tenant_id = :t
  and status in (...) and currency = 'CNY' and paid_at >= :start and paid_at < :end``, the same
  base the contract bills (orders in another currency are not billed), in
  ``unit_of_work(tenant_id)``: run once to warm the cache, then the best of three.

It prints, per database: orders, lines, compute and SQL seconds, their ratio (goal: compute
within 2x of SQL), the CPU seconds of the measuring process during compute (far below its wall
time, it was waiting: for the database, or for a busy machine), peak RSS growth and growth per
100,000 orders (goal: flat in the number of orders, under 300 MB), and whether the commission
line equals round-half-up(5 % x the SQL base) and bills every order.

With ``--tracemalloc`` the child also runs compute a second time under ``tracemalloc`` and
reports its peak of Python allocations: tracing slows compute about three times over, so it is
off by default and never part of the timed run. With ``--profile`` the child runs compute once
more under ``cProfile`` and prints the top functions by cumulative time.

Run (from the repository root)::

    .venv/bin/python bench/billing.py --database both
    .venv/bin/python bench/billing.py --database sqlite --orders 100000,500000   # 1M lines
    .venv/bin/python bench/billing.py --database sqlite --orders 5000 --profile

The default (25,000 and 100,000 orders, so 50,000 and 200,000 lines) takes about three minutes
in all on a 2-core machine, both databases included, most of it writing the order book; larger
sizes are opt-in (``--orders 100000,500000`` writes 1,000,000 lines per database).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import common

RESULT_MARK = "BILLING-RESULT "
YEAR, MONTH = 2026, 10
TIME_ZONE = "Asia/Shanghai"
RATE = Decimal("0.05")
BASE_FEE_MINOR = 300_000
BATCH = 5_000
SHIPPING_MINOR = 1_000
MEMORY_GOAL_BYTES = 300 * 2**20
SPEED_GOAL = 2.0
# Flat: the large run's growth within this factor of the small run's, or within a few MB of it
# (the sampler sees whole pages; sub-MB growths differ by noise).
FLAT_TOLERANCE = 1.25
FLAT_SLACK_BYTES = 5 * 2**20
FULL_ORDERS = 500_000  # 1,000,000 lines, the size
# In a monthly cycle last month is finalized a few days into this one (the review window): the
# share of this month's orders created before the newest order billed then.
STEADY_OLDER = 0.15
SKUS = (
    ("TEA-LJ-250", "西湖龙井 Longjing green tea 250g", 2999),
    ("TEA-PU-357", "Yunnan ripe pu-erh cake 357g", 4500),
    ("CUP-GW-06", "Gaiwan porcelain cup, 150 ml", 1850),
    ("KET-CL-12", "Cast iron kettle 1.2 l", 6400),
    ("TEA-OO-100", "Tieguanyin oolong 100g", 2190),
    ("TEA-DH-050", "Da Hong Pao rock tea 50g", 3800),
)

BASE_SQL = """
select sum(total_minor - shipping_minor - tax_minor)
from orders
where tenant_id = :tenant
  and status in :statuses
  and currency = :currency
  and paid_at >= :start
  and paid_at < :end
"""


# --- the order book --------------------------------------------------------------------------


def setup(label: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant, its shop and its contract, committed: the tenant and shop ids."""
    from daiyun.billing import service as billing_service
    from daiyun.billing.schemas import ContractCreate
    from daiyun.billing.terms import Commission, ContractTerms
    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id

    tenant_id = common.new_tenant(label)
    shop_id, _ = common.new_shop(tenant_id, f"{label}.myshopify.com")
    terms = ContractTerms(
        currency="CNY",
        time_zone=TIME_ZONE,
        base_fee_minor=BASE_FEE_MINOR,
        commission=Commission(rate=RATE),
    )
    with unit_of_work(tenant_id) as session:
        billing_service.create_contract(
            session,
            ContractCreate(
                name="Bench agency contract", effective_from=date(2026, 1, 1), terms=terms
            ),
            new_id(),  # the operator who signs it has no account in this database
        )
    return tenant_id, shop_id


class OrderBook:
    """Writes paid orders of one shop in a month (October by default), two lines each, with Core
    executemany; order numbers (external ids) start at ``first``."""

    def __init__(
        self, tenant_id: uuid.UUID, shop_id: uuid.UUID, month: int = MONTH, first: int = 0
    ) -> None:
        from daiyun.billing.facts import Period
        from daiyun.platform.orders.models import Order, OrderLine

        self.orders = Order.__table__
        self.lines = OrderLine.__table__
        self.tenant_id = tenant_id
        self.shop_id = shop_id
        self.start, end = Period(YEAR, month).bounds(TIME_ZONE)
        self.span = int((end - self.start).total_seconds())
        self.count = 0
        self.first = first
        self.rng = random.Random(20261000 + month)

    def grow_to(self, total: int) -> float:
        """Add orders until the book holds ``total``; returns the seconds it took."""
        started = time.perf_counter()
        while self.count < total:
            self._write(min(BATCH, total - self.count))
        return time.perf_counter() - started

    def _write(self, count: int) -> None:
        from daiyun.core.db import unit_of_work
        from daiyun.core.ids import new_id, utcnow
        from daiyun.platform.orders.normalized import OrderStatus

        rng = self.rng
        now = utcnow()
        order_rows: list[dict[str, Any]] = []
        line_rows: list[dict[str, Any]] = []
        for n in range(self.first + self.count, self.first + self.count + count):
            order_id = new_id()
            paid = self.start + timedelta(seconds=rng.randrange(self.span))
            lines = []
            for position, (sku, title, price) in enumerate(rng.sample(SKUS, 2)):
                quantity = 1 + rng.randrange(3)
                discount = 100 * rng.randrange(3)
                lines.append(
                    {
                        "tenant_id": self.tenant_id,
                        "id": new_id(),
                        "order_id": order_id,
                        "position": position,
                        "external_id": str(13_900_000_000_000 + n * 10 + position),
                        "sku": sku,
                        "title": title,
                        "quantity": quantity,
                        "unit_price_minor": price,
                        "discount_minor": discount,
                        "tax_minor": 0,
                        "total_minor": price * quantity - discount,
                    }
                )
            subtotal = sum(line["total_minor"] for line in lines)
            tax = (subtotal * 6 // 100) if n % 4 == 0 else 0  # some orders carry tax
            buyer = f"买家{n}"
            phone = f"+86139{n % 10**8:08d}"
            external_id = str(5_510_000_000_000 + n)
            order_rows.append(
                {
                    "tenant_id": self.tenant_id,
                    "id": order_id,
                    "created_at": now,
                    "updated_at": now,
                    "shop_id": self.shop_id,
                    "channel": "shopify",
                    "external_id": external_id,
                    "status": OrderStatus.paid,
                    "source_status": OrderStatus.paid,
                    "channel_status": "paid/unfulfilled",
                    "review_state": "passed",
                    "hold_reasons": [],
                    "currency": "CNY",
                    "subtotal_minor": subtotal,
                    "discount_minor": 0,
                    "shipping_minor": SHIPPING_MINOR,
                    "tax_minor": tax,
                    "total_minor": subtotal + SHIPPING_MINOR + tax,
                    "refunded_minor": 0,
                    "item_count": sum(line["quantity"] for line in lines),
                    "buyer_name": buyer,
                    "buyer_email": f"buyer{n}@example.com",
                    "buyer_phone": phone,
                    "shipping_address": {
                        "name": buyer,
                        "phone": phone,
                        "country": "CN",
                        "province": "浙江省",
                        "city": "杭州市",
                        "district": "西湖区",
                        "address1": f"文三路 {1 + n % 400} 号",
                        "postal_code": "310012",
                    },
                    "fingerprint": None,
                    "placed_at": paid - timedelta(minutes=2),
                    "paid_at": paid,
                    "source_offset_minutes": 480,
                    "source_updated_at": paid + timedelta(minutes=1),
                    "raw": {"id": int(external_id), "financial_status": "paid"},
                }
            )
            line_rows.extend(lines)
        with unit_of_work(self.tenant_id) as session:
            # Core on the session's connection: the same transaction, tenant set for RLS.
            connection = session.connection()
            connection.execute(self.orders.insert(), order_rows)
            connection.execute(self.lines.insert(), line_rows)
        self.count += count


# --- the measurements (in a child process) ---------------------------------------------------


def sql_base(tenant_id: uuid.UUID) -> int:
    """The commission base of the month by one SQL aggregate."""
    from sqlalchemy import Uuid, bindparam, text

    from daiyun.billing.facts import Period
    from daiyun.billing.terms import CommissionBase
    from daiyun.core.db import UTCDateTime, unit_of_work

    start, end = Period(YEAR, MONTH).bounds(TIME_ZONE)
    statement = text(BASE_SQL).bindparams(
        bindparam("tenant", type_=Uuid()),
        bindparam("statuses", expanding=True),
        bindparam("start", type_=UTCDateTime()),
        bindparam("end", type_=UTCDateTime()),
    )
    statuses = sorted(status.value for status in CommissionBase().statuses)
    with unit_of_work(tenant_id) as session:
        value = session.scalar(
            statement,
            {
                "tenant": tenant_id,
                "statuses": statuses,
                "currency": "CNY",
                "start": start,
                "end": end,
            },
        )
    return int(value or 0)


def compute(period: Any, tenant_id: uuid.UUID) -> Any:
    from daiyun.billing import service as billing_service
    from daiyun.core.db import unit_of_work

    with unit_of_work(tenant_id) as session:
        return billing_service.compute(session, period)


def child(tenant_id: uuid.UUID, use_tracemalloc: bool, profile: bool) -> dict[str, Any]:
    """Measure compute and the SQL aggregate on the tenant's book, in this process."""
    from daiyun import departments

    departments.load_models()  # every mapper, for the foreign keys
    from daiyun.billing.facts import Period

    period = Period(YEAR, MONTH)
    compute(Period(YEAR, MONTH - 1), tenant_id)  # warm-up: an empty month
    sql_base(tenant_id)  # warm-up: the same pages compute reads
    gc.collect()

    cpu = time.process_time()
    with common.RssSampler(interval=0.01) as memory, common.Stopwatch() as clock:
        computed = compute(period, tenant_id)
    cpu = time.process_time() - cpu
    best = clock.seconds
    for _ in range(2):  # best of three, as the SQL below
        with common.Stopwatch() as again:
            compute(period, tenant_id)
        best = min(best, again.seconds)
    commission = [line for line in computed.lines if line.kind == "commission"]
    result: dict[str, Any] = {
        "compute_seconds": best,
        "compute_cpu_seconds": cpu,
        "baseline": memory.baseline,
        "growth": memory.growth,
        "commission": commission[0].amount_minor if len(commission) == 1 else None,
        "commission_basis": commission[0].basis_minor if len(commission) == 1 else None,
        "commission_orders": int(commission[0].quantity) if len(commission) == 1 else None,
        "total": computed.total_minor,
    }
    del computed, commission

    timings = []
    for _ in range(3):
        with common.Stopwatch() as clock:
            base = sql_base(tenant_id)
        timings.append(clock.seconds)
    result["sql_seconds"] = min(timings)
    result["sql_base"] = base
    result["sql_orders"] = count_orders(tenant_id)

    if use_tracemalloc:
        gc.collect()
        tracemalloc.start()
        with common.Stopwatch() as clock:
            compute(period, tenant_id)
        result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        result["tracemalloc_seconds"] = clock.seconds
        tracemalloc.stop()
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        compute(period, tenant_id)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(20)
        result["profile"] = out.getvalue()
    return result


def count_orders(tenant_id: uuid.UUID) -> int:
    from daiyun.platform.orders.models import Order

    return common.count_rows(tenant_id, Order)


def run_child(tenant_id: uuid.UUID, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", "--tenant", str(tenant_id)]
    if args.tracemalloc:
        command.append("--tracemalloc")
    if args.profile:
        command.append("--profile")
    done = subprocess.run(  # noqa: S603 (this very script, with fixed arguments)
        command, env=os.environ.copy(), capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return result
    raise RuntimeError(
        f"the measuring child failed (exit {done.returncode}):\n"
        f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )


# --- the report ------------------------------------------------------------------------------


def expected_commission(base: int) -> int:
    return int((RATE * base).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def report(backend: str, results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    rows = []
    for r in results:
        n = r["orders"]
        ratio = r["compute_seconds"] / r["sql_seconds"] if r["sql_seconds"] else float("inf")
        correct = (
            r["commission"] == expected_commission(r["sql_base"])
            and r["commission_basis"] == r["sql_base"]
            and r["commission_orders"] == r["sql_orders"] == n
        )
        row = [
            f"{n:,}" + (f" ({STEADY_OLDER:.0%} checked)" if r.get("steady") else ""),
            f"{2 * n:,}",
            f"{r['insert_seconds']:.1f}",
            f"{r['compute_seconds']:.2f}",
            f"{r['compute_cpu_seconds']:.2f}",
            f"{r['sql_seconds']:.3f}",
            f"{ratio:,.1f}x",
            common.verdict(ratio <= SPEED_GOAL),
            f"{r['growth'] / 2**20:,.1f}",
            f"{r['growth'] / 2**20 / n * 100_000:,.1f}",
            common.verdict(r["growth"] < MEMORY_GOAL_BYTES),
            "yes" if correct else "NO",
        ]
        if args.tracemalloc:
            row.append(f"{r['tracemalloc_peak'] / 2**20:,.1f} ({r['tracemalloc_seconds']:.1f} s)")
        rows.append(row)
    headers = [
        "orders",
        "lines",
        "insert s",
        "compute s",
        "its CPU s",
        "SQL s",
        "compute/SQL",
        "goal <= 2x",
        "peak RSS growth MB",
        "MB per 100k orders",
        "goal < 300 MB",
        "commission = 5% of SQL base",
    ]
    if args.tracemalloc:
        headers.append("tracemalloc peak MB (traced run s)")
    common.print_table(
        f"[{backend}] October 2026 statement of one tenant, 2 lines per order "
        f"({common.machine()}, load average {os.getloadavg()[1]:.1f} over the last 5 minutes)",
        headers,
        rows,
    )
    for r in results:
        print(
            f"  {r['orders']:,} orders: SQL base {r['sql_base']:,}, commission line "
            f"{r['commission']:,} (expected {expected_commission(r['sql_base']):,}), basis "
            f"{r['commission_basis']:,}, {r['commission_orders']:,} orders billed; statement "
            f"total {r['total']:,}; RSS before compute {common.mib(r['baseline'])}"
        )
    sized = [r for r in results if not r.get("steady")]
    if len(sized) > 1:
        small, large = sized[0], sized[-1]
        extra = (large["growth"] - small["growth"]) / (large["orders"] - small["orders"])
        flat = large["growth"] <= max(
            FLAT_TOLERANCE * small["growth"], small["growth"] + FLAT_SLACK_BYTES
        )
        at_full = small["growth"] + extra * (FULL_ORDERS - small["orders"])
        projection = (
            f" (so about {at_full / 2**20:,.0f} MB at {FULL_ORDERS:,} orders, extrapolated)"
            if large["orders"] < FULL_ORDERS
            else ""
        )
        print(
            f"  flatness: {large['orders'] / small['orders']:.0f}x the orders gave "
            f"{large['growth'] / max(small['growth'], 1):.1f}x the peak RSS growth; each extra "
            f"100,000 orders added {extra * 100_000 / 2**20:,.1f} MB{projection}: "
            + ("flat" if flat else "NOT flat, memory grows with the number of orders")
        )
    sys.stdout.flush()


def analyze(owner_url: str) -> None:
    """Fresh planner statistics for the order book (the application role may not analyze)."""
    from sqlalchemy import text

    from daiyun.core.db import make_engine

    engine = make_engine(owner_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(text("analyze orders, order_lines"))
    finally:
        engine.dispose()


def bill_september(tenant_id: uuid.UUID, shop_id: uuid.UUID, first: int) -> None:
    """Write one order paid in September, then generate and finalize September's statement."""
    from daiyun.billing import service as billing_service
    from daiyun.billing.facts import Period
    from daiyun.core.db import unit_of_work

    OrderBook(tenant_id, shop_id, MONTH - 1, first).grow_to(1)
    with unit_of_work(tenant_id) as session:
        draft = billing_service.generate(session, Period(YEAR, MONTH - 1))
        billing_service.finalize(session, draft.id)


def steady_state(
    backend: str, args: argparse.Namespace, total: int, owner_url: str
) -> dict[str, Any]:
    """October computed after September was finalized a few days into October.

    A second tenant's book: ``STEADY_OLDER`` of its October orders are written, then September
    is billed (one order, written now), then the rest of October. The October orders written
    before the newest billed order are the ones compute looks up in the billed facts.
    """
    tenant_id, shop_id = setup("bench-billing-steady")
    book = OrderBook(tenant_id, shop_id)
    seconds = book.grow_to(int(total * STEADY_OLDER))
    bill_september(tenant_id, shop_id, first=10 * total)
    seconds += book.grow_to(total)
    if backend == "postgresql":
        analyze(owner_url)
    print(
        f"[{backend}] steady state: wrote {total:,} orders, September billed after"
        f" {STEADY_OLDER:.0%} of them; measuring",
        flush=True,
    )
    result = run_child(tenant_id, args)
    result.update(orders=total, insert_seconds=seconds, steady=True)
    result["sql_orders"] -= 1  # the September order
    return result


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    sizes = sorted({int(size) for size in args.orders.split(",")})
    results = []
    with common.database(backend, workdir, args.postgres_url) as target:
        tenant_id, shop_id = setup("bench-billing")
        book = OrderBook(tenant_id, shop_id)
        for size in sizes:
            inserted = book.count
            seconds = book.grow_to(size)
            if backend == "postgresql":
                analyze(target.owner_url)
            print(
                f"[{backend}] wrote {size - inserted:,} orders ({2 * (size - inserted):,} lines) "
                f"in {seconds:.1f} s; measuring {size:,} orders",
                flush=True,
            )
            result = run_child(tenant_id, args)
            result.update(orders=size, insert_seconds=seconds)
            if "profile" in result:
                print(f"[{backend}] cProfile of compute, {size:,} orders:\n{result.pop('profile')}")
            results.append(result)
        results.append(steady_state(backend, args, sizes[-1], target.owner_url))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument(
        "--orders",
        default="25000,100000",
        help="comma-separated book sizes in orders, 2 lines each (default 25000,100000)",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also run compute under tracemalloc and report its peak (slow)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also run compute under cProfile and print it"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tenant", type=uuid.UUID, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    if args.child:
        result = child(args.tenant, args.tracemalloc, args.profile)
        print(RESULT_MARK + json.dumps(result), flush=True)
        return

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            report(backend, measure(backend, args, workdir), args)
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
