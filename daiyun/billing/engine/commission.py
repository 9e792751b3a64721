"""Commission (销售提成) on the commission base, and clawbacks (退款冲减) of earlier commission.

How tiers and overrides combine: an order from a channel in ``channel_rates`` is billed whole at
that channel's flat rate (the channel wins over categories); otherwise each SKU line whose
category (longest matching SKU prefix in ``categories``) has a rate in ``category_rates`` is billed
at that flat rate, and the rest of the order joins the default base. Only the default base goes
through the flat rate or the tiers, and only it places the tiers: override bases are outside the
tiered base. Each rate bucket is one line, so an order split over buckets is listed on each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from daiyun.billing.engine import wording
from daiyun.billing.engine.rules import ZERO, floor_minor, make_line, round_minor
from daiyun.billing.engine.wording import Message, message
from daiyun.billing.facts import (
    BilledOrder,
    ConvertedSales,
    GroupedOrders,
    Line,
    OrderFact,
    RefundFact,
    selector,
)
from daiyun.billing.terms import Commission, ContractTerms, TierMode

DEFAULT = "commission"


def order_base(order: OrderFact, terms: ContractTerms) -> int:
    """The order's commission base before refunds: never below zero."""
    rule = terms.base
    value = order.total_minor
    if not rule.include_shipping:
        value -= order.shipping_minor
    if not rule.include_tax:
        value -= order.tax_minor
    value -= sum(amount for sku, amount in order.lines if sku in rule.excluded_skus)
    return max(0, value)


def category_of(sku: str, categories: Mapping[str, str]) -> str | None:
    """The category of the longest SKU prefix that matches, if any."""
    best = max((prefix for prefix in categories if sku.startswith(prefix)), key=len, default=None)
    return None if best is None else categories[best]


def _gross_parts(order: OrderFact, base: int, terms: ContractTerms) -> dict[str, Decimal]:
    """The order's base split over rate buckets (line kinds); zero parts left out."""
    commission = terms.commission
    if order.channel in commission.channel_rates:
        return {f"{DEFAULT}:channel:{order.channel}": Decimal(base)} if base else {}
    kept = [line for line in sorted(order.lines) if line[0] not in terms.base.excluded_skus]
    kept_total = sum(amount for _, amount in kept)
    # SKU line totals larger than the base (an order-level discount) are scaled down to it, so
    # a category never bills more than the order's base.
    scaled = kept_total > base
    parts: dict[str, Decimal] = {}
    plain = 0
    for sku, amount in kept:
        category = category_of(sku, commission.categories)
        if category is None or category not in commission.category_rates:
            plain += amount
            continue
        kind = f"{DEFAULT}:category:{category}"
        share = Decimal(amount) * base / kept_total if scaled else Decimal(amount)
        parts[kind] = parts.get(kind, ZERO) + share
    if scaled:
        rest = Decimal(plain) * base / kept_total if kept_total else ZERO
    else:
        rest = Decimal(base) - sum(parts.values(), ZERO)
    parts[DEFAULT] = rest
    return {kind: part for kind, part in parts.items() if part > 0}


@dataclass(frozen=True)
class OrderShare:
    """One order in the base: its base before and after same-period refunds, by rate bucket."""

    order: OrderFact
    base: int
    net: int
    parts: Mapping[str, Decimal]  # bucket -> part of the net base
    refunds: tuple[RefundFact, ...]

    @property
    def buckets(self) -> tuple[str, ...]:
        # An order with nothing left to bill is still listed, on the default line.
        return tuple(self.parts) or (DEFAULT,)


def share_orders(
    terms: ContractTerms,
    orders: Sequence[OrderFact],
    refunds: Mapping[str, Sequence[RefundFact]],
) -> list[OrderShare]:
    """Each order's base net of its same-period refunds (an excess refund stops at zero)."""
    shares = []
    for order in orders:
        base = order_base(order, terms)
        own = tuple(refunds.get(order.order_id, ()))
        net = max(0, base - sum(refund.amount_minor for refund in own))
        gross = _gross_parts(order, base, terms)
        if net != base:
            # A refund does not say which SKU it returns: it reduces every bucket pro rata.
            gross = {kind: part * net / base for kind, part in gross.items()}
        shares.append(OrderShare(order, base, net, gross, own))
    return shares


def _band(tiers_edges: tuple[int | None, int | None], currency: str) -> Message:
    lower, upper = tiers_edges
    if upper is None:
        return message("band.above", lower=wording.amount(lower or 0, currency))
    if not lower:
        return message("band.up_to", upper=wording.amount(upper, currency))
    return message(
        "band.between", lower=wording.amount(lower, currency), upper=wording.amount(upper, currency)
    )


