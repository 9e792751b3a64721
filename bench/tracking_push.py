"""Tracking push: 10,000 shipments told to the sandbox marketplaces (发货回传).

A tenant has one shop on each of the seven sandbox marketplaces, each with paid orders waiting
to ship. Every order gets a tracking number (the carriers' formats, in turn SF, ZTO, YTO, JD)
and ``daiyun.connectors.shipments.push_shipment`` sends it as the push task would, one shipment
per call of it, over real HTTP on loopback (the shop's rate bucket, the client's retries). Then
every shipment is pushed a second time, as after a lost answer or a redelivered task: the
marketplace must answer each as a duplicate (Amazon says nothing of duplicates and takes the
same package again) and ship nothing twice.

Prints, per marketplace, the HTTP calls the first push made against the fewest its API allows
for one shipment (Shopify: read the fulfillment orders, create the fulfillment; WooCommerce:
complete the order, add the buyer's note; Amazon: the confirmation; the four gateways: their one
method), the calls of the second push, and checks that every order holds exactly its one
tracking number.

Run (from the repository root)::

    .venv/bin/python bench/tracking_push.py --database both
    .venv/bin/python bench/tracking_push.py --database sqlite --shipments 700   # a quick look
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import common

CARRIERS = ("sf", "zto", "yto", "jd")
PREFIX = {"sf": "SF", "zto": "7", "yto": "YT", "jd": "JDV"}
DIGITS = {"sf": 13, "zto": 11, "yto": 13, "jd": 12}
# The fewest calls one shipment takes on each marketplace's API (see the docstring).
FEWEST = {
    "shopify": 2,
    "woocommerce": 2,
    "amazon": 1,
    "taobao": 1,
    "pinduoduo": 1,
    "jd": 1,
    "douyin": 1,
}
SHOPS: dict[str, tuple[str, dict[str, Any]]] = {
    "shopify": (
        "bench.myshopify.com",
        {"shop_domain": "bench.myshopify.com", "access_token": "shpat_b", "api_secret": "s"},
    ),
    "woocommerce": (
        "bench-store",
        {
            "store_url": "https://bench-store.example.com",
            "consumer_key": "ck_b",
            "consumer_secret": "cs_b",
            "webhook_secret": "w",
        },
    ),
    "amazon": (
        "A1BENCH",
        {
            "seller_id": "A1BENCH",
            "marketplace_ids": ["ATVPDKIKX0DER"],
            "lwa_client_id": "amzn1.application-oa2-client.bench",
            "lwa_client_secret": "lwa-bench",
            "refresh_token": "Atzr|bench",
        },
    ),
    "taobao": (
        "bench-tmall",
        {"app_key": "2345", "app_secret": "top-bench", "session": "s0", "refresh_token": "r0"},
    ),
    "pinduoduo": (
        "bench-pdd",
        {
            "client_id": "pdd-bench",
            "client_secret": "pdd-secret",
            "access_token": "a0",
            "refresh_token": "r0",
        },
    ),
    "jd": (
        "bench-jd",
        {
            "app_key": "jd-bench",
            "app_secret": "jd-secret",
            "access_token": "a0",
            "refresh_token": "r0",
        },
    ),
    "douyin": (
        "4463799",
        {
            "app_key": "dy-bench",
            "app_secret": "dy-secret",
            "access_token": "a0",
            "refresh_token": "r0",
            "shop_id": "4463799",
        },
    ),
}


def _number(carrier: str, n: int) -> str:
    return PREFIX[carrier] + f"{n:0{DIGITS[carrier]}d}"


def _orders(state: Any, channel: str, shop: str, count: int) -> list[Any]:
    """``count`` paid, unshipped, uncancelled orders on the sandbox shop."""
    found: list[Any] = []
    while len(found) < count:
        for order in state.create_orders(channel, shop, max(50, count), history=False):
            if order.cancelled_at is None and order.items_shipped == 0:
                if order.paid_at is None:
                    state.apply_event(channel, shop, order.external_id, "pay", notify=False)
                found.append(order)
    return found[:count]


def _push_all(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    pushes: list[Any],
) -> tuple[int, int, int]:
    """Push every shipment, one call of push_shipment each: (HTTP calls, duplicates, failures)."""
    from daiyun.connectors.http import ShopHttp
    from daiyun.connectors.shipments import (
        ShipmentPushRefused,
        ShipmentPushRetryable,
        push_shipment,
    )
    from daiyun.core.db import unit_of_work

    clients: list[ShopHttp] = []

    def http(key: str) -> ShopHttp:
        clients.append(ShopHttp(key))
        return clients[-1]

    duplicates = failures = 0
    for push in pushes:
        with unit_of_work(tenant_id) as session:
            try:
                result = push_shipment(session, tenant_id, shop_id, push, http_factory=http)
            except (ShipmentPushRetryable, ShipmentPushRefused):
                failures += 1
                continue
        duplicates += result.duplicate
    return sum(c.calls for c in clients), duplicates, failures


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[list[object]]:
    from daiyun.connectors import service as shop_service
    from daiyun.connectors.schemas import ShopCreate
    from daiyun.connectors.shipments import ShipmentPush
    from daiyun.core.db import unit_of_work
    from daiyun.sandboxes.marketplaces.server import running_sandbox
    from daiyun.sandboxes.marketplaces.state import SandboxState

    per_shop = max(1, args.shipments // len(SHOPS))
    rows: list[list[object]] = []
    with (
        common.database(backend, workdir, args.postgres_url),
        running_sandbox(SandboxState(seed=5)) as sandbox,
    ):
        state = sandbox.state
        tenant_id = common.new_tenant("bench-tracking")
        for channel, (name, credentials) in SHOPS.items():
            fast = (
                {"leak_per_second": 10_000.0, "capacity": 10_000}
                if channel == "shopify"
                else {"rate": 10_000.0, "burst": 10_000}
            )
            currency = "CNY" if channel in ("taobao", "pinduoduo", "jd", "douyin") else "USD"
            state.register_shop(channel, name, dict(credentials), currency=currency, rate=fast)
            with unit_of_work(tenant_id) as session:
                shop_id = shop_service.connect(
                    session,
                    ShopCreate(
                        channel=channel,
                        name=f"Bench {channel}",
                        external_id=name,
                        credentials=credentials,
                        api_base_url=sandbox.api_base_url(channel, name),  # type: ignore[arg-type]
                    ),
                ).id
            orders = _orders(state, channel, name, per_shop)
            now = datetime.now(UTC)
            pushes = [
                ShipmentPush(order.external_id, CARRIERS[n % 4], _number(CARRIERS[n % 4], n), now)
                for n, order in enumerate(orders)
            ]
            with common.Stopwatch() as first:
                calls, _, failures = _push_all(tenant_id, shop_id, pushes)
            again, duplicates, failed_again = _push_all(tenant_id, shop_id, pushes)
            shipped_once = sum(
                1
                for order, push in zip(orders, pushes, strict=True)
                if [t["number"] for t in order.tracking] == [push.tracking_number]
            )
            if failures or failed_again or shipped_once != len(orders):
                raise SystemExit(
                    f"{backend} {channel}: {failures}+{failed_again} failed, "
                    f"{shipped_once} of {len(orders)} shipped once"
                )
            fewest = FEWEST[channel] * len(orders)
            rows.append(
                [
                    f"{backend} {channel}",
                    f"{len(orders):,}",
                    f"{calls:,}",
                    f"{fewest:,}",
                    f"{calls / len(orders):.2f}",
                    f"{again:,}",
                    f"{duplicates:,}",
                    common.rate(len(orders), first.seconds),
                ]
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument(
        "--shipments", type=int, default=10_000, help="shipments, spread over seven marketplaces"
    )
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            rows += measure(backend, args, workdir)
    common.print_table(
        f"Tracking push: {args.shipments:,} shipments to the seven sandbox marketplaces",
        [
            "database / marketplace",
            "shipments",
            "calls",
            "fewest possible",
            "calls/shipment",
            "calls pushed again",
            "answered duplicate",
            "shipments/s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
