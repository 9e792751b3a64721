"""The lines around the commission: base fee, minimum, cap, target, services, VAT.

Lines computed from other lines (the minimum true-up, the cap, the warehousing minimum) use those
lines' rounded amounts, as printed on the statement, so a reader can check them: the minimum or
cap is rounded once and the line is its difference to the printed lines it applies to. Their
``exact`` (the VAT base) is that difference before rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from daiyun.billing.engine import wording
from daiyun.billing.engine.rules import ZERO, Proration, make_line, round_minor
from daiyun.billing.engine.wording import message
from daiyun.billing.facts import Line, ServiceFact, ServiceKind
from daiyun.billing.terms import ContractTerms, Placement, Warehousing

# Pass-through ad spend is the merchant's own cost, not the agency's fee: it carries no VAT.
UNTAXED_KINDS = frozenset({"ad_spend"})


def base_fee_line(terms: ContractTerms, proration: Proration) -> Line | None:
    """The monthly base fee (基础服务费), prorated by day for a partial month."""
    if not terms.base_fee_minor:
        return None
    return make_line(
        "base_fee",
        message(
            "base_fee",
            fee=wording.amount(terms.base_fee_minor, terms.currency),
            period={"month": str(proration.period)},
            prorated=proration.note(),
        ),
        proration.apply(terms.base_fee_minor),
        basis=terms.base_fee_minor,
    )


def minimum_line(terms: ContractTerms, proration: Proration, committed: int) -> Line | None:
    """保底 true-up: max(0, prorated minimum − commission after clawbacks)."""
    if terms.minimum_minor is None:
        return None
    floor = proration.apply(terms.minimum_minor)
    amount = round_minor(floor) - committed
    if amount <= 0:
        return None
    currency = terms.currency
    return make_line(
        "minimum",
        message(
            "minimum",
            minimum=wording.amount(terms.minimum_minor, currency),
            prorated=proration.note(),
            committed=wording.amount(committed, currency),
        ),
        floor - committed,
        amount=amount,
        basis=round_minor(floor),
    )


def cap_line(terms: ContractTerms, proration: Proration, capped: int) -> Line | None:
    """The cap, prorated like the minimum so it never falls below it: a negative line."""
    if terms.cap_minor is None:
        return None
    ceiling = proration.apply(terms.cap_minor)
    amount = round_minor(ceiling) - capped
    if amount >= 0:
        return None
    currency = terms.currency
    return make_line(
        "cap",
        message(
            "cap.commission" if terms.cap_applies_to == "commission" else "cap.total",
            capped=wording.amount(capped, currency),
            cap=wording.amount(terms.cap_minor, currency),
            prorated=proration.note(),
        ),
        ceiling - capped,
        amount=amount,
        basis=round_minor(ceiling),
    )


def target_line(terms: ContractTerms, proration: Proration, base: int) -> Line | None:
    """对赌: a bonus on the base above the (prorated) target, or the fee refund when missed."""
    target = terms.target
    if target is None:
        return None
    goal = proration.apply(target.base_minor)
    currency = terms.currency
    if base > goal and target.bonus_rate > 0:
        return make_line(
            "target:bonus",
            message(
                "target.bonus",
                rate=wording.rate(target.bonus_rate),
                base=wording.amount(base, currency),
                target=wording.amount(target.base_minor, currency),
                prorated=proration.note(),
            ),
            (base - goal) * target.bonus_rate,
            basis=round_minor(base - goal),
            rate=target.bonus_rate,
        )
    if base < goal and target.missed_refund_minor > 0:
        return make_line(
            "target:refund",
            message(
                "target.refund",
                base=wording.amount(base, currency),
                target=wording.amount(target.base_minor, currency),
                refund=wording.amount(target.missed_refund_minor, currency),
                prorated=proration.note(),
            ),
            -proration.apply(target.missed_refund_minor),
            basis=target.missed_refund_minor,
        )
    return None


def ad_lines(terms: ContractTerms, facts: Sequence[ServiceFact]) -> list[Line]:
    """Ad spend at cost (untaxed pass-through) and, on its own line, the agency's markup."""
    if not facts:
        return []
    spend = sum(fact.amount_minor for fact in facts)
    keys = [fact.key for fact in facts]
    days = Decimal(len(facts))
    lines = [
        make_line(
            "ad_spend",
            message("ad_spend", entries=len(facts)),
            Decimal(spend),
            basis=spend,
            quantity=days,
            sources=keys,
        )
    ]
    if terms.ad_markup_rate > 0:
        lines.append(
            make_line(
                "ad_markup",
                message(
                    "ad_markup",
                    rate=wording.rate(terms.ad_markup_rate),
                    spend=wording.amount(spend, terms.currency),
                ),
                spend * terms.ad_markup_rate,
                basis=spend,
                rate=terms.ad_markup_rate,
                sources=keys,
            )
        )
    return lines


