"""The pricing engine (促销计算) as pure rules: a cart's lines and the promotions that may apply
in, the priced cart with every discount allocated to lines and explained out.

No session here. The service turns promotions, coupons, floors and counters into ``Offer`` and
``Line`` values and records what :func:`price` decided.

The one evaluation order
------------------------
Offers are taken by ``(priority, stage, id)``: a lower priority number first; at equal priority
flash prices first, then item discounts, buy X get Y, order discounts (满减 tiers among them),
and shipping last; the id breaks the remaining ties, so the same offers always give the same
result whatever order they arrive in. Each offer works on the cart as the offers before it left
it (a 10% order discount after a flash price is 10% of the flash price).

Stacking: a stackable offer applies with any other. An exclusive offer applies only alone: it is
skipped when another applied before it, and once it applies every later offer is skipped.

What never happens: a line below its margin floor (quantity × the storefront's floor price; 0
when the floor is off), so never below zero; an order discount above the lines' sum; a shipping
discount above the shipping; a campaign over its budget; a discount over its own cap. A discount
that would is capped, and the explanation says by what.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

# Bounds on what one cart or promotion may say.
MAX_AMOUNT_MINOR = 10**12
MAX_QUANTITY = 1_000_000
MAX_LINES = 200
MAX_TIERS = 10
BASIS_POINTS = 10_000  # a percentage is given in basis points: 1000 = 10%
SHIPPING = "shipping"  # the allocation key of the shipping charge


class Kind(StrEnum):
    order = "order"  # off the order (or the targeted lines' sum)
    items = "items"  # off each targeted unit
    shipping = "shipping"  # off the shipping charge
    tiered = "tiered"  # 满减: spend X save Y, the highest tier reached
    bxgy = "bxgy"  # buy X get Y: of each X + Y units, the Y cheapest discounted
    flash = "flash"  # 秒杀: the targeted SKU at its own price, for a limited quantity


class ValueType(StrEnum):
    fixed = "fixed"  # minor units (per unit for items, once for order and shipping)
    percent = "percent"  # basis points


class Stacking(StrEnum):
    stackable = "stackable"
    exclusive = "exclusive"


STAGES: dict[Kind, int] = {
    Kind.flash: 0,
    Kind.items: 1,
    Kind.bxgy: 2,
    Kind.tiered: 3,
    Kind.order: 3,
    Kind.shipping: 4,
}
# Kinds computed line by line; the others are one sum spread over the lines.
_PER_LINE = frozenset({Kind.items, Kind.bxgy, Kind.flash})


@dataclass(frozen=True)
class Line:
    """A cart line: ``floor_unit_minor`` is the lowest unit price the margin floor allows."""

    key: str
    sku_id: uuid.UUID
    quantity: int
    unit_price_minor: int
    categories: frozenset[uuid.UUID] = frozenset()
    floor_unit_minor: int = 0

    @property
    def subtotal_minor(self) -> int:
        return self.quantity * self.unit_price_minor


@dataclass(frozen=True)
class Tier:
    threshold_minor: int
    off_minor: int


@dataclass(frozen=True)
class Offer:
    """A promotion as the engine sees it for one cart.

    ``flash_units`` is how many units this cart may have at the flash price (the smaller of the
    stock left and the buyer's allowance), worked out by the caller.
    """

    id: uuid.UUID
    name: str
    kind: Kind
    value_type: ValueType = ValueType.fixed
    value: int = 0
    tiers: tuple[Tier, ...] = ()
    cap_minor: int | None = None
    sku_ids: frozenset[uuid.UUID] = frozenset()
    category_ids: frozenset[uuid.UUID] = frozenset()
    min_order_minor: int = 0
    buy_quantity: int = 0
    get_quantity: int = 0
    flash_price_minor: int = 0
    flash_units: int = 0
    stacking: Stacking = Stacking.stackable
    priority: int = 100
    campaign_id: uuid.UUID | None = None
    coupon: str | None = None

    @property
    def targeted(self) -> bool:
        return bool(self.sku_ids or self.category_ids)

    def matches(self, line: Line) -> bool:
        if not self.targeted:
            return True
        return line.sku_id in self.sku_ids or bool(line.categories & self.category_ids)


@dataclass
class Applied:
    """One discount: its amount, where it went (line key → minor units; ``units`` the flash
    units per line) and why."""

    offer_id: uuid.UUID
    name: str
    kind: Kind
    amount_minor: int
    allocations: dict[str, int]
    explanation: str
    capped_by: str | None = None
    coupon: str | None = None
    campaign_id: uuid.UUID | None = None
    units: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    offer_id: uuid.UUID
    name: str
    reason: str


@dataclass
class PricedLine:
    key: str
    sku_id: uuid.UUID
    quantity: int
    unit_price_minor: int
    subtotal_minor: int
    discount_minor: int
    total_minor: int
    floor_minor: int


@dataclass
class Quote:
    lines: list[PricedLine]
    subtotal_minor: int
    discount_minor: int  # off the lines (shipping apart)
    shipping_minor: int
    shipping_discount_minor: int
    total_minor: int
    applied: list[Applied]
    skipped: list[Skipped]


def evaluation_order(offers: Iterable[Offer]) -> list[Offer]:
    """The one order offers are taken in (see the module's text)."""
    return sorted(offers, key=lambda o: (o.priority, STAGES[o.kind], o.id))


def allocate(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Spread ``amount`` over keys in proportion to ``weights`` (largest remainder, ties by key):
    the parts sum to ``amount`` and none exceeds its weight while ``amount`` ≤ the weights' sum."""
    total = sum(weights.values())
    if amount <= 0 or total <= 0:
        return {}
    if amount > total:
        raise ValueError("an amount above the weights' sum cannot be allocated within them")
    shares = {k: amount * w // total for k, w in weights.items()}
    left = amount - sum(shares.values())
    by_remainder = sorted(weights, key=lambda k: (-(amount * weights[k] % total), k))
    for key in by_remainder[:left]:
        shares[key] += 1
    return {k: v for k, v in shares.items() if v}


def _money(minor: int) -> str:
    return f"{minor / 100:,.2f}"


def _percent(basis_points: int) -> str:
    return f"{basis_points / 100:g}%"


def _per_line(
    offer: Offer, eligible: Sequence[Line], net: Mapping[str, int]
) -> tuple[dict[str, int], dict[str, int], str]:
    """What an items, buy X get Y or flash offer takes off each eligible line (before caps),
    the flash units per line, and the explanation."""
    wanted: dict[str, int] = {}
    units: dict[str, int] = {}
    if offer.kind is Kind.items:
        for line in eligible:
            if offer.value_type is ValueType.percent:
                wanted[line.key] = net[line.key] * offer.value // BASIS_POINTS
            else:
                wanted[line.key] = offer.value * line.quantity
        what = (
            _percent(offer.value) if offer.value_type is ValueType.percent else _money(offer.value)
        )
        return wanted, units, f"{what} off each eligible item"
    if offer.kind is Kind.flash:
        left = offer.flash_units
        for line in sorted(eligible, key=lambda li: li.key):
            take = min(line.quantity, left)
            if take <= 0:
                continue
            unit_net = net[line.key] // line.quantity
            wanted[line.key] = take * max(0, unit_net - offer.flash_price_minor)
            units[line.key] = take
            left -= take
        taken = sum(units.values())
        return wanted, units, f"flash price {_money(offer.flash_price_minor)} for {taken} unit(s)"
    # Buy X get Y: units from dearest to cheapest; of each full group of X + Y, the last Y.
    # Counted per line (a line is a run of equal units), never unit by unit.
    group = offer.buy_quantity + offer.get_quantity
    runs = sorted(
        ((net[line.key] // line.quantity, line.key, line.quantity) for line in eligible),
        key=lambda r: (-r[0], r[1]),
    )
    groups = sum(r[2] for r in runs) // group if group else 0
    end = groups * group

    def discounted_before(n: int) -> int:
        # How many of the first n units are the "get" units of their group.
        return (n // group) * offer.get_quantity + max(0, n % group - offer.buy_quantity)

    start = 0
    for price, key, quantity in runs:
        free = discounted_before(min(start + quantity, end)) - discounted_before(min(start, end))
        if free:
            wanted[key] = wanted.get(key, 0) + free * price * offer.value // BASIS_POINTS
        start += quantity
    what = "free" if offer.value >= BASIS_POINTS else f"{_percent(offer.value)} off"
    text = f"buy {offer.buy_quantity} get {offer.get_quantity} {what}: {groups} group(s)"
    return wanted, units, text


def _lump(offer: Offer, base: int, shipping_left: int) -> tuple[int, str]:
    """What an order, 满减 or shipping offer takes off (before caps), and why."""
    if offer.kind is Kind.tiered:
        reached = [t for t in offer.tiers if t.threshold_minor <= base]
        if not reached:
            lowest = min((t.threshold_minor for t in offer.tiers), default=0)
            return 0, f"spend {_money(lowest)} to reach the first tier"
        tier = max(reached, key=lambda t: t.threshold_minor)
        return (
            tier.off_minor,
            f"满减: spend {_money(tier.threshold_minor)} save {_money(tier.off_minor)}",
        )
    of = shipping_left if offer.kind is Kind.shipping else base
    if offer.value_type is ValueType.percent:
        text = f"{_percent(offer.value)} off the {offer.kind.value}"
        return of * offer.value // BASIS_POINTS, text
    return offer.value, f"{_money(offer.value)} off the {offer.kind.value}"


def price(
    lines: Sequence[Line],
    offers: Iterable[Offer],
    shipping_minor: int = 0,
    budgets: Mapping[uuid.UUID, int] | None = None,
) -> Quote:
    """Price a cart under ``offers`` (``budgets``: what each campaign may still spend)."""
    net = {line.key: line.subtotal_minor for line in lines}
    floor = {
        line.key: min(line.subtotal_minor, line.quantity * line.floor_unit_minor) for line in lines
    }
    shipping_left = shipping_minor
    budget_left = dict(budgets or {})
    applied: list[Applied] = []
    skipped: list[Skipped] = []
    closed = False
    for offer in evaluation_order(offers):

        def skip(reason: str, offer: Offer = offer) -> None:
            skipped.append(Skipped(offer.id, offer.name, reason))

        if closed:
            skip("an exclusive promotion applied before it")
            continue
        if offer.stacking is Stacking.exclusive and applied:
            skip("exclusive, and another promotion applied before it")
            continue
        eligible = [line for line in lines if offer.matches(line)]
        base = sum(net[line.key] for line in eligible)
        if not eligible and offer.kind is not Kind.shipping:
            skip("no eligible line in the cart")
            continue
        if base < offer.min_order_minor:
            skip(
                f"the eligible lines come to {_money(base)}, "
                f"under the minimum {_money(offer.min_order_minor)}"
            )
            continue
        capped_by: str | None = None
        units: dict[str, int] = {}
        if offer.kind is Kind.shipping:
            weights = {SHIPPING: shipping_left}
            amount, text = _lump(offer, base, shipping_left)
            if amount > shipping_left:
                amount, capped_by = shipping_left, "shipping"
        elif offer.kind in _PER_LINE:
            wanted, units, text = _per_line(offer, eligible, net)
            weights = {}
            for key, want in wanted.items():
                room = max(0, net[key] - floor[key])
                weights[key] = min(want, room)
                if want > room:
                    capped_by = "margin-floor"
            amount = sum(weights.values())
        else:
            amount, text = _lump(offer, base, shipping_left)
            weights = {line.key: max(0, net[line.key] - floor[line.key]) for line in eligible}
            if amount > sum(weights.values()):
                amount, capped_by = sum(weights.values()), "margin-floor"
        if offer.cap_minor is not None and amount > offer.cap_minor:
            amount, capped_by = offer.cap_minor, "cap"
        if offer.campaign_id in budget_left and amount > budget_left[offer.campaign_id]:
            amount, capped_by = max(0, budget_left[offer.campaign_id]), "budget"
        if amount <= 0:
            skip(f"nothing to take off ({capped_by or text})")
            continue
        allocations = allocate(amount, weights)
        for key, part in allocations.items():
            if key == SHIPPING:
                shipping_left -= part
            else:
                net[key] -= part
        if offer.campaign_id in budget_left:
            budget_left[offer.campaign_id] -= amount
        if capped_by:
            text = f"{text}; capped by the {capped_by.replace('-', ' ')}"
        applied.append(
            Applied(
                offer.id,
                offer.name,
                offer.kind,
                amount,
                allocations,
                text,
                capped_by,
                offer.coupon,
                offer.campaign_id,
                units,
            )
        )
        closed = offer.stacking is Stacking.exclusive
    priced = [
        PricedLine(
            line.key,
            line.sku_id,
            line.quantity,
            line.unit_price_minor,
            line.subtotal_minor,
            line.subtotal_minor - net[line.key],
            net[line.key],
            floor[line.key],
        )
        for line in lines
    ]
    subtotal = sum(p.subtotal_minor for p in priced)
    discount = sum(p.discount_minor for p in priced)
    return Quote(
        priced,
        subtotal,
        discount,
        shipping_minor,
        shipping_minor - shipping_left,
        subtotal - discount + shipping_left,
        applied,
        skipped,
    )


def codes_reported(raw: Mapping[str, object]) -> list[str]:
    """The discount codes a marketplace's order reports: Shopify's ``discount_codes`` and
    WooCommerce's ``coupon_lines`` (each ``{"code": ...}``), upper-cased, in order, once each."""
    found: list[str] = []
    for key in ("discount_codes", "coupon_lines"):
        entries = raw.get(key)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            code = entry.get("code") if isinstance(entry, dict) else None
            if isinstance(code, str) and code.strip() and code.strip().upper() not in found:
                found.append(code.strip().upper())
    return found


def flash_allowance(stock_left: int, per_buyer_limit: int | None, bought: int) -> int:
    """How many units a buyer may still have at the flash price."""
    allowance = max(0, stock_left)
    if per_buyer_limit is not None:
        allowance = min(allowance, max(0, per_buyer_limit - bought))
    return allowance


def tiers_valid(tiers: Sequence[Tier]) -> str | None:
    """Why a 满减 ladder is wrong, or None: thresholds strictly rising, savings rising and each
    below its threshold."""
    if not tiers:
        return "a 满减 promotion needs at least one tier"
    for lower, upper in itertools.pairwise(tiers):
        if upper.threshold_minor <= lower.threshold_minor or upper.off_minor < lower.off_minor:
            return "tiers rise: each threshold and saving above the one before"
    if any(t.off_minor > t.threshold_minor for t in tiers):
        return "a tier never saves more than its threshold"
    return None


def generate_codes(prefix: str, count: int, token: bytes) -> list[str]:
    """``count`` codes ``PREFIX-XXXXXXXX`` from random ``token`` bytes (8 per code), in the
    unambiguous alphabet (no 0/O, 1/I)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    codes = []
    for n in range(count):
        chunk = token[n * 8 : (n + 1) * 8]
        codes.append(f"{prefix}-" + "".join(alphabet[b % len(alphabet)] for b in chunk))
    return codes
