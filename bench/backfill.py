"""Backfill from the sandbox Shopify: orders per second, and memory that stays flat.

For each size (by default 10% and 100% of ``--orders``) a fresh child process starts the sandbox
marketplaces (``running_sandbox()``, in a thread of that process), registers a Shopify shop whose
leaky bucket leaks ``--leak`` calls per second (the real default is 2/s: raised so the
marketplace's rate limit is not what is measured), generates the orders over the last 20 days
without webhooks, connects the shop in Daiyun with ``api_base_url`` pointing at the sandbox, and
runs ``sync.plan(..., "backfill", since=...)`` and ``sync.execute(...)`` in that process: one-day
windows, pages of 250 orders, each page normalized, ingested and committed in its own unit of
work.

Memory is sampled from ``/proc/self/statm`` in a thread while ``execute`` runs; the figure is peak
RSS minus RSS just before it started (the sandbox's own orders are already in memory then). Each
size runs in its own process so one run's heap cannot hide the other's growth. The goal: growth
flat in the number of orders (large/small close to 1) and under 300 MB.

The sandbox shares the process (and its GIL) with the sync, so orders per second include the
marketplace serving the pages; the client's own pacing (its default 10 requests/s per shop) and
any 429s are reported.

Run (from the repository root)::

    .venv/bin/python bench/backfill.py --database both
    .venv/bin/python bench/backfill.py --database both --orders 100000   # the full-size backfill
    .venv/bin/python bench/backfill.py --database sqlite --orders 2000   # a quick look

The default (20,000 orders, plus a 2,000-order run for the flatness ratio) takes a few minutes on
a 2-core machine, most of it on PostgreSQL; 100,000 orders take about five times as long.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import httpx

RESULT_MARK = "BACKFILL-RESULT "
SHOP_DOMAIN = "bench-backfill.myshopify.com"
DAYS = 20
IMPORT_WAIT_SECONDS = 40 * 60
MEMORY_GOAL_BYTES = 300 * 2**20


def import_sandbox() -> Any:
    """The sandbox server module; if it is not importable yet, wait for it (up to 40 minutes)."""
    deadline = time.monotonic() + IMPORT_WAIT_SECONDS
    while True:
        try:
            from daiyun.sandboxes.marketplaces import server

            return server
        except ImportError as exc:
            if time.monotonic() > deadline:
                raise
            print(f"waiting for the sandbox server module: {exc}", file=sys.stderr, flush=True)
            time.sleep(30)


class ClientLedger:
    """Requests sent and seconds spent waiting by the connector's HTTP clients."""

    calls = 0
    waited = 0.0

    @classmethod
    def install(cls) -> None:
        from daiyun.connectors.http import ShopHttp

        close = ShopHttp.close

        def close_and_count(self: ShopHttp) -> None:
            cls.calls += self.calls
            cls.waited += self.waited
            close(self)

        ShopHttp.close = close_and_count  # type: ignore[method-assign]


def child(orders: int, leak: float) -> dict[str, Any]:
    """One backfill of ``orders`` orders, in this process; returns its figures."""
    from daiyun.connectors import service as shop_service
    from daiyun.connectors import sync
    from daiyun.connectors.repository import run as sync_run
    from daiyun.core.db import unit_of_work
    from daiyun.platform.orders.models import Order

    server = import_sandbox()
    ClientLedger.install()
    credentials = {
        "shop_domain": SHOP_DOMAIN,
        "access_token": f"shpat_{uuid.uuid4().hex}",
        "api_secret": uuid.uuid4().hex,
    }
    now = datetime.now(UTC)
    with server.running_sandbox() as sandbox, httpx.Client(base_url=sandbox.url) as control:
        answer = control.post(
            "/_sandbox/shops",
            json={
                "channel": "shopify",
                "shop": SHOP_DOMAIN,
                "credentials": {
                    "access_token": credentials["access_token"],
                    "api_secret": credentials["api_secret"],
                },
                "rate": {"leak_per_second": leak, "burst": 40},
            },
        )
        answer.raise_for_status()
        generated = time.perf_counter()
        answer = control.post(
            f"/_sandbox/shopify/{SHOP_DOMAIN}/orders",
            json={
                "count": orders,
                # Clear of the connector's one-minute safety lag behind "now".
                "start": (now - timedelta(days=DAYS)).isoformat(),
                "end": (now - timedelta(minutes=5)).isoformat(),
                "notify": False,
                "seed": 20,
            },
            timeout=600.0,
        )
        answer.raise_for_status()
        generated = time.perf_counter() - generated

        tenant_id = common.new_tenant("bench-backfill")
        shop_id, _ = common.new_shop(
            tenant_id,
            SHOP_DOMAIN,
            credentials=credentials,
            api_base_url=f"{sandbox.url}/shopify/{SHOP_DOMAIN}",
        )
        with unit_of_work(tenant_id) as session:
            shop = shop_service.get(session, shop_id, lock=True)
            run = sync.plan(session, shop, "backfill", since=now - timedelta(days=DAYS, hours=1))
            run_id = run.id

        gc.collect()
        with common.RssSampler() as memory, common.Stopwatch() as clock:
            status = sync.execute(tenant_id, run_id)
        stats = sandbox.state.stats()

    with unit_of_work(tenant_id) as session:
        done = sync_run(session, run_id)
        assert done is not None
        figures = {
            "pages": done.pages,
            "created": done.orders_created,
            "updated": done.orders_updated,
            "unchanged": done.orders_unchanged,
            "error": done.error,
        }
    return {
        "orders": orders,
        "status": status,
        "stored": common.count_rows(tenant_id, Order),
        "seconds": clock.seconds,
        "generate_seconds": generated,
        "baseline": memory.baseline,
        "peak": memory.peak,
        "growth": memory.growth,
        "requests": ClientLedger.calls,
        "client_waited": ClientLedger.waited,
        "throttled": stats["throttled"],
        **figures,
    }


