"""Pure stock rules: sellable quantities, bundles, what an order wants held, and allocation.

No session here: these are the decisions, the service feeds them rows and writes their result.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

# Bounds on what one request may say: beyond them a request is a mistake, not a delivery.
MAX_QUANTITY = 1_000_000
MAX_LINES = 500


def sellable(on_hand: int, reserved: int, safety_stock: int) -> int:
    """On hand − reserved − safety stock, never shown below zero (nothing is for sale then)."""
    return max(0, on_hand - reserved - safety_stock)


def bundle_sellable(
    parts: Sequence[tuple[uuid.UUID, int]], by_part: Mapping[uuid.UUID, int]
) -> int:
    """A bundle (组合商品) sells as many times as its scarcest part allows; none without parts."""
    if not parts:
        return 0
    return min(by_part.get(part, 0) // quantity for part, quantity in parts)


class Demand(StrEnum):
    """What an order's state asks of its reservation."""

    hold = "hold"  # paid and out of review: hold its lines
    none = "none"  # not (yet, or any more) to be held: release what is held
    ship = "ship"  # the goods left: what is held is consumed


# Order statuses by what they ask (the order book's vocabulary, as text).
_HOLD = frozenset({"paid", "partially_refunded", "partially_fulfilled"})
_SHIP = frozenset({"fulfilled", "shipped", "delivered"})


def demand(status: str, held_for_review: bool) -> Demand:
    """An order is held once paid and out of review; cancelled, refunded (before shipment),
    pending or held for review holds nothing; shipped consumes what it held."""
    if status in _SHIP:
        return Demand.ship
    if status in _HOLD and not held_for_review:
        return Demand.hold
    return Demand.none


def wanted_quantities(
    lines: Iterable[tuple[str, int]], refunded: Iterable[tuple[str, int]]
) -> dict[str, int]:
    """Quantity per SKU code: the lines' less what refunds took back (a refund before shipment
    releases its units)."""
    wanted: dict[str, int] = defaultdict(int)
    for code, quantity in lines:
        wanted[code] += quantity
    for code, quantity in refunded:
        if code in wanted:
            wanted[code] = max(0, wanted[code] - quantity)
    return {code: q for code, q in wanted.items() if q > 0}


@dataclass(frozen=True)
class Candidate:
    """A stock row allocation may take from."""

    stock_id: uuid.UUID
    sku_id: uuid.UUID
    warehouse_id: uuid.UUID
    available: int  # on hand − reserved
    expires_on: date | None
    lot: str | None


def fefo_key(row: Candidate) -> tuple[int, date, str, uuid.UUID]:
    """First expiry first out; rows without expiry last; ties by lot, then row."""
    return (row.expires_on is None, row.expires_on or date.max, row.lot or "", row.stock_id)


@dataclass(frozen=True)
class Take:
    stock_id: uuid.UUID
    sku_id: uuid.UUID
    warehouse_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class Shortage:
    sku_id: uuid.UUID
    wanted: int
    available: int


