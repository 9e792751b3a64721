"""Order processing: ``orders.service.ingest`` against a raw Core ``executemany`` of the same rows.

Builds N canonical orders (2-3 lines each, distinct buyers with valid phone numbers and complete
addresses, so review passes them), then imports them in pages of 250 twice, into two fresh
tenants with one shop each:

* **ingest**: ``order_service.ingest(session, shop_id, "shopify", page)``, each page in its own
  ``unit_of_work(tenant_id)``: one locked read of the page's stored orders, review (the policy,
  the shop's norms and the page's duplicate fingerprints, each read once per page, then the rules
  per order), one Core ``executemany`` per table for the new orders, their lines, history and
  ``order.created`` outbox events, and the commit;
* **raw**: the same order and line rows (``orders``, ``order_lines``) written with one Core
  ``insert().executemany`` per table per page, each page in its own transaction (with the tenant
  set for row-level security on PostgreSQL, as the application's role needs), including the
  conversion of the canonical orders to rows. No review, no history, no outbox.

Pages of the two sides are interleaved (raw, ingest, ingest, raw, ...) so both see tables of the
same size and a warm cache. Prints orders per second for both and the ratio (goal: ingest >= 25%
of raw), and the rows ingest wrote per order. On a PostgreSQL server with autovacuum off, tables
are analyzed by autovacuum's default thresholds while the benchmark runs (``common.database``
says so when it happens).

Run (from the repository root)::

    .venv/bin/python bench/ingest.py --database both
    .venv/bin/python bench/ingest.py --database sqlite --orders 2000   # a quick look

The default (20,000 orders per side) takes about a minute per database on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    OrderStatus,
)

PAGE_SIZE = 250
SKUS = (
    ("TEA-LJ-250", "西湖龙井 Longjing green tea 250g", 2999),
    ("TEA-PU-357", "Yunnan ripe pu-erh cake 357g", 4500),
    ("CUP-GW-06", "Gaiwan porcelain cup, 150 ml", 1850),
    ("KET-CL-12", "Cast iron kettle 1.2 l", 6400),
    ("TEA-OO-100", "Tieguanyin oolong 100g", 2190),
    ("TEA-DH-050", "Da Hong Pao rock tea 50g", 3800),
)
CITIES = (
    ("浙江省", "杭州市", "西湖区", "310012"),
    ("广东省", "深圳市", "南山区", "518052"),
    ("上海市", "上海市", "徐汇区", "200030"),
    ("四川省", "成都市", "武侯区", "610041"),
)


def canonical_orders(count: int, seed: int = 7) -> list[NormalizedOrder]:
    """``count`` paid orders of distinct buyers over the last 20 days, 2-3 lines each."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    orders = []
    for n in range(count):
        placed = now - timedelta(seconds=rng.randrange(20 * 86400))
        province, city, district, postcode = CITIES[n % len(CITIES)]
        phone = f"+86139{rng.randrange(10**8):08d}"
        buyer = f"买家{n}"
        lines = []
        for position, (sku, title, price) in enumerate(rng.sample(SKUS, 2 + n % 2)):
            lines.append(
                NormalizedLine(
                    external_id=f"{13_900_000_000_000 + n * 10 + position}",
                    sku=sku,
                    title=title,
                    quantity=1 + rng.randrange(3),
                    unit_price_minor=price,
                )
            )
        subtotal = sum(line.total_minor for line in lines)
        external_id = str(5_510_000_000_000 + n)
        orders.append(
            NormalizedOrder(
                external_id=external_id,
                status=OrderStatus.paid,
                channel_status="paid/unfulfilled",
                currency="CNY",
                total_minor=subtotal + 1000,
                subtotal_minor=subtotal,
                shipping_minor=1000,
                placed_at=placed,
                paid_at=placed + timedelta(minutes=2),
                source_updated_at=placed + timedelta(minutes=3),
                source_offset_minutes=480,
                buyer_name=buyer,
                buyer_email=f"buyer{n}@example.com",
                buyer_phone=phone,
                shipping_address=Address(
                    name=buyer,
                    phone=phone,
                    country="CN",
                    province=province,
                    city=city,
                    district=district,
                    address1=f"文三路 {1 + n % 400} 号 {1 + n % 9} 幢 {101 + n % 20} 室",
                    postal_code=postcode,
                ),
                lines=lines,
                raw={
                    "id": int(external_id),
                    "name": f"#{1000 + n}",
                    "updated_at": (placed + timedelta(minutes=3)).isoformat(),
                    "financial_status": "paid",
                    "line_items": [{"sku": line.sku, "quantity": line.quantity} for line in lines],
                },
            )
        )
    return orders


