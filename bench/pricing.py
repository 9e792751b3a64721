"""Cart pricing under 50 active promotions: quotes per second of the engine and the time of one
quote (p50, p99), side by side with a baseline.

The engine is ``daiyun.platform.marketing.rules.price``: the evaluation order, stacking, 满减
tiers, buy X get Y, flash prices, caps, budgets, the margin floor and the allocation of every
discount to lines, with its explanation. The baseline prices the same carts under the same
promotions the naive way most shops start with: every promotion's nominal saving summed off
the subtotal, clipped at zero, with no order, no stacking rule, no floor and no allocation. The
difference between the two is what the engine's guarantees cost per quote.

Carts have 1 to 8 lines of 200 SKUs (fixed seed); the 50 promotions mix every kind, a third
targeted at a few SKUs, a fifth exclusive, some in a budgeted campaign. No database: what the
service adds per quote (reading the live promotions, codes, categories and floors) is one read
of each per cart, measured by the API's own tests rather than here.

Run (from the repository root)::

    .venv/bin/python bench/pricing.py
    .venv/bin/python bench/pricing.py --quotes 20000 --promotions 50
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid

import common

from daiyun.platform.marketing import rules
from daiyun.platform.marketing.rules import Kind, Line, Offer, Stacking, Tier, ValueType

SKUS = [uuid.UUID(int=n + 1) for n in range(200)]
CAMPAIGN = uuid.UUID(int=10**6)


def promotions(count: int, seed: int) -> list[Offer]:
    pick = random.Random(seed)
    kinds = list(Kind)
    offers = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        percent = kind is Kind.bxgy or pick.random() < 0.4
        offers.append(
            Offer(
                id=uuid.UUID(int=10**7 + n),
                name=f"promotion {n}",
                kind=kind,
                value_type=ValueType.percent if percent else ValueType.fixed,
                value=rules.BASIS_POINTS if kind is Kind.bxgy else pick.choice([300, 500, 1000]),
                tiers=(Tier(10_000, 1_000), Tier(30_000, 4_000), Tier(50_000, 8_000)),
                cap_minor=pick.choice([None, 5_000]),
                sku_ids=frozenset(pick.sample(SKUS, 5))
                if n % 3 == 0 or kind is Kind.flash
                else frozenset(),
                min_order_minor=pick.choice([0, 0, 5_000]),
                buy_quantity=2,
                get_quantity=1,
                flash_price_minor=1_000,
                flash_units=3,
                stacking=Stacking.exclusive if n % 5 == 4 else Stacking.stackable,
                priority=pick.randrange(0, 5),
                campaign_id=CAMPAIGN if n % 4 == 0 else None,
            )
        )
    return offers


def carts(count: int, seed: int) -> list[list[Line]]:
    pick = random.Random(seed)
    made = []
    for _ in range(count):
        made.append(
            [
                Line(
                    key=str(n),
                    sku_id=pick.choice(SKUS),
                    quantity=pick.randint(1, 4),
                    unit_price_minor=pick.randrange(1_000, 30_000),
                    floor_unit_minor=pick.randrange(0, 1_000),
                )
                for n in range(pick.randint(1, 8))
            ]
        )
    return made


def baseline(lines: list[Line], offers: list[Offer], shipping: int) -> int:
    """Every promotion's nominal saving off the subtotal, clipped at zero."""
    subtotal = sum(line.subtotal_minor for line in lines)
    saving = 0
    for offer in offers:
        if subtotal < offer.min_order_minor:
            continue
        if offer.kind is Kind.tiered:
            reached = [t.off_minor for t in offer.tiers if t.threshold_minor <= subtotal]
            saving += max(reached, default=0)
        elif offer.value_type is ValueType.percent:
            saving += subtotal * offer.value // rules.BASIS_POINTS
        else:
            saving += offer.value
    return max(0, subtotal - saving) + shipping


def measure(label: str, run: object, work: list[list[Line]]) -> tuple[str, float, float, float]:
    times = []
    started = time.perf_counter()
    for lines in work:
        t0 = time.perf_counter()
        run(lines)  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return label, len(work) / total, p50 * 1e6, p99 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=10_000)
    parser.add_argument("--promotions", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    offers = promotions(args.promotions, args.seed)
    work = carts(args.quotes, args.seed + 1)
    budgets = {CAMPAIGN: 10**9}
    rows = [
        measure("baseline (nominal savings)", lambda c: baseline(c, offers, 800), work),
        measure("engine (rules.price)", lambda c: rules.price(c, offers, 800, budgets), work),
    ]
    common.print_table(
        f"Pricing {args.quotes:,} carts under {args.promotions} promotions ({common.machine()})",
        ["pricer", "quotes/s", "p50 µs", "p99 µs", "vs baseline"],
        [
            (label, f"{qps:,.0f}", f"{p50:,.0f}", f"{p99:,.0f}", common.ratio(qps, rows[0][1]))
            for label, qps, p50, p99 in rows
        ],
    )


if __name__ == "__main__":
    main()
