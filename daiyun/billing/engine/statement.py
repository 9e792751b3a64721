"""A statement from a period's facts (:func:`compute`); late facts' deltas (:func:`adjustment`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, localcontext
from types import MappingProxyType

from daiyun.billing.engine import wording
from daiyun.billing.engine.commission import clawback_lines, commission_lines, share_orders
from daiyun.billing.engine.fees import (
    ad_lines,
    base_fee_line,
    cap_line,
    minimum_line,
    one_off_lines,
    placement_lines,
    placement_refund_lines,
    target_line,
    vat_line,
    warehousing_lines,
)
from daiyun.billing.engine.rules import CONTEXT, ZERO, Proration, line_rank
from daiyun.billing.engine.wording import Message, english, message
from daiyun.billing.facts import (
    BilledOrder,
    ConvertedSales,
    GroupedOrders,
    Line,
    OrderFact,
    Period,
    RefundFact,
    ServiceFact,
    ServiceKind,
)
from daiyun.billing.terms import ContractTerms

NOTHING_BILLED: Mapping[str, BilledOrder] = MappingProxyType({})


@dataclass(frozen=True)
class PeriodFacts:
    """The facts of one period: what was billed for it, or what arrived after it closed."""

    orders: tuple[OrderFact, ...] = ()
    refunds: tuple[RefundFact, ...] = ()
    services: tuple[ServiceFact, ...] = ()

    def __add__(self, other: PeriodFacts) -> PeriodFacts:
        return PeriodFacts(
            self.orders + other.orders,
            self.refunds + other.refunds,
            self.services + other.services,
        )

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(fact.key for fact in self.all())

    def all(self) -> tuple[OrderFact | RefundFact | ServiceFact, ...]:
        return (*self.orders, *self.refunds, *self.services)


@dataclass(frozen=True)
class Statement:
    """A period's statement: lines in a fixed order, their total, and what to remember of it."""

    period: Period
    currency: str
    lines: tuple[Line, ...]
    total_minor: int  # the sum of the rounded lines, never negative
    credit_carried_forward_minor: int  # credit owed to the merchant after this statement
    # order_id -> (net base, commission) this statement bills on it: the BilledOrder to store.
    # Each commission line is split over its orders by largest remainder, so these add up to
    # the commission lines; the minimum and the cap are contract-level, not attributed to orders.
    order_commissions: dict[str, tuple[int, int]]
    # order_id -> commission clawed back on it by this statement (add to clawed_back_minor).
    clawbacks: dict[str, int]
    # line kind -> the part of its commission on the grouped orders (split by the database).
    group_commissions: Mapping[str, int] = field(default_factory=dict)
    # currency -> line kind -> the part of its commission on that currency's converted sales.
    foreign_commissions: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def billed_orders(self) -> tuple[BilledOrder, ...]:
        """The BilledOrder rows this statement adds once finalized, by order id."""
        return tuple(
            BilledOrder(order_id, base, commission)
            for order_id, (base, commission) in sorted(self.order_commissions.items())
        )


def _check_amounts(key: str, amounts: Iterable[int]) -> None:
    for amount in amounts:
        # bool is an int, float is not money: both are refused.
        if type(amount) is not int:
            raise TypeError(f"{key}: amounts are integer minor units, not {amount!r}")
        if amount < 0:
            raise ValueError(f"{key}: a negative amount ({amount})")


def _check_moment(
    key: str, moment: datetime, bounds: tuple[datetime, datetime], period: Period
) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"{key}: a moment without a time zone")
    if not bounds[0] <= moment < bounds[1]:
        raise ValueError(f"{key} is not in {period}")


def _check_grouped(terms: ContractTerms, grouped: GroupedOrders) -> None:
    """Grouped orders name buckets the contract has, with whole, non-negative sums."""
    commission = terms.commission
    for kind, (base, orders) in grouped.buckets.items():
        _check_amounts(f"grouped {kind}", (base, orders))
        scope, _, name = kind.removeprefix("commission:").partition(":")
        known = kind == "commission" or (
            (scope == "channel" and name in commission.channel_rates)
            or (scope == "category" and name in commission.category_rates)
        )
        if not known or (scope == "channel" and name in terms.base.excluded_channels):
            raise ValueError(f"grouped orders in {kind!r}, a bucket the contract does not have")
        if base and not orders:
            raise ValueError(f"grouped {kind}: a base without orders")
    _check_amounts("grouped orders", (grouped.net_minor,))


