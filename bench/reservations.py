"""Reservations: ``warehouse.reservations.sync_order`` against a raw conditional UPDATE.

One merchant, one warehouse with one bin, 1,000 SKUs with 15 units each (15,000 units), and
10,000 paid orders of one line each (1 to 3 units of a SKU drawn with a fixed seed: about 20,000
units wanted, so about a quarter of the orders cannot be served and the SKUs run dry under
contention). The same orders are reserved twice, side by side in one run, by 8 worker threads,
each with its own connection, taking orders from one shared queue:

* **service**: ``reservations.sync_order(session, order_id)`` in ``unit_of_work(tenant_id)``, one
  transaction per order: it reads the order as it is, takes the write lock (SQLite) or locks the
  SKU's stock rows (PostgreSQL), allocates first-expiry-first, posts the ledger rows and the
  reservation, or records an out-of-stock exception;
* **raw**: per order, in ``unit_of_work(tenant_id)`` on a second merchant with identical stock,
  ``update stock set reserved = reserved + :q where tenant_id = :t and sku_id = :s and
  on_hand - reserved >= :q``: the least a reservation can do (no order read, no ledger, no
  exception row).

It prints, per database: orders and reservations per second of each, the service's rate as a
share of the raw one (goal: at least 50 %), units oversold (reserved beyond on hand, goal: 0),
orders reserved (the two must agree: both serve whatever the race leaves), and whether every
stock row still equals the sum of its ledger.

Run (from the repository root)::

    .venv/bin/python bench/reservations.py --database both
    .venv/bin/python bench/reservations.py --database sqlite --orders 2000
"""

from __future__ import annotations

import argparse
import queue
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SKUS = 1_000
UNITS = 15
WORKERS = 8
SEED = 16
GOAL = 0.5


