"""Pure rules of the catalog: the margin floor (价格底线), bundle costs and tree shapes.

No session here: the service gathers the rows, these functions decide.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from enum import StrEnum

# Every amount the catalog accepts (a cost, a price checked against the floor) and every cost it
# derives stays within 10^12 minor units, as billing's amounts do (daiyun/billing/limits.py): far
# inside BIGINT and exact as a double in any client.
MAX_AMOUNT_MINOR = 10**12
# Minimum margins are a markup on cost, 0 to 1000 %, to four decimal places (0.1525 = 15.25 %).
MIN_MARGIN = Decimal("0")
MAX_MARGIN = Decimal("10")
MARGIN_PLACES = 4
# A bundle holds at most this many distinct parts, each at most this many times, and nests
# bundles at most this deep: enough for any gift set, small enough to expand on every read.
MAX_PARTS = 50
MAX_PART_QUANTITY = 10_000
MAX_BUNDLE_DEPTH = 5
# Category trees: how deep, and how many nodes a tenant keeps (the tree is read whole).
MAX_CATEGORY_DEPTH = 8
MAX_CATEGORIES = 2_000


class FloorMode(StrEnum):
    """What a price under the floor does: refused (``block``), accepted and flagged (``warn``),
    or nothing (``off``)."""

    block = "block"
    warn = "warn"
    off = "off"


@dataclass(frozen=True)
class Floor:
    """A margin floor: a price must be at least cost × (1 + ``minimum_margin``)."""

    mode: FloorMode
    minimum_margin: Decimal


# A tenant that set nothing: a price under cost is flagged, nothing is refused.
DEFAULT_FLOOR = Floor(FloorMode.warn, Decimal("0"))


@dataclass(frozen=True)
class Verdict:
    """What the floor says of one price.

    ``below_floor``: the price is under ``floor_minor`` (always False when the mode is off);
    ``allowed``: the price may be used (False only when blocked); ``flagged``: allowed but
    below the floor (warn).
    """

    mode: FloorMode
    minimum_margin: Decimal
    price_minor: int
    cost_minor: int
    floor_minor: int
    below_floor: bool

    @property
    def allowed(self) -> bool:
        return not (self.below_floor and self.mode is FloorMode.block)

    @property
    def flagged(self) -> bool:
        return self.below_floor and self.mode is FloorMode.warn


def margin(value: str | Decimal) -> Decimal:
    """A minimum margin as an exact, canonical Decimal; ValueError when out of bounds."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    if not number.is_finite() or not MIN_MARGIN <= number <= MAX_MARGIN:
        raise ValueError(f"a minimum margin lies between {MIN_MARGIN} and {MAX_MARGIN}")
    if number != number.quantize(Decimal(1).scaleb(-MARGIN_PLACES), rounding=ROUND_CEILING):
        raise ValueError(f"a minimum margin has at most {MARGIN_PLACES} decimal places")
    reduced = number.normalize()
    return reduced.quantize(Decimal(1)) if reduced == reduced.to_integral() else reduced


def floor_price(cost_minor: int, minimum_margin: Decimal) -> int:
    """The lowest price in minor units meeting the floor: cost × (1 + margin), rounded up (a
    price one minor unit under it is under the floor)."""
    if cost_minor < 0:
        raise ValueError("a cost is never negative")
    with localcontext() as context:
        context.prec = 50  # 10^12 × 11 with four places needs ~18 digits: exact, never rounded
        exact = Decimal(cost_minor) * (1 + minimum_margin)
        return int(exact.to_integral_value(rounding=ROUND_CEILING))


def check_price(price_minor: int, cost_minor: int, floor: Floor) -> Verdict:
    """Judge ``price_minor`` against the floor on ``cost_minor`` (same currency)."""
    if price_minor < 0:
        raise ValueError("a price is never negative")
    lowest = floor_price(cost_minor, floor.minimum_margin)
    below = floor.mode is not FloorMode.off and price_minor < lowest
    return Verdict(floor.mode, floor.minimum_margin, price_minor, cost_minor, lowest, below)


def resolve_floor(candidates: Iterable[tuple[str, Floor | None]]) -> tuple[str, Floor]:
    """The first floor set among ``candidates`` (most specific first: the SKU's, then each
    category from the SKU's own up to the root, then the tenant's) with where it came from;
    ``("default", DEFAULT_FLOOR)`` when none is."""
    for source, floor in candidates:
        if floor is not None:
            return source, floor
    return "default", DEFAULT_FLOOR


# --------------------------------------------------------------------------------------------
# Bundles (组合商品)
# --------------------------------------------------------------------------------------------