def _check(
    terms: ContractTerms, period: Period, facts: PeriodFacts, billed: Mapping[str, BilledOrder]
) -> None:
    """Refuse facts that would bill something twice or outside the period (invariant 3)."""
    seen: set[str] = set()
    for fact in facts.all():
        if fact.key in seen:
            raise ValueError(f"{fact.key} is given twice")
        seen.add(fact.key)
    bounds = period.bounds(terms.time_zone)
    for order in facts.orders:
        _check_moment(order.key, order.at, bounds, period)
        _check_amounts(
            order.key,
            (
                order.total_minor,
                order.shipping_minor,
                order.tax_minor,
                *(a for _, a in order.lines),
            ),
        )
        if order.order_id in billed:
            raise ValueError(f"{order.key} is in {period} and was billed before")
    for refund in facts.refunds:
        _check_moment(refund.key, refund.at, bounds, period)
        _check_amounts(refund.key, (refund.amount_minor,))
    for service in facts.services:
        if not period.first_day <= service.occurred_on <= period.last_day:
            raise ValueError(f"{service.key} is not in {period}")
        _check_amounts(service.key, (service.amount_minor,))
        if not isinstance(service.quantity, Decimal) or service.quantity < 0:
            raise TypeError(f"{service.key}: a quantity is a non-negative Decimal")
    for order_id, record in billed.items():
        if record.order_id != order_id:
            raise ValueError(f"billed[{order_id!r}] is about order {record.order_id!r}")
        _check_amounts(
            f"billed order {order_id}",
            (record.base_minor, record.commission_minor, record.clawed_back_minor),
        )


@dataclass(frozen=True)
class _Priced:
    lines: tuple[Line, ...]  # everything up to and including VAT
    order_commissions: dict[str, tuple[int, int]]
    clawbacks: dict[str, int]
    group_commissions: dict[str, int]
    foreign_commissions: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Foreign:
    """Sales in other currencies: converted into the base, and the lines that say how (or why
    not: a missing rate, a contract that converts none), amount 0, after the commission."""

    converted: tuple[ConvertedSales, ...] = ()
    notes: tuple[Line, ...] = ()


NO_FOREIGN = Foreign()


def _price(
    terms: ContractTerms,
    period: Period,
    facts: PeriodFacts,
    billed: Mapping[str, BilledOrder],
    active_from: date | None,
    active_until: date | None,
    grouped: GroupedOrders | None = None,
    foreign: Foreign = NO_FOREIGN,
) -> _Priced:
    """Every line of the period before credit, in the statement's fixed order."""
    _check(terms, period, facts, billed)
    if grouped is not None:
        _check_grouped(terms, grouped)
    for sales in foreign.converted:
        if sales.currency == terms.currency:
            raise ValueError(f"{sales.currency} sales are in the contract's own currency")
        _check_grouped(terms, GroupedOrders(sales.buckets, sales.net_minor))
    for note in foreign.notes:
        if note.amount_minor or not note.kind.startswith("fx-"):
            raise ValueError(f"{note.kind!r} is not a foreign-sales note")
    proration = Proration.of(period, active_from, active_until)
    # Inputs are put in one canonical order first: shuffled input gives identical lines.
    all_orders = sorted(facts.orders, key=lambda o: o.order_id)
    orders = [o for o in all_orders if o.channel not in terms.base.excluded_channels]
    here = {o.order_id for o in orders}
    dropped = {o.order_id for o in all_orders} - here
    same_period: dict[str, list[RefundFact]] = {}
    earlier: list[RefundFact] = []
    for refund in sorted(facts.refunds, key=lambda r: (r.at, r.refund_id)):
        if refund.order_id in here:
            same_period.setdefault(refund.order_id, []).append(refund)
        elif refund.order_id in billed and refund.order_id not in dropped and terms.clawback:
            earlier.append(refund)
        # Otherwise the order never was in a base (excluded, or not billed): nothing to take back.
    commission = commission_lines(
        terms, share_orders(terms, orders, same_period), grouped, foreign.converted
    )
    clawbacks, taken = clawback_lines(terms, earlier, billed)

    lines: list[Line] = []
    base_fee = base_fee_line(terms, proration)
    if base_fee:
        lines.append(base_fee)
    lines += commission.lines
    lines += foreign.notes
    lines += clawbacks
    committed = sum(line.amount_minor for line in (*commission.lines, *clawbacks))
    minimum = minimum_line(terms, proration, committed)
    if minimum:
        lines.append(minimum)
        committed += minimum.amount_minor
    if terms.cap_applies_to == "total" and base_fee:
        committed += base_fee.amount_minor
    cap = cap_line(terms, proration, committed)
    if cap:
        lines.append(cap)
    target = target_line(terms, proration, commission.base_minor)
    if target:
        lines.append(target)

    by_kind: dict[ServiceKind, list[ServiceFact]] = {}
    for service in sorted(facts.services, key=lambda s: (s.occurred_on, s.fact_id)):
        by_kind.setdefault(service.kind, []).append(service)
    lines += ad_lines(terms, by_kind.get(ServiceKind.ad_spend, []))
    lines += warehousing_lines(terms, proration, by_kind)
    lines += placement_lines(terms, by_kind.get(ServiceKind.placement, []))
    lines += placement_refund_lines(by_kind.get(ServiceKind.placement_refund, []))
    lines += one_off_lines(terms, by_kind.get(ServiceKind.one_off, []))
    vat = vat_line(terms, lines)
    if vat:
        lines.append(vat)
    return _Priced(
        tuple(lines),
        commission.order_commissions,
        taken,
        commission.group_commissions,
        commission.foreign_commissions,
    )


