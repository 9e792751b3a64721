"""Waves: plan waves over 20,000 ready parcels and produce their pick lists, against a raw query.

One merchant, one warehouse with 2,000 bins (zones A to E), and ``--parcels`` ready parcels of
one to three lines each (SKU, quantity and bin drawn with a fixed seed). The parcels are written
straight into the table (the path from an order to a parcel is the reservation benchmark's), each
for an order of its own. Then, on the same data:

* **service**: ``waves.create`` with ``max_orders=--wave`` until no ready parcel is left, and
  ``waves.detail`` of each wave (its pick list in walk order), each wave in its own unit of work,
  as the API runs them;
* **raw**: one query selecting every ready parcel's lines of the warehouse, ordered by bin and
  SKU (``json_each`` on SQLite, ``json_array_elements`` on PostgreSQL): the least a pick list
  of the same lines can cost.

It prints, per database: both timings, their ratio (goal: within 3x), the lines each produced
(they must agree), and the peak memory of the service's run (tracemalloc's peak of Python
allocations, and the process's peak RSS growth; goal: under 300 MB).

Run (from the repository root)::

    .venv/bin/python bench/fulfillment_waves.py --database both
    .venv/bin/python bench/fulfillment_waves.py --database sqlite --parcels 2000
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SEED = 17
SKUS = 500
GOAL_RATIO = 3.0
MEMORY_GOAL_BYTES = 300 * 2**20


def _bins() -> list[str]:
    return [
        f"{z}-{a:02d}-{s:02d}-{b:02d}"
        for z in "ABCDE"
        for a in range(1, 21)
        for s in range(1, 5)
        for b in range(1, 6)
    ]


def _orders(tenant_id: uuid.UUID, shop_id: uuid.UUID, n: int) -> list[uuid.UUID]:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.orders import service as order_service
    from daiyun.platform.orders.normalized import NormalizedLine, NormalizedOrder, OrderStatus
    from daiyun.platform.orders.rules import ReviewSettings

    at = datetime(2026, 11, 11, tzinfo=UTC)
    with unit_of_work(tenant_id) as session:
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
    ids: list[uuid.UUID] = []
    for start in range(0, n, 1000):
        batch = [
            NormalizedOrder(
                external_id=f"w{i}",
                status=OrderStatus.paid,
                channel_status="paid",
                currency="CNY",
                total_minor=1000,
                subtotal_minor=1000,
                placed_at=at,
                paid_at=at,
                source_updated_at=at,
                lines=[NormalizedLine(f"w{i}-1", "BENCH", "Bench", 1, 1000)],
                raw={"id": f"w{i}"},
            )
            for i in range(start, min(n, start + 1000))
        ]
        with unit_of_work(tenant_id) as session:
            ids.extend(o.id for _, o in order_service.ingest(session, shop_id, "shopify", batch))
    return ids


def _parcels(
    tenant_id: uuid.UUID, shop_id: uuid.UUID, warehouse_id: uuid.UUID, orders: list[uuid.UUID]
) -> int:
    """Ready parcels written in bulk; returns the number of lines."""
    from sqlalchemy import insert

    from daiyun.core.db import unit_of_work
    from daiyun.platform.fulfillment.models import FoState, FulfillmentOrder

    rng = random.Random(SEED)
    bins = _bins()
    due = datetime(2026, 11, 12, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    lines = 0
    for n, order_id in enumerate(orders):
        fo_id = uuid.uuid4()
        parcel = [
            {
                "order_id": order_id.hex,
                "sku_id": uuid.UUID(int=1 + rng.randrange(SKUS)).hex,
                "sku": f"B-{rng.randrange(SKUS):04d}",
                "quantity": rng.randint(1, 3),
                "stock_id": uuid.uuid4().hex,
                "location_id": None,
                "location": rng.choice(bins),
            }
            for _ in range(rng.choice((1, 1, 2, 3)))
        ]
        lines += len(parcel)
        rows.append(
            {
                "tenant_id": tenant_id,
                "id": fo_id,
                "number": f"FO-{fo_id.hex[:10].upper()}",
                "order_id": order_id,
                "order_ids": [order_id.hex],
                "shop_id": shop_id,
                "warehouse_id": warehouse_id,
                "state": FoState.ready,
                "held_state": None,
                "merge_key": f"{n:064d}",
                "merged_into_id": None,
                "lines": parcel,
                "wave_id": None,
                "ship_by": due + timedelta(minutes=rng.randrange(2880)),
                "scanned": {},
                "scan_errors": 0,
            }
        )
    with unit_of_work(tenant_id) as session:
        for start in range(0, len(rows), 2000):
            session.execute(insert(FulfillmentOrder), rows[start : start + 2000])
    return lines


def _raw(backend: str, tenant_id: uuid.UUID, warehouse_id: uuid.UUID) -> tuple[float, int]:
    from sqlalchemy import Uuid, bindparam, text

    from daiyun.core.db import unit_of_work

    if backend == "sqlite":
        query = (
            "select f.number, json_extract(l.value, '$.location') as location,"
            " json_extract(l.value, '$.sku') as sku, json_extract(l.value, '$.quantity') as q"
            " from fulfillment_orders f, json_each(f.lines) l"
            " where f.tenant_id = :t and f.warehouse_id = :w and f.state = 'ready'"
            " order by location, sku, f.number"
        )
    else:
        query = (
            "select f.number, l->>'location' as location, l->>'sku' as sku,"
            " (l->>'quantity')::int as q"
            " from fulfillment_orders f cross join lateral json_array_elements(f.lines) l"
            " where f.tenant_id = :t and f.warehouse_id = :w and f.state = 'ready'"
            " order by location, sku, f.number"
        )
    stmt = text(query).bindparams(bindparam("t", type_=Uuid()), bindparam("w", type_=Uuid()))
    started = time.perf_counter()
    with unit_of_work(tenant_id) as session:
        rows = session.execute(stmt, {"t": tenant_id, "w": warehouse_id}).all()
    return time.perf_counter() - started, len(rows)


def _service(tenant_id: uuid.UUID, warehouse_id: uuid.UUID, size: int) -> tuple[float, int, int]:
    """Seconds, waves planned and pick lines over every wave."""
    from daiyun.core.db import unit_of_work
    from daiyun.core.errors import Problem
    from daiyun.platform.fulfillment import waves
    from daiyun.platform.fulfillment.schemas import WaveRuleIn

    merchant = [waves.Merchant(tenant_id, "Bench")]
    rule = WaveRuleIn(max_orders=size)
    planned = lines = 0
    started = time.perf_counter()
    while True:
        try:
            with unit_of_work(tenant_id) as session:
                wave = waves.create(session, warehouse_id, rule, merchant, "bench")
        except Problem:
            break
        with unit_of_work(tenant_id) as session:
            lines += len(waves.detail(session, wave.id, merchant).pick_list)
        planned += 1
    return time.perf_counter() - started, planned, lines


def _unplan(tenant_id: uuid.UUID) -> None:
    """Every parcel ready and out of its wave again, the waves and their moves gone."""
    from sqlalchemy import delete, update

    from daiyun.core.db import unit_of_work
    from daiyun.platform.fulfillment.models import FoState, FulfillmentEvent, FulfillmentOrder

    with unit_of_work(tenant_id) as session:
        session.execute(
            update(FulfillmentOrder)
            .values(state=FoState.ready, wave_id=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(delete(FulfillmentEvent).execution_options(synchronize_session=False))


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[object]:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.warehouse import service
    from daiyun.platform.warehouse.schemas import WarehouseCreate

    with common.database(backend, workdir, args.postgres_url):
        with unit_of_work() as session:
            warehouse = service.create_warehouse(session, WarehouseCreate(code="WAVES", name="W"))
            warehouse_id = warehouse.id
        tenant = common.new_tenant("bench-waves")
        shop, _ = common.new_shop(tenant, "bench-waves.myshopify.com")
        orders = _orders(tenant, shop, args.parcels)
        written = _parcels(tenant, shop, warehouse_id, orders)
        raw_seconds, raw_lines = _raw(backend, tenant, warehouse_id)
        # Timed without tracemalloc (it slows Python code several times over, and the raw
        # query is not traced); then the parcels are made ready again and the same run is
        # repeated under tracemalloc for the memory figures.
        seconds, planned, lines = _service(tenant, warehouse_id, args.wave)
        _unplan(tenant)
        rss_before = common.rss_bytes()
        tracemalloc.start()
        _service(tenant, warehouse_id, args.wave)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_growth = max(0, common.rss_bytes() - rss_before)
    ratio = seconds / raw_seconds if raw_seconds else float("inf")
    met = ratio <= GOAL_RATIO and peak < MEMORY_GOAL_BYTES
    return [
        backend,
        args.parcels,
        written,
        f"{raw_seconds:.2f} s ({raw_lines})",
        f"{seconds:.2f} s ({planned} waves, {lines})",
        f"{ratio:.1f}x",
        common.mib(peak),
        common.mib(rss_growth),
        common.verdict(met),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=20_000)
    parser.add_argument("--wave", type=int, default=200, help="parcels per wave")
    common.add_database_arguments(parser)
    args = parser.parse_args()
    common.exit_on_sigterm()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            rows.append(measure(backend, args, workdir))
    common.print_table(
        f"Waves over ready parcels ({common.machine()})",
        [
            "database",
            "parcels",
            "lines",
            "raw query (lines)",
            "waves + pick lists (lines)",
            "ratio (goal <= 3x)",
            "peak Python memory",
            "RSS growth",
            "goal",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