class BundleError(ValueError):
    """A bundle whose cost cannot be derived: ``kind`` names the problem, ``codes`` the SKUs."""

    def __init__(self, kind: str, message: str, codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.codes = codes


@dataclass(frozen=True)
class Node:
    """A SKU as bundle arithmetic sees it: a plain SKU has a cost and no parts; a bundle has
    parts, (part id, quantity), and no cost of its own."""

    code: str
    currency: str
    cost_minor: int | None
    parts: tuple[tuple[uuid.UUID, int], ...] = ()


def bundle_cost(sku_id: uuid.UUID, nodes: Mapping[uuid.UUID, Node]) -> int:
    """The cost of SKU ``sku_id``: its own, or for a bundle the sum of each part's cost times its
    quantity, parts that are bundles expanded in turn.

    Refused (:class:`BundleError`): a part in another currency than the bundle's
    (``currency-mismatch``, naming every such part), a bundle that contains itself through any
    chain of parts (``bundle-cycle``), nesting deeper than ``MAX_BUNDLE_DEPTH``
    (``bundle-too-deep``), and a cost past ``MAX_AMOUNT_MINOR`` (``amount-out-of-range``).
    """
    # Each bundle's cost and height (bundle levels from it down, itself included), once.
    known: dict[uuid.UUID, tuple[int, int]] = {}

    def cost(node_id: uuid.UUID, chain: tuple[uuid.UUID, ...]) -> tuple[int, int]:
        node = nodes[node_id]
        if not node.parts:
            if node.cost_minor is None:
                raise BundleError("bundle-empty", f"Bundle {node.code} has no parts")
            return node.cost_minor, 0
        if node_id in chain:
            loop = (*chain[chain.index(node_id) :], node_id)
            codes = tuple(nodes[i].code for i in loop)
            raise BundleError(
                "bundle-cycle", f"A bundle would contain itself: {' → '.join(codes)}", codes
            )
        if node_id not in known:
            known[node_id] = _expand(node_id, node, chain)
        total, height = known[node_id]
        if len(chain) + height > MAX_BUNDLE_DEPTH:
            raise BundleError(
                "bundle-too-deep",
                f"Bundles nest at most {MAX_BUNDLE_DEPTH} deep (through {node.code})",
                (node.code,),
            )
        return total, height

    def _expand(node_id: uuid.UUID, node: Node, chain: tuple[uuid.UUID, ...]) -> tuple[int, int]:
        if len(chain) >= MAX_BUNDLE_DEPTH:
            raise BundleError(
                "bundle-too-deep",
                f"Bundles nest at most {MAX_BUNDLE_DEPTH} deep (through {node.code})",
                (node.code,),
            )
        foreign = tuple(
            nodes[part].code for part, _ in node.parts if nodes[part].currency != node.currency
        )
        if foreign:
            raise BundleError(
                "currency-mismatch",
                f"Parts of bundle {node.code} ({node.currency}) cost in another currency: "
                + ", ".join(f"{c} ({n.currency})" for c, n in _named(foreign, nodes)),
                foreign,
            )
        total, height = 0, 0
        for part, quantity in node.parts:
            part_cost, part_height = cost(part, (*chain, node_id))
            total += part_cost * quantity
            height = max(height, part_height)
        if total > MAX_AMOUNT_MINOR:
            raise BundleError(
                "amount-out-of-range",
                f"Bundle {node.code} would cost {total:,} minor units, beyond the "
                f"{MAX_AMOUNT_MINOR:,} a cost may be",
                (node.code,),
            )
        return total, height + 1

    return cost(sku_id, ())[0]


def _named(codes: tuple[str, ...], nodes: Mapping[uuid.UUID, Node]) -> list[tuple[str, Node]]:
    by_code = {node.code: node for node in nodes.values()}
    return [(code, by_code[code]) for code in codes]


# --------------------------------------------------------------------------------------------
# Category trees
# --------------------------------------------------------------------------------------------


def path_of(parent_path: str | None, node_id: uuid.UUID) -> str:
    """The materialized path of a node under a parent of ``parent_path`` (None: a root)."""
    return f"{parent_path}/{node_id.hex}" if parent_path else node_id.hex


def depth(path: str) -> int:
    return path.count("/") + 1


def ancestors(path: str) -> list[uuid.UUID]:
    """The ids on a path, the node itself first and the root last (nearest first)."""
    return [uuid.UUID(hex=part) for part in reversed(path.split("/"))]


def moves_under_itself(node_path: str, new_parent_path: str) -> bool:
    """Whether moving the node at ``node_path`` under the parent at ``new_parent_path`` would
    make it its own ancestor (the parent is the node or one of its descendants)."""
    return new_parent_path == node_path or new_parent_path.startswith(node_path + "/")
