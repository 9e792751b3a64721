"""Pure fulfilment rules: the state machine, merge keys, wave planning, walk order, pack scans.

No session here: the service feeds these rows and writes what they decide.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from daiyun.platform.fulfillment.models import ExceptionKind, FoState

S = FoState

# Where each state may go. Shipped and delivered are reached by the ship step; an exception
# resumes to the state it interrupted (checked apart: ``held_state``).
TRANSITIONS: dict[FoState, frozenset[FoState]] = {
    S.awaiting_stock: frozenset({S.ready, S.exception, S.cancelled}),
    S.ready: frozenset({S.in_wave, S.awaiting_stock, S.exception, S.cancelled, S.merged}),
    S.in_wave: frozenset({S.picked, S.ready, S.exception, S.cancelled}),
    S.picked: frozenset({S.packed, S.exception, S.cancelled}),
    S.packed: frozenset({S.shipped, S.picked, S.exception, S.cancelled}),
    S.shipped: frozenset({S.delivered, S.exception}),
    S.delivered: frozenset(),
    S.exception: frozenset(
        {S.awaiting_stock, S.ready, S.in_wave, S.picked, S.packed, S.shipped, S.cancelled}
    ),
    S.cancelled: frozenset(),
    S.merged: frozenset({S.cancelled}),
}
# Before these the goods are still the warehouse's to put back: an order called off then is
# intercepted (拦截), not returned.
BEFORE_SHIPMENT = frozenset({S.awaiting_stock, S.ready, S.in_wave, S.picked, S.packed, S.exception})
# States where goods may be off the shelf or on a pick list: intercepting needs a person.
ON_THE_FLOOR = frozenset({S.in_wave, S.picked, S.packed})
# States whose order lines may still change without anyone on the floor noticing.
UNTOUCHED = frozenset({S.awaiting_stock, S.ready})


def may_move(current: FoState, target: FoState) -> bool:
    return target in TRANSITIONS[current]


class Resolution(StrEnum):
    """What an operator may do about an exception."""

    retry = "retry"  # try again: reserve again, or resume where it stopped
    cancel = "cancel"  # give the parcel up (its stock is released with its order)
    returned_to_shelf = "returned_to_shelf"  # intercepted goods are back on their bins
    acknowledge = "acknowledge"  # seen: the deadline is known to be near


ACTIONS: dict[ExceptionKind, frozenset[Resolution]] = {
    ExceptionKind.out_of_stock: frozenset({Resolution.retry, Resolution.cancel}),
    ExceptionKind.address_unserviceable: frozenset({Resolution.retry, Resolution.cancel}),
    ExceptionKind.intercepted: frozenset({Resolution.returned_to_shelf}),
    ExceptionKind.deadline_near: frozenset({Resolution.acknowledge}),
}
# Kinds that stop the parcel where it is (its state becomes ``exception``); the others are
# warnings beside it.
BLOCKING = frozenset({ExceptionKind.address_unserviceable, ExceptionKind.intercepted})


def merge_key(shop_id: str, buyer: str | None, address: Mapping[str, Any] | None) -> str:
    """Orders of one shop, one buyer and one address share this digest (合单 candidates).
    Whitespace and case do not tell two addresses apart."""
    norm = {k: re.sub(r"\s+", "", str(v)).lower() for k, v in sorted((address or {}).items()) if v}
    raw = json.dumps([shop_id, re.sub(r"\s+", "", buyer or "").lower(), norm], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Walk order and waves
# --------------------------------------------------------------------------------------------


def _natural(text: str) -> tuple[Any, ...]:
    # Bin "A-2" before "A-10": digits compare as numbers.
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


# A warehouse has a few thousand bins and a pick list repeats them: each is parsed once.
@lru_cache(maxsize=65536)
def walk_key(location: str | None) -> tuple[Any, ...]:
    """A bin's place on the pick walk: zone, aisle, shelf, bin, each compared naturally; lines
    without a bin come last."""
    if not location:
        return (1,)
    return (0, *(_natural(part) for part in location.split("-")))


@dataclass(frozen=True)
class Candidate:
    """A ready fulfilment order as wave planning sees it."""

    key: Any  # whatever the caller identifies it by
    units: int
    zones: frozenset[str]
    ship_by: Any  # comparable (a datetime), None last


@dataclass(frozen=True)
class WaveRule:
    single_item: bool = False
    zone: str | None = None
    max_orders: int = 100


def plan_wave(candidates: Iterable[Candidate], rule: WaveRule) -> list[Any]:
    """The keys of the orders one wave takes: those the rule admits (single-item orders only;
    only orders picked wholly in one zone), the nearest deadline first, up to ``max_orders``."""
    admitted = [
        c
        for c in candidates
        if (not rule.single_item or c.units == 1)
        and (rule.zone is None or c.zones == frozenset({rule.zone}))
    ]
    admitted.sort(key=lambda c: (c.ship_by is None, c.ship_by or 0, str(c.key)))
    return [c.key for c in admitted[: rule.max_orders]]


def zone_of(location: str | None) -> str:
    return location.split("-", 1)[0] if location else ""


@dataclass(frozen=True)
class PickLine:
    location: str
    sku: str
    quantity: int
    fo_number: str
    merchant: str


def pick_list(lines: Iterable[PickLine]) -> list[PickLine]:
    """The pick list in walk order (bin, then SKU, then parcel): one pass through the aisles."""
    return sorted(lines, key=lambda p: (walk_key(p.location), p.sku, p.fo_number))


# --------------------------------------------------------------------------------------------
# Pack scans
# --------------------------------------------------------------------------------------------


class ScanVerdict(StrEnum):
    ok = "ok"
    wrong_item = "wrong_item"
    too_many = "too_many"


def check_scan(
    barcode: str,
    wanted: Mapping[str, int],
    scanned: Mapping[str, int],
    codes: Mapping[str, str],
) -> tuple[ScanVerdict, str | None]:
    """Check one scanned barcode against a parcel: ``wanted`` and ``scanned`` are units per SKU
    key, ``codes`` maps each barcode or SKU code the parcel's SKUs answer to onto their key.
    Returns the verdict and the SKU key it matched."""
    key = codes.get(barcode.strip())
    if key is None or key not in wanted:
        return ScanVerdict.wrong_item, None
    if scanned.get(key, 0) >= wanted[key]:
        return ScanVerdict.too_many, key
    return ScanVerdict.ok, key


def complete(wanted: Mapping[str, int], scanned: Mapping[str, int]) -> bool:
    return all(scanned.get(k, 0) == n for k, n in wanted.items())


def units(lines: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Units per SKU (hex id) over a parcel's lines."""
    out: dict[str, int] = {}
    for line in lines:
        out[line["sku_id"]] = out.get(line["sku_id"], 0) + int(line["quantity"])
    return out


def split_lines(
    lines: Sequence[Mapping[str, Any]], take: Mapping[str, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """Move ``take`` (units per SKU hex id) out of ``lines``: (what stays, what moves), or None
    when the lines do not hold that much or nothing would stay."""
    left = dict(take)
    stay: list[dict[str, Any]] = []
    move: list[dict[str, Any]] = []
    for line in lines:
        want = min(left.get(line["sku_id"], 0), int(line["quantity"]))
        if want:
            move.append({**line, "quantity": want})
            left[line["sku_id"]] -= want
        if int(line["quantity"]) - want:
            stay.append({**line, "quantity": int(line["quantity"]) - want})
    if any(left.values()) or not stay or not move:
        return None
    return stay, move