def _catalog(tenant_id: uuid.UUID, site: tuple[uuid.UUID, uuid.UUID]) -> dict[str, uuid.UUID]:
    """1,000 SKUs (ten products of 100) with ``UNITS`` each in the warehouse's bin."""
    from daiyun.core.db import unit_of_work
    from daiyun.platform.orders import service as order_service
    from daiyun.platform.orders.rules import ReviewSettings
    from daiyun.platform.storefront import service as catalog
    from daiyun.platform.storefront.schemas import ProductCreate, SkuCreate
    from daiyun.platform.warehouse import service
    from daiyun.platform.warehouse.schemas import ReceiptCreate, ReceivedLine

    codes: dict[str, uuid.UUID] = {}
    with unit_of_work(tenant_id) as session:
        # Bench orders carry no buyer or address: review would hold them all.
        order_service.update_review_settings(
            session,
            ReviewSettings(
                check_address=False,
                check_phone=False,
                check_required=False,
                check_duplicates=False,
                check_outliers=False,
            ),
        )
        for p in range(SKUS // 100):
            variants = [
                SkuCreate(code=f"B-{p * 100 + v:04d}", cost_minor=100, currency="CNY")
                for v in range(100)
            ]
            product = catalog.create_product(
                session, ProductCreate(name=f"Bench {p}", variants=variants)
            )
            codes.update({v.code: v.id for v in product.variants})
        lines = [
            ReceivedLine(sku_id=sku, quantity=UNITS, location_id=site[1]) for sku in codes.values()
        ]
        for start in range(0, len(lines), 500):
            body = ReceiptCreate(warehouse_id=site[0], received=lines[start : start + 500])
            service.create_receipt(session, body)
    return codes


def _orders(n: int) -> list[tuple[str, str, int]]:
    """(external id, SKU code, quantity) of each order, the same for both runs."""
    rng = random.Random(SEED)
    return [(f"b{i}", f"B-{rng.randrange(SKUS):04d}", rng.randint(1, 3)) for i in range(n)]


def _ingest(
    tenant_id: uuid.UUID, shop_id: uuid.UUID, orders: list[tuple[str, str, int]]
) -> list[uuid.UUID]:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.orders import service as order_service
    from daiyun.platform.orders.normalized import NormalizedLine, NormalizedOrder, OrderStatus

    at = datetime(2026, 11, 11, tzinfo=UTC)
    ids: list[uuid.UUID] = []
    for start in range(0, len(orders), 1000):
        batch = [
            NormalizedOrder(
                external_id=external_id,
                status=OrderStatus.paid,
                channel_status="paid",
                currency="CNY",
                total_minor=1000 * q,
                subtotal_minor=1000 * q,
                placed_at=at,
                paid_at=at + timedelta(minutes=1),
                source_updated_at=at + timedelta(minutes=1),
                lines=[NormalizedLine(f"{external_id}-1", code, "Bench", q, 1000)],
                raw={"id": external_id},
            )
            for external_id, code, q in orders[start : start + 1000]
        ]
        with unit_of_work(tenant_id) as session:
            ids.extend(o.id for _, o in order_service.ingest(session, shop_id, "shopify", batch))
    return ids


def _race(items: list[Any], work: Callable[[Any], bool]) -> tuple[float, int]:
    """Run ``work`` over ``items`` from ``WORKERS`` threads; seconds and how many it served."""
    todo: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for item in items:
        todo.put(item)
    served = [0] * WORKERS
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        while True:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                served[n] += bool(work(item))
            except BaseException as exc:  # reported after the run
                failures.append(exc)
                return

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    return seconds, sum(served)


def _oversold(tenant_id: uuid.UUID) -> tuple[int, int]:
    """Units reserved beyond on hand, and units reserved, over the tenant's stock rows."""
    from sqlalchemy import Uuid, bindparam, text

    from daiyun.core.db import unit_of_work

    with unit_of_work(tenant_id) as session:
        row = session.execute(
            text(
                "select coalesce(sum(case when reserved > on_hand then reserved - on_hand"
                " else 0 end), 0), coalesce(sum(reserved), 0) from stock where tenant_id = :t"
            ).bindparams(bindparam("t", type_=Uuid())),
            {"t": tenant_id},
        ).one()
    return int(row[0]), int(row[1])


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from sqlalchemy import Uuid, bindparam, text

    from daiyun.core.db import unit_of_work
    from daiyun.platform.warehouse import reservations, service
    from daiyun.platform.warehouse.schemas import LocationCreate, WarehouseCreate

    with common.database(backend, workdir, args.postgres_url):
        with unit_of_work() as session:
            warehouse = service.create_warehouse(session, WarehouseCreate(code="BENCH", name="B"))
            bin_ = service.create_location(
                session, warehouse.id, LocationCreate(zone="A", aisle="1", shelf="1", bin="1")
            )
            site = (warehouse.id, bin_.id)
        orders = _orders(args.orders)
        ours = common.new_tenant("bench-stock")
        raw = common.new_tenant("bench-raw")
        ours_shop, _ = common.new_shop(ours, "bench-stock.myshopify.com")
        _catalog(ours, site)
        raw_codes = _catalog(raw, site)
        started = time.perf_counter()
        order_ids = _ingest(ours, ours_shop, orders)
        print(
            f"[{backend}] {len(order_ids):,} orders written in "
            f"{time.perf_counter() - started:.1f} s; reserving",
            flush=True,
        )

        def serve(order_id: uuid.UUID) -> bool:
            with unit_of_work(ours) as session:
                status = reservations.sync_order(session, order_id)
            return status is not None and status.value == "reserved"

        update = text(
            "update stock set reserved = reserved + :q"
            " where tenant_id = :t and sku_id = :s and on_hand - reserved >= :q"
        ).bindparams(bindparam("t", type_=Uuid()), bindparam("s", type_=Uuid()))

        def serve_raw(order: tuple[str, str, int]) -> bool:
            _, code, q = order
            with unit_of_work(raw) as session:
                done = session.execute(update, {"q": q, "t": raw, "s": raw_codes[code]})
                return bool(done.rowcount)  # type: ignore[attr-defined]

        seconds, reserved = _race(order_ids, serve)
        raw_seconds, raw_reserved = _race(orders, serve_raw)
        with unit_of_work(ours) as session:
            balanced = service.ledger_mismatches(session) == []
        return {
            "orders": len(orders),
            "seconds": seconds,
            "reserved": reserved,
            "oversold": _oversold(ours),
            "raw_seconds": raw_seconds,
            "raw_reserved": raw_reserved,
            "raw_oversold": _oversold(raw),
            "balanced": balanced,
        }


def report(backend: str, r: dict[str, Any]) -> None:
    ours_rate = r["orders"] / r["seconds"]
    raw_rate = r["orders"] / r["raw_seconds"]
    common.print_table(
        f"Reservations on {backend}: {r['orders']:,} orders over {SKUS:,} SKUs, {WORKERS} "
        f"workers ({common.machine()})",
        ["path", "seconds", "orders/s", "reserved", "units reserved", "oversold units"],
        [
            [
                "sync_order (service)",
                f"{r['seconds']:.1f}",
                f"{ours_rate:,.0f}",
                f"{r['reserved']:,}",
                f"{r['oversold'][1]:,}",
                r["oversold"][0],
            ],
            [
                "raw conditional UPDATE",
                f"{r['raw_seconds']:.1f}",
                f"{raw_rate:,.0f}",
                f"{r['raw_reserved']:,}",
                f"{r['raw_oversold'][1]:,}",
                r["raw_oversold"][0],
            ],
        ],
    )
    share = ours_rate / raw_rate
    print(
        f"service / raw: {share:.0%} (goal >= {GOAL:.0%}: {common.verdict(share >= GOAL)}); "
        f"oversold: {r['oversold'][0]} (goal 0: {common.verdict(r['oversold'][0] == 0)}); "
        f"ledger equals stock: {r['balanced']}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--orders", type=int, default=10_000, help="orders (default 10000)")
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            report(backend, measure(backend, args, workdir))
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