class RawWriter:
    """The floor: the same order and line rows, one Core executemany per table per page."""

    def __init__(self, tenant_id: uuid.UUID, shop_id: uuid.UUID) -> None:
        from daiyun.core.db import get_engine
        from daiyun.platform.orders.models import Order, OrderLine

        self.engine = get_engine()
        self.orders = Order.__table__
        self.lines = OrderLine.__table__
        self.tenant_id = tenant_id
        self.shop_id = shop_id

    def write(self, page: Sequence[NormalizedOrder]) -> None:
        from dataclasses import asdict

        from sqlalchemy import text

        from daiyun.core.ids import new_id, utcnow

        order_rows: list[dict[str, Any]] = []
        line_rows: list[dict[str, Any]] = []
        now = utcnow()
        for order in page:
            order_id = new_id()
            order_rows.append(
                {
                    "tenant_id": self.tenant_id,
                    "id": order_id,
                    "created_at": now,
                    "updated_at": now,
                    "shop_id": self.shop_id,
                    "channel": "shopify",
                    "external_id": order.external_id,
                    "status": order.status,
                    "source_status": order.status,
                    "channel_status": order.channel_status,
                    "review_state": "passed",
                    "hold_reasons": [],
                    "currency": order.currency,
                    "subtotal_minor": order.subtotal_minor,
                    "discount_minor": order.discount_minor,
                    "shipping_minor": order.shipping_minor,
                    "tax_minor": order.tax_minor,
                    "total_minor": order.total_minor,
                    "refunded_minor": order.refunded_minor,
                    "item_count": sum(line.quantity for line in order.lines),
                    "buyer_name": order.buyer_name,
                    "buyer_email": order.buyer_email,
                    "buyer_phone": order.buyer_phone,
                    "shipping_address": (
                        asdict(order.shipping_address) if order.shipping_address else None
                    ),
                    "fingerprint": None,
                    "placed_at": order.placed_at,
                    "paid_at": order.paid_at,
                    "source_offset_minutes": order.source_offset_minutes,
                    "source_updated_at": order.source_updated_at,
                    "raw": order.raw,
                }
            )
            for position, line in enumerate(order.lines):
                line_rows.append(
                    {
                        "tenant_id": self.tenant_id,
                        "id": new_id(),
                        "order_id": order_id,
                        "position": position,
                        "external_id": line.external_id,
                        "sku": line.sku,
                        "title": line.title,
                        "quantity": line.quantity,
                        "unit_price_minor": line.unit_price_minor,
                        "discount_minor": line.discount_minor,
                        "tax_minor": line.tax_minor,
                        "total_minor": line.total_minor,
                    }
                )
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("select set_config('app.tenant_id', :tenant, true)"),
                    {"tenant": str(self.tenant_id)},
                )
            connection.execute(self.orders.insert(), order_rows)
            connection.execute(self.lines.insert(), line_rows)


def ingest_page(tenant_id: uuid.UUID, shop_id: uuid.UUID, page: list[NormalizedOrder]) -> None:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.orders import service as order_service

    with unit_of_work(tenant_id) as session:
        results = order_service.ingest(session, shop_id, "shopify", page)
    if any(outcome != order_service.Outcome.created for outcome, _ in results):
        raise RuntimeError("ingest did not create every order of the page")


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from daiyun.core.events.models import OutboxEvent
    from daiyun.platform.orders.models import Order, OrderEvent, OrderLine

    orders = canonical_orders(args.orders)
    pages = [orders[i : i + PAGE_SIZE] for i in range(0, len(orders), PAGE_SIZE)]
    with common.database(backend, workdir, args.postgres_url):
        raw_tenant = common.new_tenant("bench-raw")
        raw_shop, _ = common.new_shop(raw_tenant, "raw.myshopify.com")
        ingest_tenant = common.new_tenant("bench-ingest")
        ingest_shop, _ = common.new_shop(ingest_tenant, "ingest.myshopify.com")
        writer = RawWriter(raw_tenant, raw_shop)
        raw_seconds = ingest_seconds = 0.0
        for number, page in enumerate(pages):
            steps = ("raw", "ingest") if number % 2 == 0 else ("ingest", "raw")
            for step in steps:
                started = time.perf_counter()
                if step == "raw":
                    writer.write(page)
                    raw_seconds += time.perf_counter() - started
                else:
                    ingest_page(ingest_tenant, ingest_shop, page)
                    ingest_seconds += time.perf_counter() - started
        counts = {
            side: {
                "orders": common.count_rows(tenant, Order),
                "lines": common.count_rows(tenant, OrderLine),
                "events": common.count_rows(tenant, OrderEvent),
                "outbox": common.count_rows(tenant, OutboxEvent),
            }
            for side, tenant in (("raw", raw_tenant), ("ingest", ingest_tenant))
        }
    for side in ("raw", "ingest"):
        if counts[side]["orders"] != len(orders):
            raise RuntimeError(f"{side} stored {counts[side]['orders']} of {len(orders)} orders")
    return {"raw": raw_seconds, "ingest": ingest_seconds, "counts": counts, "n": len(orders)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--orders", type=int, default=20_000, help="orders per side")
    args = parser.parse_args(argv)
    common.exit_on_sigterm()

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            results[backend] = measure(backend, args, workdir)
            print(f"[{backend}] done", flush=True)

    rows = []
    for backend, result in results.items():
        n = result["n"]
        raw_rate = n / result["raw"]
        ingest_rate = n / result["ingest"]
        rows.append(
            [
                backend,
                f"{raw_rate:,.0f}",
                f"{ingest_rate:,.0f}",
                common.ratio(ingest_rate, raw_rate),
                common.verdict(ingest_rate >= 0.25 * raw_rate),
                f"{result['raw']:.1f} / {result['ingest']:.1f}",
                f"{result['ingest'] / n * 1000:.2f}",
            ]
        )
    common.print_table(
        f"Order processing: {args.orders:,} canonical orders (2-3 lines) per side, pages of "
        f"{PAGE_SIZE}, one transaction per page ({common.machine()})",
        [
            "database",
            "raw orders/s",
            "ingest orders/s",
            "ingest/raw",
            "goal >= 25%",
            "raw / ingest s",
            "ingest ms/order",
        ],
        rows,
    )
    common.print_table(
        "Rows written per side (ingest also writes each order's history and outbox event)",
        ["database", "side", "orders", "order_lines", "order_events", "outbox_events"],
        [
            [backend, side, *(f"{c[k]:,}" for k in ("orders", "lines", "events", "outbox"))]
            for backend, result in results.items()
            for side, c in result["counts"].items()
        ],
    )


if __name__ == "__main__":
    main()
