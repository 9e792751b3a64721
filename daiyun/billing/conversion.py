"""A period's sales in other currencies than the contract's, gathered set-based and converted.

Which currencies a tenant sells in is read from the order book by index seeks (every currency
it ever sold in: a currency without orders in the period adds nothing). Each foreign currency's
orders are then summed like the contract currency's (``orders_sql.channel_sums`` on a selection
in that currency): once over the period and, for daily rates, once per local day of the period (31
small aggregates at most); the few orders refunded in the period are taken one by one, net of
their refunds, as the engine does. The rates come from ``daiyun.platform.rates``; the engine
converts (:mod:`daiyun.billing.engine.fx`).

What finalize records: the converted currencies' orders, as billed by the statement (the same
INSERT ... SELECT as the contract currency's, their commission share split over them), each
marked with its currency in ``detail``. Their ``base_minor`` is in that currency, so a later
refund (in the same currency) takes back its share of the commission billed on the order with no
rate (``service._billed_map``). The orders taken one by one record no commission of their own:
their currency's share is carried by its grouped orders, so a second refund of one of those,
in a later month, takes nothing back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daiyun.billing import engine, orders_sql
from daiyun.billing.base import group, individual
from daiyun.billing.base import late_orders as late_in
from daiyun.billing.engine import fx
from daiyun.billing.engine.commission import share_orders
from daiyun.billing.engine.rules import CONTEXT, ZERO
from daiyun.billing.facts import GroupedOrders, OrderFact, Period, RefundFact, utc_day_bounds
from daiyun.billing.terms import ContractTerms, ForeignSales
from daiyun.core.errors import Problem
from daiyun.platform.orders import service as order_service
from daiyun.platform.rates import service as rates


@dataclass(frozen=True)
class Currency:
    """One foreign currency's orders of a period and what the engine makes of them."""

    currency: str
    selection: orders_sql.Selection  # the period's orders in this currency
    grouped: GroupedOrders  # summed over the period, in this currency's minor units
    grouped_orders: int  # orders summed (excluded channels too): what finalize records
    orders: list[OrderFact]  # the ones taken one by one (refunded in the period)
    conversion: fx.Conversion

    @property
    def billed(self) -> bool:
        """Whether finalizing records its orders: only when they are in the base."""
        return self.conversion.converted is not None


@dataclass(frozen=True)
class ForeignBase:
    currencies: tuple[Currency, ...] = ()
    # Days lacking a rate for late orders of closed periods (currency -> ISO days), which the
    # statement's adjustments leave out: they refuse finalize as the period's own do.
    late_missing: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def engine(self) -> engine.Foreign:
        return engine.Foreign(
            tuple(c.conversion.converted for c in self.currencies if c.conversion.converted),
            tuple(note for c in self.currencies for note in c.conversion.notes),
        )

    @property
    def missing(self) -> dict[str, list[str]]:
        """Currency -> the days (ISO) whose sales lack a rate."""
        found: dict[str, set[str]] = {c: set(days) for c, days in self.late_missing.items()}
        for c in self.currencies:
            found.setdefault(c.currency, set()).update(d.isoformat() for d in c.conversion.missing)
        return {c: sorted(days) for c, days in sorted(found.items()) if days}

    def counted(self) -> dict[str, tuple[int, int, dict[str, Any]]]:
        """The orders of converted currencies finalize records one by one (those refunded in
        the period): marked with their currency; their commission is the currency's share,
        recorded on its grouped orders (the clawback of a foreign order is not converted)."""
        return {
            order.key: (
                0,
                0,
                {
                    "channel": order.channel,
                    "lines": [list(line) for line in order.lines],
                    "currency": item.currency,
                },
            )
            for item in self.currencies
            if item.billed
            for order in item.orders
        }


def gather(
    session: Session,
    terms: ContractTerms,
    period: Period,
    domestic: orders_sql.Selection,
    refunds: Sequence[RefundFact],
    late: Mapping[str, Sequence[OrderFact]] | None = None,
) -> ForeignBase:
    """The period's sales in other currencies, as ``domestic`` selects the contract's (billed
    or not), converted as the contract says; ``refunds`` are the period's refunds. ``late``
    (currency -> orders) adds a closed period's late orders, each taken one by one."""
    by_order: dict[str, list[RefundFact]] = {}
    for refund in refunds:
        by_order.setdefault(refund.order_id, []).append(refund)
    found = []
    for currency in currencies(session, terms):
        selection = replace(domestic, currency=currency)
        extra = (late or {}).get(currency, ())
        item = _currency(session, terms, period, selection, by_order, extra)
        if item is not None:
            found.append(item)
    return ForeignBase(tuple(found))


