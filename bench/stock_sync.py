"""Stock sync: 10,000 changed SKUs pushed to the sandbox WooCommerce store.

A tenant lists N SKUs on one WooCommerce shop (every listing published with its marketplace id,
the sandbox store holding the same products) and has stock of each in one warehouse. Then:

* **change**: every SKU's stock changes, by adjustments of 500 lines each committed on its own
  (as a stocktake or a receipt would): each commit marks the listings its SKUs reach and
  schedules the shop's push (``warehouse.sync_marks``);
* **push**: ``warehouse.stock_push.push_shop`` runs as the queued task does: each listing's
  quantity computed from the sellable stock, ``products/batch`` calls of 100 with
  ``stock_quantity`` over real HTTP on loopback, each batch's outcome committed.

Prints the marketplace calls made against the fewest the batch endpoint allows (ceil(N / 100);
goal: equal) and the time from each SKU's change (its commit) to the sandbox holding its new
quantity, p50 and p95. The push runs right after the last change, as it would once the shop's
coalescing interval is over; the interval itself (5 s by default) is not waited here.

Run (from the repository root)::

    .venv/bin/python bench/stock_sync.py --database both
    .venv/bin/python bench/stock_sync.py --database sqlite --skus 1000   # a quick look
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import common

STORE = "bench-stock"
CREDENTIALS: dict[str, Any] = {
    "store_url": "https://bench-stock.example.com",
    "consumer_key": "ck_bench",
    "consumer_secret": "cs_bench",
    "webhook_secret": "bench-webhook-secret",
}
PRICE = 50_00
LINES = 500  # lines per adjustment (the API's limit)


def _adjust(tenant_id: uuid.UUID, location_id: uuid.UUID, skus: list[uuid.UUID], n: int) -> None:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.warehouse import service
    from daiyun.platform.warehouse.schemas import AdjustmentCreate, AdjustmentLine

    with unit_of_work(tenant_id) as session:
        lines = [AdjustmentLine(sku_id=s, location_id=location_id, delta=n) for s in skus]
        service.create_adjustment(session, AdjustmentCreate(reason="bench", lines=lines))


def _site(tag: str) -> uuid.UUID:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.warehouse import service
    from daiyun.platform.warehouse.schemas import LocationCreate, WarehouseCreate

    with unit_of_work() as session:
        warehouse = service.create_warehouse(session, WarehouseCreate(code=tag, name=tag))
        shelf = service.create_location(
            session, warehouse.id, LocationCreate(zone="A", aisle="01", shelf="01", bin="01")
        )
        return shelf.id


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[object]:
    from daiyun.connectors import service as shop_service
    from daiyun.connectors.schemas import ShopCreate
    from daiyun.core.db import unit_of_work
    from daiyun.platform.warehouse import stock_push
    from daiyun.sandboxes.marketplaces.catalog import catalog_of
    from daiyun.sandboxes.marketplaces.server import running_sandbox
    from daiyun.sandboxes.marketplaces.state import SandboxState
    from daiyun.sandboxes.marketplaces.stock import state_stock

    count = args.skus
    with (
        common.database(backend, workdir, args.postgres_url),
        running_sandbox(SandboxState(seed=3)) as sandbox,
    ):
        sandbox.state.register_shop("woocommerce", STORE, dict(CREDENTIALS), currency="CNY")
        tenant_id = common.new_tenant("bench-stock")
        with unit_of_work(tenant_id) as session:
            shop_id = shop_service.connect(
                session,
                ShopCreate(
                    channel="woocommerce",
                    name="Bench stock",
                    external_id=STORE,
                    credentials=CREDENTIALS,
                    api_base_url=sandbox.api_base_url("woocommerce", STORE),  # type: ignore[arg-type]
                ),
            ).id
        skus = common.bench_skus(tenant_id, count, "STOCK")
        location = _site(f"BS{uuid.uuid4().hex[:6].upper()}")
        ids = [sku_id for sku_id, _ in skus]
        # Stock before the listings exist: nothing to push yet.
        for first in range(0, count, LINES):
            _adjust(tenant_id, location, ids[first : first + LINES], 10)
        common.published_listings(tenant_id, shop_id, skus, catalog_of(sandbox.state), STORE, PRICE)
        changed: dict[str, float] = {}
        with common.Stopwatch() as change:
            for first in range(0, count, LINES):
                _adjust(tenant_id, location, ids[first : first + LINES], 5)
                at = time.time()
                changed.update((code, at) for _, code in skus[first : first + LINES])
        book = state_stock(sandbox.state).shop("woocommerce", STORE)
        with common.Stopwatch() as push:
            while stock_push.push_shop(tenant_id, shop_id).more:
                pass
        held = {code: book.quantities.get(code) for _, code in skus}
        latencies = [book.set_at[code] - changed[code] for _, code in skus if code in book.set_at]
        calls = book.calls
    if set(held.values()) != {15}:
        raise SystemExit(f"{backend}: the store holds {set(held.values())}, not 15 of each")
    minimum = math.ceil(count / 100)
    return [
        backend,
        f"{count:,}",
        f"{calls:,}",
        f"{minimum:,}",
        common.verdict(calls == minimum),
        f"{change.seconds:.2f} s",
        f"{push.seconds:.2f} s",
        f"{_percentile(latencies, 0.5):.2f} s",
        f"{_percentile(latencies, 0.95):.2f} s",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--skus", type=int, default=10_000, help="SKUs whose stock changes")
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            rows.append(measure(backend, args, workdir))
    common.print_table(
        f"Stock sync: {args.skus:,} changed SKUs pushed to the sandbox WooCommerce store over"
        f" loopback ({common.machine()})",
        [
            "database",
            "SKUs",
            "marketplace calls",
            "fewest possible",
            "goal: equal",
            "changes",
            "push",
            "change to sandbox p50",
            "p95",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