def run_child(orders: int, leak: float) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--orders",
        str(orders),
        "--leak",
        str(leak),
    ]
    done = subprocess.run(  # noqa: S603 (this very script, with fixed arguments)
        command, env=os.environ.copy(), capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return result
    raise RuntimeError(
        f"the backfill of {orders} orders failed (exit {done.returncode}):\n"
        f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument(
        "--orders", type=int, default=20_000, help="orders of the large run (default 20,000)"
    )
    parser.add_argument(
        "--small",
        type=float,
        default=0.1,
        help="size of the small run as a fraction of --orders (default 0.1)",
    )
    parser.add_argument(
        "--leak",
        type=float,
        default=1000.0,
        help="the sandbox shop's leak rate, calls/s (Shopify's standard is 2)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    if args.child:
        result = child(args.orders, args.leak)
        print(RESULT_MARK + json.dumps(result), flush=True)
        return

    sizes = [max(1, round(args.orders * args.small)), args.orders]
    results: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            with common.database(backend, workdir, args.postgres_url):
                for size in sizes:
                    result = run_child(size, args.leak)
                    print(
                        f"[{backend}] {size:,} orders: {result['status']}, "
                        f"{result['stored']:,} stored in {result['seconds']:.1f} s "
                        f"(sandbox generated them in {result['generate_seconds']:.1f} s)",
                        flush=True,
                    )
                    results.append((backend, result))

    print(
        f"\nThe sandbox shop leaks {args.leak:,.0f} calls/s (Shopify's standard plan: 2/s), so "
        "the marketplace's rate limit is not the bottleneck."
    )
    common.print_table(
        f"Backfill from the sandbox Shopify over {DAYS} days: one-day windows, pages of 250, "
        f"one transaction per page ({common.machine()})",
        [
            "database",
            "orders",
            "stored",
            "seconds",
            "orders/s",
            "requests",
            "client waits s",
            "429s",
            "RSS before",
            "peak RSS growth",
        ],
        [
            [
                backend,
                f"{r['orders']:,}",
                f"{r['stored']:,}",
                f"{r['seconds']:.1f}",
                common.rate(r["orders"], r["seconds"]),
                r["requests"],
                f"{r['client_waited']:.1f}",
                r["throttled"],
                common.mib(r["baseline"]),
                common.mib(r["growth"]),
            ]
            for backend, r in results
        ],
    )
    rows = []
    for backend in dict.fromkeys(b for b, _ in results):
        small, large = (r for b, r in results if b == backend)
        flat = large["growth"] / small["growth"] if small["growth"] > 0 else float("inf")
        rows.append(
            [
                backend,
                f"{small['orders']:,} / {large['orders']:,}",
                f"{large['orders'] / small['orders']:.0f}x",
                f"{common.mib(small['growth'])} / {common.mib(large['growth'])}",
                f"{flat:.2f}",
                common.verdict(large["growth"] < MEMORY_GOAL_BYTES),
            ]
        )
    common.print_table(
        "Memory flatness: peak RSS growth during execute, small run against large run",
        ["database", "orders", "size ratio", "growth", "growth ratio", "goal < 300 MB"],
        rows,
    )


if __name__ == "__main__":
    main()