def compute(
    terms: ContractTerms,
    period: Period,
    orders: Sequence[OrderFact],
    refunds: Sequence[RefundFact],
    services: Sequence[ServiceFact],
    *,
    billed: Mapping[str, BilledOrder] = NOTHING_BILLED,
    active_from: date | None = None,
    active_until: date | None = None,
    credit_brought_forward_minor: int = 0,
    adjustments: Sequence[Line] = (),
    grouped: GroupedOrders | None = None,
    foreign: Foreign = NO_FOREIGN,
) -> Statement:
    """The statement of ``period`` under ``terms``: pure, deterministic, exact.

    ``orders``, ``refunds`` and ``services`` are the facts of the period (the caller selects them
    by the contract's base date and order statuses); ``billed`` is what finalized statements of
    earlier periods billed per order, for clawbacks; ``active_from`` / ``active_until`` (inclusive)
    prorate a partial month; ``credit_brought_forward_minor`` is credit from earlier negative
    statements; ``adjustments`` are lines from :func:`adjustment` for closed periods, which carry
    their own VAT delta and are added after VAT, before credit; ``grouped`` are orders of the
    period summed by the database (:class:`GroupedOrders`, never also in ``orders``);
    ``foreign`` the period's sales in other currencies, converted (:class:`Foreign`). Raises
    ``ValueError`` (or ``TypeError``) for facts outside the period, a fact given twice, an order
    of the period that was billed before, negative or non-integer amounts.
    """
    if type(credit_brought_forward_minor) is not int or credit_brought_forward_minor < 0:
        raise ValueError("credit brought forward is a non-negative integer amount")
    for line in adjustments:
        if line.adjusts_period is None or not line.kind.startswith("adjustment:"):
            raise ValueError(f"{line.kind!r} is not an adjustment line")
    with localcontext(CONTEXT):
        priced = _price(
            terms,
            period,
            PeriodFacts(tuple(orders), tuple(refunds), tuple(services)),
            billed,
            active_from,
            active_until,
            grouped,
            foreign,
        )
    lines = [*priced.lines, *adjustments]
    net = sum(line.amount_minor for line in lines)
    credit = credit_brought_forward_minor
    currency = terms.currency
    if net > 0 and credit > 0:
        used = min(credit, net)
        said = message(
            "credit.applied",
            credit=wording.amount(credit, currency),
            used=wording.amount(used, currency),
        )
        lines.append(
            Line(
                kind="credit:applied",
                description=english(said),
                amount_minor=-used,
                basis_minor=credit,
                exact=Decimal(-used),
                message=said,
            )
        )
        credit -= used
    elif net < 0:
        # Never a negative invoice: the statement closes at zero and the merchant keeps a credit.
        said = message("credit.carried_forward", net=wording.amount(-net, currency))
        lines.append(
            Line(
                kind="credit:carried_forward",
                description=english(said),
                amount_minor=-net,
                basis_minor=-net,
                exact=Decimal(-net),
                message=said,
            )
        )
        credit += -net
    return Statement(
        period=period,
        currency=currency,
        lines=tuple(lines),
        total_minor=sum(line.amount_minor for line in lines),
        credit_carried_forward_minor=credit,
        order_commissions=priced.order_commissions,
        clawbacks=priced.clawbacks,
        group_commissions=priced.group_commissions,
        foreign_commissions=priced.foreign_commissions,
    )


