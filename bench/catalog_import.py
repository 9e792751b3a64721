"""Catalog CSV import: the import job against a raw Core ``executemany`` of the same rows.

Writes a CSV of N SKUs (products with 2 or 3 variants: a brand, colour/size attributes as JSON, a
weight, a cost) to a temporary file, then loads it twice, into two fresh tenants:

* **raw**: the file read with ``csv.reader`` a row at a time, the product and SKU rows built and
  written with one Core ``insert().executemany`` per table per 2,000 rows, each batch in its own
  ``unit_of_work(tenant_id)`` (row security needs the tenant set). No checks, no events, no job.
* **import**: what ``POST /catalog/imports`` and the worker do: the file stored with its job
  (``imports.start``) and the job run (``runner.run``): every row checked in a first pass (the
  API's bounds, codes once in the file, the tenant's existing codes a batch at a time, the
  margin floor for prices), then written in a second pass, batches of whole products with one
  executemany per table and the outbox events, each batch committed with the job's progress.

Prints SKU rows per second for both and the ratio (goal: the import at least 25 % of raw), and
each side's peak RSS growth, sampled in a thread (goal: flat and under 300 MB: the file is
streamed, never held whole). The raw side runs first; both write into the same tables.

Run (from the repository root)::

    .venv/bin/python bench/catalog_import.py --database both
    .venv/bin/python bench/catalog_import.py --database sqlite --skus 10000   # a quick look
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import uuid
from pathlib import Path
from typing import Any

import common

BATCH = 2000
COLOURS = ("red", "green", "blue", "black", "white", "jade")
SIZES = ("50 g", "100 g", "250 g", "500 g")
HEADER = ("product", "brand", "code", "attributes", "weight_grams", "cost_minor", "currency")
MEMORY_GOAL = 300 * 2**20


def write_csv(path: Path, skus: int, seed: int = 15) -> int:
    """The file: products of 2 or 3 variants until ``skus`` rows; returns the products."""
    rng = random.Random(seed)
    written = products = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        while written < skus:
            products += 1
            variants = min(rng.choice((2, 3)), skus - written)
            for v in range(variants):
                attributes = {"colour": rng.choice(COLOURS), "size": SIZES[v % len(SIZES)]}
                writer.writerow(
                    (
                        f"Bench product {products:06d}",
                        f"Brand {products % 97}",
                        f"B-{products:06d}-{v}",
                        json.dumps(attributes),
                        rng.randint(20, 2000),
                        rng.randint(100, 50_000),
                        "CNY",
                    )
                )
                written += 1
    return products


def raw_load(tenant_id: uuid.UUID, path: Path) -> int:
    """The same rows with one executemany per table per batch; returns the SKUs written."""
    from sqlalchemy import insert

    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id, utcnow
    from daiyun.platform.storefront.jobs import table
    from daiyun.platform.storefront.models import Product, Sku

    written = 0

    def flush(products: list[dict[str, Any]], skus: list[dict[str, Any]]) -> None:
        with unit_of_work(tenant_id) as session:
            if products:
                session.execute(insert(table(Product)), products)
            session.execute(insert(table(Sku)), skus)

    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        next(reader)
        products: list[dict[str, Any]] = []
        skus: list[dict[str, Any]] = []
        last_name, product_id = None, None
        for name, brand, code, attributes, weight, cost, currency in reader:
            now = utcnow()
            if name != last_name:
                if len(skus) >= BATCH:
                    flush(products, skus)
                    written += len(skus)
                    products, skus = [], []
                last_name, product_id = name, new_id()
                products.append(
                    {
                        "tenant_id": tenant_id,
                        "id": product_id,
                        "name": name,
                        "description": None,
                        "category_id": None,
                        "brand": brand,
                        "status": "draft",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            skus.append(
                {
                    "tenant_id": tenant_id,
                    "id": new_id(),
                    "product_id": product_id,
                    "code": code,
                    "barcode": None,
                    "attributes": json.loads(attributes),
                    "weight_grams": int(weight),
                    "length_mm": None,
                    "width_mm": None,
                    "height_mm": None,
                    "is_bundle": False,
                    "cost_minor": int(cost),
                    "currency": currency,
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if skus:
            flush(products, skus)
            written += len(skus)
    return written


def import_load(tenant_id: uuid.UUID, path: Path) -> dict[str, Any]:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.storefront import imports, jobs, runner
    from daiyun.platform.storefront.schemas import JobKind

    with unit_of_work(tenant_id) as session, path.open("rb") as upload:
        job_id = imports.start(session, upload, path.name, valid_rows_only=False, user_id=None).id
    runner.run(tenant_id, job_id)
    with unit_of_work(tenant_id) as session:
        job = jobs.get(session, job_id, JobKind.import_)
        return {
            "state": job.state.value,
            "created": job.created_count,
            "problems": job.problem_count,
        }


def measure(backend: str, workdir: Path, postgres_url: str, path: Path, skus: int) -> dict:
    from daiyun.platform.storefront.models import Sku

    with common.database(backend, workdir, postgres_url):
        raw_tenant = common.new_tenant("raw")
        import_tenant = common.new_tenant("import")
        with common.RssSampler() as raw_memory, common.Stopwatch() as raw_clock:
            raw_written = raw_load(raw_tenant, path)
        with common.RssSampler() as import_memory, common.Stopwatch() as import_clock:
            outcome = import_load(import_tenant, path)
        assert raw_written == skus, raw_written
        assert outcome == {"state": "succeeded", "created": skus, "problems": 0}, outcome
        assert common.count_rows(import_tenant, Sku) == skus
    return {
        "backend": backend,
        "raw_seconds": raw_clock.seconds,
        "import_seconds": import_clock.seconds,
        "raw_growth": raw_memory.growth,
        "import_growth": import_memory.growth,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_database_arguments(parser)
    parser.add_argument("--skus", type=int, default=100_000, help="SKU rows in the file")
    args = parser.parse_args()
    common.exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        path = workdir / "catalog.csv"
        products = write_csv(path, args.skus)
        print(
            f"{common.machine()}; {args.skus:,} SKUs of {products:,} products, "
            f"{common.mib(path.stat().st_size)} of CSV",
            flush=True,
        )
        results = [
            measure(backend, workdir, args.postgres_url, path, args.skus)
            for backend in common.backends(args.database)
        ]
    rows = []
    for r in results:
        share = (args.skus / r["import_seconds"]) / (args.skus / r["raw_seconds"])
        flat = r["import_growth"] < MEMORY_GOAL
        rows.append(
            (
                r["backend"],
                common.rate(args.skus, r["raw_seconds"]),
                common.rate(args.skus, r["import_seconds"]),
                f"{share:.0%}",
                common.mib(r["raw_growth"]),
                common.mib(r["import_growth"]),
                common.verdict(share >= 0.25 and flat),
            )
        )
    common.print_table(
        "Catalog import: SKU rows per second against a raw executemany of the same rows",
        (
            "database",
            "raw SKUs/s",
            "import SKUs/s",
            "import / raw",
            "raw peak RSS growth",
            "import peak RSS growth",
            "goal (25 %, < 300 MB)",
        ),
        rows,
    )


if __name__ == "__main__":
    main()