def tiered(
    commission: Commission, base: Decimal, currency: str
) -> tuple[Decimal, Message, Decimal | None]:
    """Commission on the default base: (exact amount, what it says, rate if a single one)."""
    base_said = wording.amount(round_minor(base), currency)
    if commission.mode == TierMode.flat:
        flat = commission.rate
        return (
            base * flat,
            message("commission.flat", rate=wording.rate(flat), base=base_said),
            flat,
        )
    lower = 0
    bands: list[tuple[int, int | None, Decimal]] = []
    for tier in commission.tiers:
        bands.append((lower, tier.up_to_minor, tier.rate))
        lower = tier.up_to_minor or lower
    if commission.mode == TierMode.marginal:
        exact = ZERO
        used = []
        for low, up, band_rate in bands:
            top = base if up is None else min(base, Decimal(up))
            if top > low:
                exact += (top - low) * band_rate
                used.append(
                    message(
                        "commission.band",
                        rate=wording.rate(band_rate),
                        amount=wording.amount(round_minor(top - low), currency),
                    )
                )
        applied = wording.joined(used, "plus") if used else message("commission.no_band")
        return exact, message("commission.marginal", base=base_said, bands=applied), None
    # Whole-volume: an edge belongs to the band it closes (up_to is inclusive).
    index = next(i for i, (_, up, _) in enumerate(bands) if up is None or base <= up)
    low, up, band_rate = bands[index]
    said = message(
        "commission.whole_volume",
        band=index + 1,
        bands=len(bands),
        edges=_band((low, up), currency),
        base=base_said,
        rate=wording.rate(band_rate),
    )
    return base * band_rate, said, band_rate


def allocate(total: int, weights: Sequence[tuple[str, Decimal]]) -> dict[str, int]:
    """Split ``total`` minor units in proportion to ``weights`` (largest remainder, exact sum)."""
    whole = sum((weight for _, weight in weights), ZERO)
    if total == 0 or whole <= 0:
        return {key: 0 for key, _ in weights}
    shares = [(key, Decimal(total) * weight / whole) for key, weight in weights]
    floors = {key: floor_minor(share) for key, share in shares}
    left = total - sum(floors.values())
    # Ties go to the smaller key, so the split is the same on every run.
    ranked = sorted(shares, key=lambda item: (floors[item[0]] - item[1], item[0]))
    for key, _ in ranked[:left]:
        floors[key] += 1
    return floors


@dataclass(frozen=True)
class CommissionResult:
    lines: tuple[Line, ...]
    base_minor: int  # the period's whole commission base, net of same-period refunds
    order_commissions: dict[str, tuple[int, int]]
    # kind -> the part of the line's commission that falls on the grouped orders
    group_commissions: dict[str, int]
    # currency -> kind -> the part that falls on that currency's converted sales
    foreign_commissions: dict[str, dict[str, int]] = field(default_factory=dict)


# The key of the grouped orders' weight when a line is split: it sorts before every order id,
# so ties of the largest remainder go to the group, the same on every run.
GROUP = ""


def _foreign_key(currency: str) -> str:
    # Never an order id (those are UUIDs), and the same on every run.
    return f"fx:{currency}"