def adjustment(
    terms: ContractTerms,
    original: Period,
    orders: Sequence[OrderFact],
    refunds: Sequence[RefundFact],
    services: Sequence[ServiceFact],
    late_orders: Sequence[OrderFact] = (),
    late_refunds: Sequence[RefundFact] = (),
    late_services: Sequence[ServiceFact] = (),
    *,
    billed_before: Mapping[str, BilledOrder] = NOTHING_BILLED,
    active_from: date | None = None,
    active_until: date | None = None,
    grouped: GroupedOrders | None = None,
    foreign: Foreign = NO_FOREIGN,
    late_foreign: Foreign | None = None,
    late_foreign_keys: frozenset[str] = frozenset(),
) -> tuple[Line, ...]:
    """Delta lines for facts of a closed period that arrived after it was finalized.

    ``orders``, ``refunds`` and ``services`` are the facts the closed period's statement billed
    (the same inputs as then), ``late_*`` the facts that arrived since. The period is recomputed
    without and with the late facts, with the ``billed_before`` it was billed with (what
    statements before it billed per order), so tiers are placed on its cumulative base. For every
    line kind whose amount changed, one line carries the difference: kind ``adjustment:<kind>``,
    ``adjusts_period=str(original)``, sources the late facts behind it (all late facts for lines
    computed from other lines, such as the minimum or VAT). Credit lines are not part of the
    delta: credit is settled where the adjustment is posted. The lines go to the next open
    period's :func:`compute` as ``adjustments``. ``grouped`` are billed orders of the closed
    period summed by the database, counted both without and with the late facts, as are its
    ``foreign`` converted sales (only their conversion, not their notes, matters to a delta).
    ``late_foreign``, when given, is ``foreign`` with late orders in other currencies added (their
    keys ``late_foreign_keys``): the period with the late facts is priced on it, and its notes of
    days lacking a rate come along as ``adjustment:fx-missing`` lines of amount 0.
    """
    counted = PeriodFacts(tuple(orders), tuple(refunds), tuple(services))
    late = PeriodFacts(tuple(late_orders), tuple(late_refunds), tuple(late_services))
    with localcontext(CONTEXT):
        base = Foreign(foreign.converted)
        before = _price(
            terms, original, counted, billed_before, active_from, active_until, grouped, base
        ).lines
        now_base = base if late_foreign is None else Foreign(late_foreign.converted)
        after = _price(
            terms,
            original,
            counted + late,
            billed_before,
            active_from,
            active_until,
            grouped,
            now_base,
        ).lines
        late_keys = late.keys | late_foreign_keys
        currency = terms.currency
        deltas = []
        seen = list(dict.fromkeys([line.kind for line in (*after, *before)]))
        for kind in sorted(seen, key=lambda k: (line_rank(k), seen.index(k))):
            now = [line for line in after if line.kind == kind]
            was = [line for line in before if line.kind == kind]
            now_amount = sum(line.amount_minor for line in now)
            was_amount = sum(line.amount_minor for line in was)
            if now_amount == was_amount:
                continue
            behind = late_keys & {key for line in (*now, *was) for key in line.sources}
            said = _adjusted(original, kind, currency, was_amount, now_amount, now)
            deltas.append(
                Line(
                    kind=f"adjustment:{kind}",
                    description=english(said),
                    amount_minor=now_amount - was_amount,
                    basis_minor=sum(line.basis_minor for line in now)
                    - sum(line.basis_minor for line in was),
                    rate=now[0].rate if len(now) == 1 else None,
                    sources=tuple(sorted(behind or late_keys)),
                    adjusts_period=str(original),
                    exact=sum((line.exact for line in now), ZERO)
                    - sum((line.exact for line in was), ZERO),
                    message=said,
                )
            )
        for note in late_foreign.notes if late_foreign is not None else ():
            if note.kind == "fx-missing":
                deltas.append(
                    replace(
                        note,
                        kind="adjustment:fx-missing",
                        sources=tuple(sorted(late_foreign_keys)),
                        adjusts_period=str(original),
                    )
                )
    return tuple(deltas)


def _adjusted(
    original: Period, kind: str, currency: str, was: int, now: int, lines: Sequence[Line]
) -> Message:
    """What an adjustment line says: the kind's amount then and now, and what a single line of
    that kind says now."""
    detail = None
    if len(lines) == 1:
        line = lines[0]
        detail = message("adjustment.detail", line=line.message or line.description)
    return message(
        "adjustment",
        period={"month": str(original)},
        kind={"kind": kind},
        was=wording.amount(was, currency),
        now=wording.amount(now, currency),
        detail=detail,
    )