def allocate(
    wanted: Mapping[uuid.UUID, int],
    candidates: Sequence[Candidate],
    warehouse_order: Sequence[uuid.UUID],
    split: bool = False,
) -> tuple[list[Take], list[Shortage]]:
    """Allocate the whole order from one warehouse: the first of ``warehouse_order`` (the
    merchant's default first, then by priority and code) that has every unit, batches first
    expiry first out. None has it all: with ``split``, each SKU comes whole from the first
    warehouse that has all of it (拆单: a parcel per warehouse); otherwise, or when some SKU is
    nowhere whole, nothing is taken, and the shortages are per SKU, counted against the
    warehouse that has most of it (what a split would not fix either)."""
    by_warehouse: dict[uuid.UUID, dict[uuid.UUID, list[Candidate]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in candidates:
        if row.available > 0:
            by_warehouse[row.warehouse_id][row.sku_id].append(row)
    for warehouse in warehouse_order:
        rows = by_warehouse.get(warehouse, {})
        if all(sum(r.available for r in rows.get(s, [])) >= q for s, q in wanted.items()):
            return _take(wanted, rows), []
    if split:
        takes: list[Take] = []
        for sku, quantity in sorted(wanted.items()):
            home = next(
                (
                    w
                    for w in warehouse_order
                    if sum(r.available for r in by_warehouse.get(w, {}).get(sku, [])) >= quantity
                ),
                None,
            )
            if home is None:
                break
            takes += _take({sku: quantity}, by_warehouse[home])
        else:
            return takes, []
    shortages = []
    for sku, quantity in sorted(wanted.items()):
        best = max(
            (sum(r.available for r in rows.get(sku, [])) for rows in by_warehouse.values()),
            default=0,
        )
        shortages.append(Shortage(sku, quantity, best))
    return [], shortages


def _take(wanted: Mapping[uuid.UUID, int], rows: Mapping[uuid.UUID, list[Candidate]]) -> list[Take]:
    takes = []
    for sku, quantity in sorted(wanted.items()):
        left = quantity
        for row in sorted(rows.get(sku, []), key=fefo_key):
            if left == 0:
                break
            n = min(left, row.available)
            takes.append(Take(row.stock_id, sku, row.warehouse_id, n))
            left -= n
    return takes


def may_go_negative(after: int, sku_allows: bool, location_allows: bool) -> bool:
    """Stock below zero only where the SKU or the location says so."""
    return after >= 0 or sku_allows or location_allows


# --------------------------------------------------------------------------------------------
# Stocktakes (盘点)
# --------------------------------------------------------------------------------------------


def moved_before(moves: Iterable[tuple[datetime, int]], counted_at: datetime) -> int:
    """The on-hand change the ledger booked between a count's start and the moment a line was
    counted: the shelf held ``expected + moved`` when it was counted. Later moves change the
    book and the shelf alike, so they are no difference."""
    return sum(delta for at, delta in moves if at <= counted_at)


def count_difference(counted: int, expected: int, moved: int) -> int:
    """What a count proposes to post: the units counted less what the book says was there."""
    return counted - (expected + moved)


# --------------------------------------------------------------------------------------------
# Replenishment (补货)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    reorder_point: int
    quantity: int  # 0: nothing to order
    days_of_cover: float | None  # None: nothing sells
    urgent: bool


def daily_rate(units: int, days: int) -> float:
    """Units sold per day over a window of ``days``."""
    return units / days if days > 0 else 0.0


def suggest(
    *,
    available: int,
    incoming: int,
    daily_sales: float,
    min_quantity: int,
    max_quantity: int,
    lead_time_days: int,
    safety_stock: int = 0,
) -> Suggestion:
    """Min/max with lead time: reorder when what is available and coming falls to the reorder
    point (the minimum, or what sells during the lead time plus the safety stock when that is
    more), and order up to the maximum (or the reorder point when that is more)."""
    during_lead = math.ceil(daily_sales * lead_time_days)
    reorder_point = max(min_quantity, during_lead + safety_stock)
    target = max(max_quantity, reorder_point)
    position = available + incoming
    quantity = target - position if position <= reorder_point else 0
    cover = available / daily_sales if daily_sales > 0 else None
    urgent = quantity > 0 and cover is not None and cover < lead_time_days
    return Suggestion(reorder_point, max(0, quantity), cover, urgent)


def expiry_state(expires_on: date | None, today: date, within_days: int) -> int | None:
    """Days left before a batch expires when that is within ``within_days`` (negative:
    expired that long ago); None for a batch without expiry or far from it."""
    if expires_on is None:
        return None
    left = (expires_on - today).days
    return left if left <= within_days else None


# --------------------------------------------------------------------------------------------
# Stock sync to shops (库存同步)
# --------------------------------------------------------------------------------------------


def shop_share(
    pool: int,
    *,
    ratio_percent: int | None = None,
    fixed_quantity: int | None = None,
    safety_floor: int = 0,
) -> int:
    """What one shop shows of ``pool`` sellable units: nothing once the pool is at or below the
    safety floor (the last units are not offered everywhere at once), else its ratio (rounded
    down: a share never adds up past the pool) or its fixed quantity (never past the pool); the
    whole pool without a rule."""
    pool = max(0, pool)
    if pool <= safety_floor:
        return 0
    if ratio_percent is not None:
        return pool * ratio_percent // 100
    if fixed_quantity is not None:
        return min(fixed_quantity, pool)
    return pool


def ratio_totals(
    rules: Iterable[tuple[uuid.UUID, uuid.UUID | None, int | None]],
) -> dict[uuid.UUID | None, int]:
    """Per SKU (None: every SKU without its own rule), the ratios its shops show added up.

    ``rules`` are (shop, SKU or None for the shop's default, ratio percent or None for a
    fixed quantity). A SKU's own rule on a shop replaces that shop's default for it.
    """
    own: dict[uuid.UUID, dict[uuid.UUID, int | None]] = defaultdict(dict)
    defaults: dict[uuid.UUID, int | None] = {}
    for shop, sku, ratio in rules:
        if sku is None:
            defaults[shop] = ratio
        else:
            own[sku][shop] = ratio
    totals: dict[uuid.UUID | None, int] = {None: sum(r or 0 for r in defaults.values())}
    for sku, by_shop in own.items():
        shops = set(defaults) | set(by_shop)
        totals[sku] = sum((by_shop[s] if s in by_shop else defaults[s]) or 0 for s in shops)
    return totals
