"""Price push: new prices for 10,000 listings sent to the sandbox WooCommerce store.

A tenant lists N SKUs (100 products of up to 100 variants) on one WooCommerce shop, every listing
already published with its marketplace id (the sandbox store holds the same products). Then:

* **price change**: every listing gets a new sale price in one transaction, as a bulk edit or a
  price list would: its prior price kept, its version bumped, marked pending, one
  ``listing.changed`` event for the shop (``changes.mark_changed``);
* **push**: ``storefront.sync.push_shop`` sends what is pending through the connector, as the
  push task does: read and claim the listings, ``products/batch`` calls of 100 over real HTTP on
  loopback (the shop's rate bucket, the client's retries), each batch's outcome committed.

Prints the marketplace calls the push made against the fewest the batch endpoint allows
(ceil(N / 100); goal: equal), the push's time and listings per second, and checks that the
store holds every new price.

Run (from the repository root)::

    .venv/bin/python bench/price_push.py --database both
    .venv/bin/python bench/price_push.py --database sqlite --listings 1000   # a quick look
"""

from __future__ import annotations

import argparse
import math
import tempfile
import uuid
from pathlib import Path
from typing import Any

import common

STORE = "bench-store"
CREDENTIALS: dict[str, Any] = {
    "store_url": "https://bench-store.example.com",
    "consumer_key": "ck_bench",
    "consumer_secret": "cs_bench",
    "webhook_secret": "bench-webhook-secret",
}
LIST_PRICE = 50_00
SALE_PRICE = 39_90


def _reprice(tenant_id: uuid.UUID) -> None:
    from sqlalchemy import select

    from daiyun.core.db import unit_of_work
    from daiyun.platform.storefront.changes import mark_changed
    from daiyun.platform.storefront.models import Listing

    with unit_of_work(tenant_id) as session:
        listings = list(session.scalars(select(Listing)))
        for listing in listings:
            listing.prior_price_minor = listing.list_price_minor
            listing.sale_price_minor = SALE_PRICE
        mark_changed(session, listings)


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[object]:
    from sqlalchemy import func, select

    from daiyun.connectors import service as shop_service
    from daiyun.connectors.schemas import ShopCreate
    from daiyun.core.db import unit_of_work
    from daiyun.platform.storefront import sync
    from daiyun.platform.storefront.listing_rules import SyncStatus
    from daiyun.platform.storefront.models import Listing
    from daiyun.sandboxes.marketplaces.catalog import catalog_of
    from daiyun.sandboxes.marketplaces.server import running_sandbox
    from daiyun.sandboxes.marketplaces.state import SandboxState

    count = args.listings
    with (
        common.database(backend, workdir, args.postgres_url),
        running_sandbox(SandboxState(seed=3)) as sandbox,
    ):
        sandbox.state.register_shop("woocommerce", STORE, dict(CREDENTIALS), currency="CNY")
        tenant_id = common.new_tenant("bench-prices")
        with unit_of_work(tenant_id) as session:
            shop_id = shop_service.connect(
                session,
                ShopCreate(
                    channel="woocommerce",
                    name="Bench store",
                    external_id=STORE,
                    credentials=CREDENTIALS,
                    api_base_url=sandbox.api_base_url("woocommerce", STORE),  # type: ignore[arg-type]
                ),
            ).id
        books = catalog_of(sandbox.state)
        common.published_listings(
            tenant_id,
            shop_id,
            common.bench_skus(tenant_id, count, "BENCH"),
            books,
            STORE,
            LIST_PRICE,
        )
        with common.Stopwatch() as pricing:
            _reprice(tenant_id)
        with common.Stopwatch() as push:
            report = sync.push_shop(tenant_id, shop_id)
        with unit_of_work(tenant_id) as session:
            synced = session.scalar(
                select(func.count())
                .select_from(Listing)
                .where(Listing.sync_status == SyncStatus.synced)
            )
        store = books.shop("woocommerce", STORE)
        on_store = sum(1 for p in store.products.values() if p.price == SALE_PRICE)
    if synced != count or on_store != count or report.synced != count:
        raise SystemExit(f"{backend}: {synced} synced, {on_store} priced on the store of {count}")
    minimum = math.ceil(count / 100)
    return [
        backend,
        f"{count:,}",
        f"{store.calls:,}",
        f"{minimum:,}",
        common.verdict(store.calls == minimum),
        f"{pricing.seconds:.2f} s",
        f"{push.seconds:.2f} s",
        common.rate(count, push.seconds),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--listings", type=int, default=10_000, help="listings to reprice")
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            rows.append(measure(backend, args, workdir))
    common.print_table(
        f"Price push: new prices for {args.listings:,} WooCommerce listings to the sandbox store"
        f" over loopback ({common.machine()})",
        [
            "database",
            "listings",
            "marketplace calls",
            "fewest possible",
            "goal: equal",
            "price change",
            "push",
            "listings/s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