# (fact kind, line kind and its message, unit price); storage is priced per pallet-month, by
# the day.
_WAREHOUSING: tuple[tuple[ServiceKind, str, Callable[[Warehousing], int]], ...] = (
    (ServiceKind.orders_shipped, "orders_shipped", lambda w: w.per_order_shipped_minor),
    (ServiceKind.picks, "picks", lambda w: w.per_pick_minor),
    (ServiceKind.returns, "returns", lambda w: w.per_return_minor),
    (ServiceKind.pallet_days, "storage", lambda w: w.per_pallet_month_minor),
    (ServiceKind.receiving_pallets, "receiving", lambda w: w.per_receiving_pallet_minor),
)


def warehousing_lines(
    terms: ContractTerms,
    proration: Proration,
    facts: dict[ServiceKind, list[ServiceFact]],
) -> list[Line]:
    """Warehousing fees by activity, then the true-up to the (prorated) monthly minimum."""
    currency = terms.currency
    days = proration.period.days
    lines = []
    for fact_kind, name, price_of in _WAREHOUSING:
        group = facts.get(fact_kind, [])
        if not group:
            continue
        price = price_of(terms.warehousing)
        quantity = sum((fact.quantity for fact in group), ZERO)
        if fact_kind == ServiceKind.pallet_days:
            exact = price * quantity / days
        else:
            exact = price * quantity
        lines.append(
            make_line(
                f"warehousing:{name}",
                message(
                    f"warehousing.{name}",
                    quantity=wording.decimal(quantity.normalize()),
                    price=wording.amount(price, currency),
                    **({"days": days} if fact_kind == ServiceKind.pallet_days else {}),
                ),
                exact,
                basis=price,
                quantity=quantity,
                sources=[fact.key for fact in group],
            )
        )
    minimum = terms.warehousing.monthly_minimum_minor
    if minimum:
        floor = proration.apply(minimum)
        billed = sum(line.amount_minor for line in lines)
        amount = round_minor(floor) - billed
        if amount > 0:
            lines.append(
                make_line(
                    "warehousing:minimum",
                    message(
                        "warehousing.minimum",
                        minimum=wording.amount(minimum, currency),
                        prorated=proration.note(),
                        billed=wording.amount(billed, currency),
                    ),
                    floor - billed,
                    amount=amount,
                    basis=round_minor(floor),
                )
            )
    return lines


def placement_fee(placement: Placement, salary_minor: int) -> Decimal:
    """A hire's fee before rounding: the fixed part plus the rate times the first-year salary."""
    return placement.fixed_minor + salary_minor * placement.salary_rate


def placement_lines(terms: ContractTerms, facts: Sequence[ServiceFact]) -> list[Line]:
    """One line per hire: the fixed fee plus the salary rate times the first-year salary."""
    placement = terms.placement
    currency = terms.currency
    lines = []
    for fact in facts:
        parts = []
        if placement.fixed_minor:
            parts.append(
                message("placement.fixed", fee=wording.amount(placement.fixed_minor, currency))
            )
        if placement.salary_rate:
            parts.append(
                message(
                    "placement.salary",
                    rate=wording.rate(placement.salary_rate),
                    salary=wording.amount(fact.amount_minor, currency),
                )
            )
        lines.append(
            make_line(
                "placement",
                message(
                    "placement",
                    hire=fact.description or fact.fact_id,
                    terms=wording.joined(parts, "plus") if parts else message("placement.none"),
                ),
                placement_fee(placement, fact.amount_minor),
                basis=fact.amount_minor,
                rate=placement.salary_rate,
                sources=[fact.key],
            )
        )
    return lines


def placement_refund_lines(facts: Sequence[ServiceFact]) -> list[Line]:
    """One negative line per refunded fee: the fact carries the fee as it was billed (worked out
    under the version in force when the hire started), so a later contract change does not move
    it."""
    return [
        make_line(
            "placement",
            message("placement.refund", hire=fact.description or fact.fact_id),
            -Decimal(fact.amount_minor),
            basis=fact.amount_minor,
            sources=[fact.key],
        )
        for fact in facts
    ]


def one_off_lines(terms: ContractTerms, facts: Sequence[ServiceFact]) -> list[Line]:
    """One line per one-off fee (setup, shop build, photography), at its own amount."""
    return [
        make_line(
            "one_off",
            message("one_off", description=fact.description, fact=fact.fact_id)
            if fact.description
            else message("one_off.unnamed", fact=fact.fact_id),
            Decimal(fact.amount_minor),
            basis=fact.amount_minor,
            sources=[fact.key],
        )
        for fact in facts
    ]


def vat_line(terms: ContractTerms, lines: Sequence[Line]) -> Line | None:
    """VAT once, on the sum of the unrounded amounts of every taxable line, rounded half-up."""
    if terms.vat_rate <= 0:
        return None
    taxable = [line for line in lines if line.kind not in UNTAXED_KINDS]
    if not taxable:
        return None
    base = sum((line.exact for line in taxable), ZERO)
    return make_line(
        "vat",
        message(
            "vat",
            rate=wording.rate(terms.vat_rate),
            base=wording.amount(round_minor(base), terms.currency),
        ),
        base * terms.vat_rate,
        basis=round_minor(base),
        rate=terms.vat_rate,
    )
