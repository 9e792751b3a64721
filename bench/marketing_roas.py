"""The ROAS report (投产比) against the raw SQL behind it.

One merchant (Asia/Shanghai, CNY) with ``--campaigns`` campaigns of one promotion each,
``--orders`` orders attributed to them over ``--days`` days (one redemption per order, and a
second one for every tenth order, which used two promotions of its campaign and must count
once), and ``--spend-rows`` ad spend rows (default 20,000: ``--days`` days x 5 channels x ad
groups, half of them linked to a campaign). Core inserts, as the import writes them. Then,
each the best of ``--repeat`` runs after one warm-up, in one unit of work:

* ``roas.report`` per day and per campaign (the order book's attribution) and per channel (the
  ad platforms'), over the whole period;
* against the SQL the same figures need, written by hand: spend grouped by day or campaign or
  channel, and the attributed orders deduplicated per campaign and order, grouped by the
  tenant's day (``date(at, '+8 hours')`` / ``at at time zone 'Asia/Shanghai'``), on the same
  connection. The totals of both are checked to be equal.

The goal: Daiyun within 2x of the raw SQL. The issue's size is ``--orders 1000000``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import common

GOAL = 2.0
CHANNELS = ("ztc", "pdd_search", "qianchuan", "google_ads", "meta")
FIRST_DAY = date(2026, 1, 1)
BATCH = 10_000


def _seed(tenant_id: uuid.UUID, args: argparse.Namespace) -> None:
    from sqlalchemy import insert

    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id
    from daiyun.platform.marketing.models import AdSpend, Promotion, Redemption
    from daiyun.platform.marketing.rules import Kind
    from daiyun.platform.marketing.schemas import CampaignCreate, PromotionCreate
    from daiyun.platform.marketing.service import create_campaign, create_promotion

    start = datetime.combine(FIRST_DAY, datetime.min.time(), UTC) - timedelta(hours=8)
    with unit_of_work(tenant_id) as session:
        pairs: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
        for n in range(args.campaigns):
            campaign = create_campaign(
                session,
                CampaignCreate(
                    name=f"Campaign {n}",
                    starts_at=start,
                    ends_at=start + timedelta(days=args.days),
                    currency="CNY",
                    budget_minor=10**12,
                ),
            )
            promotions: list[Promotion] = [
                create_promotion(
                    session,
                    PromotionCreate(
                        campaign_id=campaign.id, name=f"P{n}.{k}", kind=Kind.order, value=1
                    ),
                )
                for k in range(2)
            ]
            pairs.append((campaign.id, [p.id for p in promotions]))
    pick = random.Random(20)
    seconds = args.days * 86_400
    for offset in range(0, args.orders, BATCH):
        rows = []
        for n in range(offset, min(args.orders, offset + BATCH)):
            campaign_id, promotion_ids = pairs[pick.randrange(len(pairs))]
            at = start + timedelta(seconds=pick.randrange(seconds))
            total = pick.randrange(2_000, 80_000)
            for promotion_id in promotion_ids[: 2 if n % 10 == 0 else 1]:
                rows.append(
                    {
                        "tenant_id": tenant_id,
                        "id": new_id(),
                        "key": f"order:{n}",
                        "promotion_id": promotion_id,
                        "campaign_id": campaign_id,
                        "buyer": f"buyer{n % 50_000}@example.com",
                        "source": "order",
                        "currency": "CNY",
                        "discount_minor": 100,
                        "order_total_minor": total,
                        "units": 0,
                        "explanation": "bench",
                        "at": at,
                    }
                )
        with unit_of_work(tenant_id) as session:
            session.execute(insert(Redemption), rows)
    groups = max(1, args.spend_rows // (args.days * len(CHANNELS)))
    rows = []
    now = datetime.now(UTC)
    for day_n in range(args.days):
        day = FIRST_DAY + timedelta(days=day_n)
        for channel in CHANNELS:
            for g in range(groups):
                spend = pick.randrange(1_000, 200_000)
                linked = pairs[g % len(pairs)][0] if g % 2 == 0 else None
                rows.append(
                    {
                        "tenant_id": tenant_id,
                        "id": new_id(),
                        "day": day,
                        "channel": channel,
                        "ad_campaign": f"Ad campaign {g // 2}",
                        "ad_group": f"Group {g}",
                        "campaign_id": linked,
                        "currency": "CNY",
                        "spend_minor": spend,
                        "home_currency": "CNY",
                        "home_spend_minor": spend,
                        "rate": "1",
                        "impressions": spend // 3,
                        "clicks": spend // 300,
                        "attributed_orders": spend // 20_000,
                        "attributed_gmv_minor": spend * 3,
                        "home_gmv_minor": spend * 3,
                        "source": "csv",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    for offset in range(0, len(rows), BATCH):
        with unit_of_work(tenant_id) as session:
            session.execute(insert(AdSpend), rows[offset : offset + BATCH])


def _best(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Seconds of the best of ``repeat`` runs (after a warm-up), and the last answer."""
    answer = call()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        answer = call()
        best = min(best, time.perf_counter() - started)
    return best, answer


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[list[str]]:
    from sqlalchemy import Uuid, bindparam, text

    from daiyun.core.db import unit_of_work
    from daiyun.platform.marketing import roas
    from daiyun.platform.marketing.schemas import RoasBasis, RoasBy

    rows: list[list[str]] = []
    with common.database(backend, workdir, args.postgres_url):
        tenant_id = common.new_tenant("roas")
        with common.Stopwatch() as seeding:
            _seed(tenant_id, args)
        print(
            f"[{backend}] {args.orders:,} attributed orders and {args.spend_rows:,} ad spend"
            f" rows in {seeding.seconds:.1f} s",
            flush=True,
        )
        local_day = (
            "date(at, '+8 hours')"
            if backend == "sqlite"
            else "cast(at at time zone 'Asia/Shanghai' as date)"
        )
        tenant = bindparam("t", type_=Uuid())
        spend_by = {
            "day": "day",
            "campaign": "campaign_id",
            "channel": "channel",
        }
        first = FIRST_DAY
        last = FIRST_DAY + timedelta(days=args.days - 1)
        start = datetime.combine(first, datetime.min.time(), UTC) - timedelta(hours=8)
        end = start + timedelta(days=args.days)
        with unit_of_work(tenant_id) as session:
            for by, basis in (
                (RoasBy.day, RoasBasis.orders),
                (RoasBy.campaign, RoasBasis.orders),
                (RoasBy.channel, RoasBasis.platform),
            ):
                key = spend_by[by.value]
                spend_sql = text(
                    f"select {key}, sum(home_spend_minor), sum(impressions), sum(clicks),"
                    " sum(attributed_orders), sum(home_gmv_minor) from mkt_ad_spend"
                    f" where tenant_id = :t and day between :first and :last group by {key}"
                ).bindparams(tenant)
                order_key = "d" if by is RoasBy.day else "campaign_id"
                orders_sql = text(
                    f"select {order_key}, count(*), sum(total) from (select campaign_id,"
                    f" min({local_day}) as d, min(order_total_minor) as total"
                    " from mkt_redemptions where tenant_id = :t and at >= :start and at < :end"
                    f" group by campaign_id, key) per_order group by {order_key}"
                ).bindparams(tenant)
                params = {"t": tenant_id, "first": first, "last": last}
                sqlite = backend == "sqlite"
                window = {
                    "t": tenant_id,
                    # SQLite keeps UTC as naive text: compare with the same.
                    "start": start.replace(tzinfo=None) if sqlite else start,
                    "end": end.replace(tzinfo=None) if sqlite else end,
                }

                def raw(
                    spend_sql: object = spend_sql,
                    orders_sql: object = orders_sql,
                    basis: RoasBasis = basis,
                    params: dict[str, object] = params,
                    window: dict[str, object] = window,
                ) -> tuple[int, int]:
                    spent = session.execute(spend_sql, params).all()  # type: ignore[call-overload]
                    spend = sum(int(r[1]) for r in spent)
                    if basis is RoasBasis.platform:
                        return spend, sum(int(r[5] or 0) for r in spent)
                    found = session.execute(orders_sql, window).all()  # type: ignore[call-overload]
                    return spend, sum(int(r[2]) for r in found)

                def ours(by: RoasBy = by, basis: RoasBasis = basis) -> tuple[int, int]:
                    report = roas.report(session, first, last, by, basis)
                    return report.total.spend_minor, report.total.gmv_minor

                bare_seconds, bare = _best(raw, args.repeat)
                our_seconds, mine = _best(ours, args.repeat)
                assert bare == mine, (by, bare, mine)
                rows.append(
                    [
                        f"{backend}: by {by.value} ({basis.value})",
                        f"{bare_seconds * 1000:,.0f}",
                        f"{our_seconds * 1000:,.0f}",
                        f"{our_seconds / bare_seconds:.2f}x",
                        common.verdict(our_seconds / bare_seconds <= GOAL),
                    ]
                )
            session.rollback()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--spend-rows", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--campaigns", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["DAIYUN_LOG_LEVEL"] = "WARNING"
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            rows += measure(backend, args, workdir)
    common.print_table(
        f"ROAS report: {args.orders:,} attributed orders, {args.spend_rows:,} ad spend rows,"
        f" {args.days} days ({common.machine()})",
        ["report", "raw SQL ms", "Daiyun ms", "Daiyun time / raw", f"goal {GOAL:.0f}x"],
        rows,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