def commission_lines(
    terms: ContractTerms,
    shares: Sequence[OrderShare],
    grouped: GroupedOrders | None = None,
    converted: Sequence[ConvertedSales] = (),
) -> CommissionResult:
    """One line per rate bucket; the commission of each line is then split over its orders.

    With ``grouped`` orders, each bucket's base adds their sum, the line lists them by its
    selector, and the split gives the group one share (the database splits it further).
    ``converted`` sales in other currencies join the buckets the same way, one share per
    currency: they are in the base the tiers, the minimum, the cap and VAT see.
    """
    currency = terms.currency
    buckets: dict[str, list[OrderShare]] = {}
    for share in shares:
        for kind in share.buckets:
            buckets.setdefault(kind, []).append(share)
    group_buckets = grouped.buckets if grouped is not None else {}
    lines = []
    per_order = {share.order.order_id: 0 for share in shares}
    per_group: dict[str, int] = {}
    per_currency: dict[str, dict[str, int]] = {sales.currency: {} for sales in converted}
    kinds = set(buckets) | set(group_buckets)
    for sales in converted:
        kinds |= set(sales.buckets)
    for kind in sorted(kinds):
        members = buckets.get(kind, [])
        group_base, group_orders = group_buckets.get(kind, (0, 0))
        foreign = [(sales.currency, *sales.buckets.get(kind, (0, 0))) for sales in converted]
        group_base_all = group_base + sum(part for _, part, _ in foreign)
        group_orders += sum(count for _, _, count in foreign)
        base = sum((share.parts.get(kind, ZERO) for share in members), Decimal(group_base_all))
        if kind == DEFAULT:
            exact, said, line_rate = tiered(terms.commission, base, currency)
        else:
            _, scope, name = kind.split(":", 2)
            line_rate = (
                terms.commission.channel_rates[name]
                if scope == "channel"
                else terms.commission.category_rates[name]
            )
            exact = base * line_rate
            said = message(
                f"commission.{scope}",
                rate=wording.rate(line_rate),
                base=wording.amount(round_minor(base), terms.currency),
                **({"channel": {"channel": name}} if scope == "channel" else {"category": name}),
            )
        # Grouped orders have no keys here: the line names them (and these) by its selector.
        by_selector = grouped is not None or any(part or count for _, part, count in foreign)
        sources = [selector(kind)] if by_selector else [s.order.key for s in members]
        sources += [refund.key for share in members for refund in share.refunds]
        line = make_line(
            kind,
            said,
            exact,
            basis=round_minor(base),
            quantity=Decimal(len(members) + group_orders),
            rate=line_rate,
            sources=sources,
        )
        lines.append(line)
        weights = [(share.order.order_id, share.parts.get(kind, ZERO)) for share in members]
        if grouped is not None:
            weights.insert(0, (GROUP, Decimal(group_base)))
        weights += [(_foreign_key(code), Decimal(part)) for code, part, _ in foreign]
        split = allocate(line.amount_minor, weights)
        if grouped is not None:
            per_group[kind] = split.pop(GROUP)
        for code, _, _ in foreign:
            per_currency[code][kind] = split.pop(_foreign_key(code))
        for order_id, part_minor in split.items():
            per_order[order_id] += part_minor
    return CommissionResult(
        tuple(lines),
        sum(share.net for share in shares)
        + (grouped.net_minor if grouped is not None else 0)
        + sum(sales.net_minor for sales in converted),
        {share.order.order_id: (share.net, per_order[share.order.order_id]) for share in shares},
        per_group,
        per_currency,
    )


def clawback_lines(
    terms: ContractTerms,
    refunds: Sequence[RefundFact],
    billed: Mapping[str, BilledOrder],
) -> tuple[tuple[Line, ...], dict[str, int]]:
    """Negative lines taking back commission billed on orders of earlier periods.

    Each refund is taken back at the rate its order was billed at (commission / base of its
    :class:`BilledOrder`), rounded once; an order's clawbacks stop at the commission billed on it
    less what was already clawed back, in the order the refunds happened.
    """
    room = {
        order_id: max(0, record.commission_minor - record.clawed_back_minor)
        for order_id, record in billed.items()
    }
    lines = []
    taken: dict[str, int] = {}
    for refund in sorted(refunds, key=lambda r: (r.at, r.refund_id)):
        record = billed[refund.order_id]
        billed_rate = (
            Decimal(record.commission_minor) / record.base_minor if record.base_minor else ZERO
        )
        exact = refund.amount_minor * billed_rate
        left = room[refund.order_id]
        limited = exact > left
        if limited:
            exact = Decimal(left)
        limit = (
            message("clawback.limited", left=wording.amount(left, terms.currency))
            if limited
            else None
        )
        if record.currency in (None, terms.currency):
            said = message(
                "clawback",
                refund=refund.refund_id,
                order=refund.order_id,
                amount=wording.amount(refund.amount_minor, terms.currency),
                rate=wording.rate(billed_rate),
                limited=limit,
            )
            line = make_line(
                "clawback",
                said,
                -exact,
                basis=refund.amount_minor,
                rate=billed_rate,
                sources=[refund.key],
            )
        else:
            # A converted order: its refund and base are in its own currency, so the share is
            # taken without a rate; the basis and rate columns (contract currency) stay empty.
            own = record.currency
            said = message(
                "clawback.converted",
                refund=refund.refund_id,
                order=refund.order_id,
                currency=own,
                amount=wording.amount(refund.amount_minor, own),
                base=wording.amount(record.base_minor, own),
                commission=wording.amount(record.commission_minor, terms.currency),
                limited=limit,
            )
            line = make_line("clawback", said, -exact, sources=[refund.key])
        lines.append(line)
        room[refund.order_id] += line.amount_minor
        taken[refund.order_id] = taken.get(refund.order_id, 0) - line.amount_minor
    return tuple(lines), taken
