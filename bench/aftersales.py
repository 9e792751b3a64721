"""After-sales under duplicate marketplace reports: cases opened once, refunds recorded once.

One merchant with ``--orders`` paid orders (default 2,000; one line of two units each, entered
through ``orders.service.ingest`` in pages of 500). Then, each phase timed:

* **reports**: every order's after-sales request reported ``--duplicates`` times (default 2) by
  the marketplace (``aftersales.service.from_marketplace``, 100 per unit of work): cases per
  second, and the check that there is exactly one case per request key;
* **refunds**: every case approved and refunded (one unit, recorded into the order book under
  the request's key): cases per second;
* **marketplace reports the refunds**: every order ingested again carrying the same refund under
  the same key, as a marketplace's order sync does: orders per second, and the check that the
  order book holds exactly one refund per order and ``refunded_minor`` counts it once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import common

PAGE = 500
BATCH = 100
UNIT_MINOR = 2_500


def _order(n: int, refunded: bool, at: Any) -> Any:
    from daiyun.platform.orders.normalized import (
        NormalizedLine,
        NormalizedOrder,
        NormalizedRefund,
        OrderStatus,
    )

    external = f"AS-{n:07d}"
    refunds = (
        [
            NormalizedRefund(
                external_id=f"RF-{n:07d}",
                amount_minor=UNIT_MINOR,
                refunded_at=at,
                lines=[{"sku": "AS-TEA", "quantity": 1, "amount_minor": UNIT_MINOR}],
            )
        ]
        if refunded
        else []
    )
    return NormalizedOrder(
        external_id=external,
        status=OrderStatus.partially_refunded if refunded else OrderStatus.paid,
        channel_status="paid",
        currency="CNY",
        total_minor=2 * UNIT_MINOR,
        subtotal_minor=2 * UNIT_MINOR,
        placed_at=at - timedelta(days=2),
        paid_at=at - timedelta(days=2),
        source_updated_at=at + timedelta(seconds=1 if refunded else 0),
        lines=[NormalizedLine(f"{external}-1", "AS-TEA", "Tea", 2, UNIT_MINOR)],
        refunds=refunds,
        raw={"id": external, "refunded": refunded},
    )


def _ingest(tenant_id: uuid.UUID, shop_id: uuid.UUID, total: int, refunded: bool) -> float:
    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import utcnow
    from daiyun.platform.orders import service as order_service

    at = utcnow()
    started = time.perf_counter()
    for offset in range(0, total, PAGE):
        page = [_order(n, refunded, at) for n in range(offset, min(total, offset + PAGE))]
        with unit_of_work(tenant_id) as session:
            order_service.ingest(session, shop_id, "shopify", page)
    return time.perf_counter() - started


def _order_ids(tenant_id: uuid.UUID) -> list[uuid.UUID]:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.orders import service as order_service

    ids: list[uuid.UUID] = []
    cursor = None
    with unit_of_work(tenant_id) as session:
        while True:
            rows, cursor = order_service.find_orders(session, cursor=cursor, limit=200)
            ids += [row.id for row in rows]
            if cursor is None:
                return ids


def _reports(tenant_id: uuid.UUID, orders: list[uuid.UUID], duplicates: int) -> float:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.aftersales import service
    from daiyun.platform.aftersales.schemas import CaseLineIn, CaseType
    from daiyun.platform.orders import service as order_service

    started = time.perf_counter()
    for _ in range(duplicates):
        for offset in range(0, len(orders), BATCH):
            with unit_of_work(tenant_id) as session:
                for order_id in orders[offset : offset + BATCH]:
                    order = order_service.get_order(session, order_id)
                    assert order is not None
                    n = int(order.external_id.removeprefix("AS-"))
                    service.from_marketplace(
                        session,
                        order_id,
                        f"RF-{n:07d}",
                        CaseType.refund_only,
                        [CaseLineIn(line="AS-TEA", quantity=1)],
                        "Damp leaves",
                    )
    return time.perf_counter() - started


def _refunds(tenant_id: uuid.UUID) -> tuple[float, int]:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.aftersales import service

    with unit_of_work(tenant_id) as session:
        cases: list[uuid.UUID] = []
        cursor = None
        while True:
            rows, cursor = service.find_cases(session, service.Filters(), cursor, 500)
            cases += [row.id for row in rows]
            if cursor is None:
                break
    started = time.perf_counter()
    for offset in range(0, len(cases), BATCH):
        with unit_of_work(tenant_id) as session:
            for case_id in cases[offset : offset + BATCH]:
                service.approve(session, case_id, None, True, None)
                service.refund(session, case_id, None, True, None)
    return time.perf_counter() - started, len(cases)


def _order_book(tenant_id: uuid.UUID) -> tuple[int, int, int]:
    """Refund rows, their sum, and the orders' ``refunded_minor`` sum."""
    from sqlalchemy import func, select

    from daiyun.core.db import unit_of_work
    from daiyun.platform.orders.models import Order, OrderRefund

    with unit_of_work(tenant_id) as session:
        rows, amount = session.execute(
            select(func.count(), func.coalesce(func.sum(OrderRefund.amount_minor), 0))
        ).one()
        refunded = session.scalar(select(func.coalesce(func.sum(Order.refunded_minor), 0)))
        return int(rows), int(amount), int(refunded or 0)


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> None:
    with common.database(backend, workdir, args.postgres_url):
        tenant_id = common.new_tenant("aftersales")
        shop_id, _ = common.new_shop(tenant_id, f"as-{uuid.uuid4().hex[:8]}")
        _ingest(tenant_id, shop_id, args.orders, refunded=False)
        orders = _order_ids(tenant_id)
        reported = _reports(tenant_id, orders, args.duplicates)
        refunding, cases = _refunds(tenant_id)
        assert cases == args.orders, f"{cases} cases for {args.orders} requests"
        before = _order_book(tenant_id)
        again = _ingest(tenant_id, shop_id, args.orders, refunded=True)
        after = _order_book(tenant_id)
        want = (args.orders, args.orders * UNIT_MINOR, args.orders * UNIT_MINOR)
        reports = args.orders * args.duplicates
        common.print_table(
            f"{backend}: after-sales, {args.orders:,} orders, each request reported "
            f"{args.duplicates}x",
            ["phase", "count", "per second", "check"],
            [
                [
                    "reports -> cases",
                    f"{reports:,} -> {cases:,}",
                    common.rate(reports, reported),
                    common.verdict(cases == args.orders),
                ],
                [
                    "approve + refund",
                    f"{cases:,}",
                    common.rate(cases, refunding),
                    common.verdict(before == want),
                ],
                [
                    "marketplace re-reports refunds",
                    f"{args.orders:,}",
                    common.rate(args.orders, again),
                    common.verdict(after == want),
                ],
            ],
        )
        assert before == want and after == want, (before, after, want)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--duplicates", type=int, default=2)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["DAIYUN_LOG_LEVEL"] = "WARNING"
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            measure(backend, args, workdir)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
