"""The facts a statement is computed from, as the engine sees them (no database here).

Every fact has a stable ``key`` (``order:<id>``, ``refund:<id>``, ``service:<id>``): a statement
line lists the keys behind it, and a key is billed at most once across all statements.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month in the contract's time zone (``2026-10``)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        try:
            year, month = (int(part) for part in text.split("-"))
        except ValueError as exc:
            raise ValueError(f"a period is YYYY-MM, not {text!r}") from exc
        if not (1 <= month <= 12 and 2000 <= year <= 2999):
            raise ValueError(f"a period is YYYY-MM, not {text!r}")
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def bounds(self, time_zone: str) -> tuple[datetime, datetime]:
        """[start, end) of the month in ``time_zone``, as UTC datetimes."""
        zone = ZoneInfo(time_zone)
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        nxt = self.next()
        end = datetime(nxt.year, nxt.month, 1, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    @classmethod
    def containing(cls, moment: datetime, time_zone: str) -> Period:
        local = moment.astimezone(ZoneInfo(time_zone))
        return cls(local.year, local.month)


@dataclass(frozen=True)
class OrderFact:
    """An order in the commission base, placed in a period by the contract's date."""

    order_id: str
    channel: str
    at: datetime  # the moment that places it in a period (paid or placed), UTC
    total_minor: int
    shipping_minor: int = 0
    tax_minor: int = 0
    # (sku, line total in minor units) for category rates and SKU exclusions.
    lines: tuple[tuple[str, int], ...] = ()

    @property
    def key(self) -> str:
        return f"order:{self.order_id}"


@dataclass(frozen=True)
class RefundFact:
    """Money returned on an order, counted in the period it happened."""

    refund_id: str
    order_id: str
    channel: str
    at: datetime
    amount_minor: int

    @property
    def key(self) -> str:
        return f"refund:{self.refund_id}"


class ServiceKind(StrEnum):
    ad_spend = "ad_spend"  # amount: what the agency spent for the merchant
    pallet_days = "pallet_days"  # quantity: pallets x days stored
    picks = "picks"
    orders_shipped = "orders_shipped"
    returns = "returns"
    receiving_pallets = "receiving_pallets"
    placement = "placement"  # amount: the hire's first-year salary (0 for a fixed fee)
    # amount: the placement fee given back, a hire who left within the guarantee (a negative line)
    placement_refund = "placement_refund"
    one_off = "one_off"  # amount: the fee itself (setup, shop build, photography)


@dataclass(frozen=True)
class ServiceFact:
    """Work that is not an order: ad spend, storage, picks, placements, one-off fees."""

    fact_id: str
    kind: ServiceKind
    occurred_on: date
    quantity: Decimal = Decimal("1")
    amount_minor: int = 0
    description: str = ""

    @property
    def key(self) -> str:
        return f"service:{self.fact_id}"


@dataclass(frozen=True)
class GroupedOrders:
    """Orders of a period summed in the database instead of listed one by one.

    These are the orders whose split over rate buckets is in whole minor units (no refund in the
    period, no category share scaled down to the base): per bucket (the line kind,
    ``commission``, ``commission:channel:<name>`` or ``commission:category:<name>``) the sum of
    their parts and the number of orders the line lists (a positive part, or nothing to bill at
    all on the default line). ``net_minor`` is their whole base, each order once. The caller
    keeps these orders apart from the :class:`OrderFact` given with them; the lines name them by
    a selector (``orders:<kind>``) instead of their keys.
    """

    buckets: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (base, orders)
    net_minor: int = 0

    def __add__(self, other: GroupedOrders) -> GroupedOrders:
        buckets = dict(self.buckets)
        for kind, (base, orders) in other.buckets.items():
            was = buckets.get(kind, (0, 0))
            buckets[kind] = (was[0] + base, was[1] + orders)
        return GroupedOrders(buckets, self.net_minor + other.net_minor)


@dataclass(frozen=True)
class ConvertedSales:
    """One foreign currency's sales of a period, converted into the contract's currency.

    Per bucket (as in :class:`GroupedOrders`) the converted base in the contract's minor units
    and the number of orders; the bases add up to ``net_minor``, the currency's whole converted
    base, rounded once (:mod:`daiyun.billing.engine.fx`). The commission lines add these bases
    and take one share each of their split, per currency (``Statement.foreign_commissions``).
    """

    currency: str
    buckets: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    net_minor: int = 0


def selector(kind: str) -> str:
    """The source that stands for the grouped orders of a commission line (drill-down)."""
    return f"{ORDERS_SELECTOR}{kind}"


ORDERS_SELECTOR = "orders:"


@dataclass(frozen=True)
class BilledOrder:
    """What a finalized statement billed on one order: the clawback limit of its refunds."""

    order_id: str
    base_minor: int
    commission_minor: int
    clawed_back_minor: int = 0
    # The order's currency when it was converted (its base is in that currency's minor units,
    # its commission in the contract's); None for an order in the contract's currency.
    currency: str | None = None


@dataclass(frozen=True)
class Line:
    """One statement line: what, on which basis, at which rate, how much, from which facts."""

    kind: str
    description: str
    amount_minor: int
    basis_minor: int = 0
    quantity: Decimal = Decimal("1")
    rate: Decimal | None = None
    sources: tuple[str, ...] = ()
    adjusts_period: str | None = None
    # The unrounded amount, kept for VAT computed once from unrounded bases.
    exact: Decimal = field(default=Decimal("0"), compare=False)
    # What ``description`` says as a message key and its values (``engine.wording``), so a
    # reader can have it in their own language; None for lines written before it was kept.
    message: Mapping[str, Any] | None = field(default=None, compare=False)


def utc_day_bounds(day: date, time_zone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(time_zone)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)