def late_orders(
    session: Session, terms: ContractTerms, period: Period
) -> dict[str, list[OrderFact]]:
    """A closed period's late orders in other currencies (currency -> orders), when the
    contract converts them."""
    if terms.foreign_sales == ForeignSales.exclude:
        return {}
    found = {c: late_in(session, terms, period, c) for c in currencies(session, terms)}
    return {currency: orders for currency, orders in found.items() if orders}


def currencies(session: Session, terms: ContractTerms) -> list[str]:
    """The currencies other than the contract's that the tenant's orders have ever been in
    (an index seek each: an order paid in the period may have been placed long before it)."""
    return [c for c in order_service.currencies(session) if c != terms.currency]


def _currency(
    session: Session,
    terms: ContractTerms,
    period: Period,
    selection: orders_sql.Selection,
    refunds: Mapping[str, Sequence[RefundFact]],
    late: Sequence[OrderFact] = (),
) -> Currency | None:
    grouped, count, kept = group(selection, orders_sql.channel_sums(session, selection))
    orders = individual(session, selection) + list(late)
    if not count and not orders:
        return None
    days: dict[date, dict[str, tuple[Decimal, int]]] = {}
    totals: dict[date, tuple[Decimal, int]] = {}

    def add(day: date, buckets: Mapping[str, tuple[Any, int]], base: Any, members: int) -> None:
        into = days.setdefault(day, {})
        for kind, (part, number) in buckets.items():
            was = into.get(kind, (ZERO, 0))
            into[kind] = (was[0] + part, was[1] + number)
        was_base, was_orders = totals.get(day, (ZERO, 0))
        totals[day] = (was_base + base, was_orders + members)

    daily = terms.foreign_sales == ForeignSales.daily
    if daily and count:
        day = period.first_day
        while day <= period.last_day:
            within = replace(selection, within=utc_day_bounds(day, terms.time_zone))
            sums, _, members = group(within, orders_sql.channel_sums(session, within))
            if members or sums.buckets:
                add(day, sums.buckets, sums.net_minor, members)
            day += timedelta(days=1)
    elif count:
        add(period.first_day, grouped.buckets, grouped.net_minor, kept)
    kept_orders = [o for o in orders if o.channel not in terms.base.excluded_channels]
    zone = ZoneInfo(terms.time_zone)
    with localcontext(CONTEXT):
        for share in share_orders(terms, kept_orders, refunds):
            day = share.order.at.astimezone(zone).date() if daily else period.first_day
            parts = {kind: (share.parts.get(kind, ZERO), 1) for kind in share.buckets}
            add(day, parts, share.net, 1)
    sales = fx.CurrencySales(
        selection.currency or terms.currency,
        {
            day: fx.DaySales(buckets, totals[day][0], totals[day][1])
            for day, buckets in sorted(days.items())
        },
    )
    found = _rates(session, terms, period, sales)
    conversion = fx.convert(terms, period, sales, found)
    return Currency(sales.currency, selection, grouped, count, orders, conversion)


def _rates(
    session: Session, terms: ContractTerms, period: Period, sales: fx.CurrencySales
) -> dict[date, fx.Rate]:
    if terms.foreign_sales == ForeignSales.exclude:
        return {}
    wanted = {fx.rate_day(terms, period, day) for day, sold in sales.days.items() if sold.base > 0}
    quotes = rates.rates(session, sales.currency, terms.currency, wanted, terms.rate_carry_days)
    return {day: fx.Rate(quote.day, quote.rate, quote.source) for day, quote in quotes.items()}


def refuse_missing(base: ForeignBase) -> None:
    """A statement with sales whose day lacks a rate is not finalized (never a guessed rate)."""
    missing = base.missing
    if not missing:
        return
    named = "; ".join(
        f"{currency} on {fx.days_text([date.fromisoformat(d) for d in days])}"
        for currency, days in missing.items()
    )
    raise Problem(
        409,
        "missing-exchange-rates",
        f"No exchange rate is recorded for sales in {named}: record the rates, regenerate the"
        " draft, then finalize it",
        missing_days=missing,
    )


def bill(
    session: Session,
    base: ForeignBase,
    statement_id: uuid.UUID,
    period: str,
    shares: Mapping[str, Mapping[str, int]],
) -> None:
    """Record the converted currencies' grouped orders as billed by a statement: each line's
    share of a currency split over its orders (in proportion to their base in that currency)."""
    for item in base.currencies:
        if not item.billed:
            continue
        own = shares.get(item.currency, {})
        recorded = orders_sql.bill_grouped_orders(
            session,
            item.selection,
            statement_id,
            period,
            {kind: (own.get(kind, 0), part) for kind, (part, _) in item.grouped.buckets.items()},
            json.dumps({"currency": item.currency}),
        )
        if recorded != item.grouped_orders:
            raise Problem(
                409, "facts-changed", "Orders of the period changed while finalizing: try again"
            )
