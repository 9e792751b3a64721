"""Daily sales rollups and the dashboard figures (经营看板) read from them.

**Buckets.** A rollup bucket is one shop on one calendar day in the tenant's time zone
(``Tenant.time_zone``); an order lives in the bucket of the day it was placed, and its payment,
refunds and cancellation all count there (a cohort by placement day, so the figures of a period
equal those of the orders the order API lists for it). A bucket is always recomputed whole from
the current orders, never incremented, so a duplicate or late event only repeats the same work.
After a change of the tenant's time zone, run ``daiyun rollups rebuild``.

**Figures** (money in integer minor units of one currency; a dashboard shows one currency):

* orders placed: every order placed in the period, whatever its status;
* paid orders: orders whose normalized status is anything but ``pending`` or ``cancelled``
  (:data:`PAID_STATUSES`; held, shipped, refunded... orders were paid);
* GMV: the sum of ``total_minor`` of paid orders, refunds not deducted;
* items sold: the sum of ``item_count`` of paid orders;
* refunded amount / refunded orders: ``refunded_minor`` of paid orders, and how many have any;
* AOV (客单价): GMV / paid orders, rounded half up to a minor unit;
* items per order (连带率): items sold / paid orders, to 2 decimals, half up;
* refund rate (退款率): refunded amount / GMV, a fraction to 4 decimals, half up;
* change: (this period - previous period) / previous period, a fraction to 4 decimals (None when
  the previous figure is zero or missing); for the refund rate, the difference of the two rates.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core.errors import Problem
from daiyun.core.events.models import OutboxEvent
from daiyun.core.ids import new_id, utcnow
from daiyun.core.tenancy import TenantContextMissing, current_tenant
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NOT_PAID, OrderStatus
from daiyun.platform.reports import currencies, repository
from daiyun.platform.reports.currencies import ConvertedTotal
from daiyun.tenants.models import Tenant

PAID_STATUSES: frozenset[OrderStatus] = frozenset(OrderStatus) - set(NOT_PAID)
# The longest period a dashboard covers (two years and a day): a bound, not a business rule.
MAX_DAYS = 731
TOP_PRODUCTS = 10

_CENT = Decimal("0.01")
_RATE = Decimal("0.0001")


# --- days in the tenant's time zone ----------------------------------------------------------


def zone_of(tenant: Tenant) -> ZoneInfo:
    try:
        return ZoneInfo(tenant.time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Problem(
            422, "bad-time-zone", f"The tenant's time zone {tenant.time_zone!r} is unknown"
        ) from exc


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day, in ``zone``, of an aware moment."""
    return moment.astimezone(zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC range ``[start, end)`` of a local day (23 or 25 hours long across DST)."""
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


def _bound_tenant(session: Session) -> Tenant:
    tenant_id = current_tenant(session)
    if tenant_id is None:
        raise TenantContextMissing("rollups are computed for a bound tenant")
    tenant = repository.tenant(session, tenant_id)
    if tenant is None:
        raise Problem(404, "not-found", "No such tenant")
    return tenant


# --- keeping the rollups current -------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Bucket:
    """One shop on one local day: the unit the rollups are recomputed in."""

    shop_id: uuid.UUID
    day: date


def bucket_of(session: Session, shop_id: uuid.UUID, placed_at: datetime) -> Bucket:
    """The bucket of an order of the bound tenant placed at ``placed_at``."""
    return Bucket(shop_id, local_day(placed_at, zone_of(_bound_tenant(session))))


def refresh(
    session: Session, order_ids: Iterable[uuid.UUID] = (), buckets: Iterable[Bucket] = ()
) -> list[Bucket]:
    """Recompute the buckets of these orders (where they are now) and the given buckets.

    Idempotent: each bucket is rebuilt from the current orders, so running it twice, or for an
    old event after a newer one, leaves the same rows. Returns the buckets recomputed.
    """
    zone = zone_of(_bound_tenant(session))
    wanted = set(buckets)
    for shop_id, placed_at in order_service.placements(session, order_ids):
        wanted.add(Bucket(shop_id, local_day(placed_at, zone)))
    by_day: dict[date, set[uuid.UUID]] = defaultdict(set)
    for bucket in wanted:
        by_day[bucket.day].add(bucket.shop_id)
    for day in sorted(by_day):
        _recompute_day(session, day, zone, by_day[day])
    session.flush()
    return sorted(wanted)


# --- counting the order events as they arrive -----------------------------------------------
#
# Every order change writes an outbox event; the relay publishes them and a worker delivers each
# to ``tasks.refresh_for_order_event``. During a backfill that is thousands of events, each of
# which recomputed a whole (shop, day) bucket on its own, and none was delivered while the one
# worker of the embedded broker (``daiyun serve``) ran the backfill itself: the dashboard showed
# 2 orders while the API had 147. Now one delivery counts every event still waiting (each bucket
# once), and the dashboard counts what is waiting before it reads, so it never trails the order
# book it links to.

ORDER_TOPICS = ("order.created", "order.updated", "order.cancelled", "order.refunded")
# The name ``subscribe`` marks the rollups' handler with (tasks.py checks it is this one).
ROLLUP_HANDLER = "daiyun.platform.reports.tasks.refresh_for_order_event"
# Events one catch-up counts: a bound on one transaction's work, not on how far behind it may be.
CATCH_UP_BATCH = 2000


def _event_targets(
    session: Session, events: Iterable[OutboxEvent]
) -> tuple[set[uuid.UUID], set[Bucket]]:
    """The orders (where they are now) and buckets (where each was when the event was written)
    that events touch."""
    zone = zone_of(_bound_tenant(session))
    order_ids: set[uuid.UUID] = set()
    buckets: set[Bucket] = set()
    for event in events:
        payload = event.payload
        if payload.get("order_id"):
            order_ids.add(uuid.UUID(payload["order_id"]))
        if payload.get("shop_id") and payload.get("placed_at"):
            placed_at = datetime.fromisoformat(payload["placed_at"])
            buckets.add(Bucket(uuid.UUID(payload["shop_id"]), local_day(placed_at, zone)))
    return order_ids, buckets


def count_order_events(session: Session, current: OutboxEvent | None = None) -> int:
    """Recompute the buckets of ``current`` and of the bound tenant's other order events the
    rollups have not counted yet (up to :data:`CATCH_UP_BATCH`, oldest first), and mark those
    others counted. Returns how many events were counted.

    ``current`` is the event being delivered: its delivery marks it itself. Recomputing is
    idempotent, so an event counted twice (two catch-ups racing) changes nothing; the second
    mark of the same event fails its unique key and that transaction is retried.
    """
    waiting = repository.claim_uncounted(session, ORDER_TOPICS, ROLLUP_HANDLER, CATCH_UP_BATCH)
    others = [event for event in waiting if current is None or event.id != current.id]
    events = [*others, *([current] if current is not None else [])]
    if not events:
        return 0
    order_ids, buckets = _event_targets(session, events)
    refresh(session, order_ids=order_ids, buckets=buckets)
    repository.mark_counted(session, (event.id for event in others), ROLLUP_HANDLER)
    session.flush()
    return len(events)


@dataclass(frozen=True)
class Freshness:
    """How current the rollups are: when one was last recomputed, and how many order changes
    they have not counted yet (0 when they count the whole order book)."""

    as_of: datetime | None
    waiting: int


def catch_up(session: Session) -> Freshness:
    """Count the bound tenant's waiting order events before the rollups are read (a dashboard).

    The work runs in a savepoint: if a concurrent delivery is counting the same events (a
    unique mark taken first, a lock not granted), this reader's part is undone and it reads the
    rollups as they are, saying how many changes they still lack; the worker counts those.
    """
    try:
        with session.begin_nested():
            count_order_events(session)
    except (IntegrityError, OperationalError):
        pass
    return Freshness(
        repository.last_computed(session),
        repository.count_uncounted(session, ORDER_TOPICS, ROLLUP_HANDLER),
    )


@dataclass(frozen=True)
class RebuildResult:
    days: int
    sales_rows: int
    product_rows: int


def rebuild(session: Session, tenant: Tenant) -> RebuildResult:
    """Drop and recompute every rollup of the tenant (bound to the session) from its orders."""
    if current_tenant(session) != tenant.id:
        raise TenantContextMissing("rebuild the rollups of the tenant bound to the session")
    zone = zone_of(tenant)
    repository.delete_all(session)
    first, last = order_service.placed_span(session)
    result = RebuildResult(0, 0, 0)
    if first is None or last is None:
        session.flush()
        return result
    day, end = local_day(first, zone), local_day(last, zone)
    days = sales = products = 0
    while day <= end:
        counts = _recompute_day(session, day, zone, None, clear=False)
        days, sales, products = days + 1, sales + counts[0], products + counts[1]
        day += timedelta(days=1)
    session.flush()
    return RebuildResult(days, sales, products)


def _recompute_day(
    session: Session,
    day: date,
    zone: ZoneInfo,
    shop_ids: set[uuid.UUID] | None,
    *,
    clear: bool = True,
) -> tuple[int, int]:
    """Replace the rollups of one day for these shops (or all) with fresh aggregates."""
    start, end = day_bounds(day, zone)
    if clear:
        repository.delete_buckets(session, day, shop_ids)
    tenant_id = current_tenant(session)
    now = utcnow()
    sales = [
        {
            **row,
            "tenant_id": tenant_id,
            "id": new_id(),
            "day": day,
            "computed_at": now,
            **{k: int(row[k] or 0) for k in _SALES_SUMS},
        }
        for row in order_service.sales_by_shop(session, start, end, shop_ids)
    ]
    products = [
        {
            **row,
            "tenant_id": tenant_id,
            "id": new_id(),
            "day": day,
            "computed_at": now,
            "quantity": int(row["quantity"] or 0),
            "revenue_minor": int(row["revenue_minor"] or 0),
            "orders": int(row["orders"] or 0),
            "returned_units": int(row["returned_units"] or 0),
        }
        for row in order_service.sales_by_product(session, start, end, shop_ids)
    ]
    repository.insert_sales(session, sales)
    repository.insert_products(session, products)
    return len(sales), len(products)


_SALES_SUMS = (
    "orders",
    "paid_orders",
    "gmv_minor",
    "items_sold",
    "refunded_minor",
    "refunded_orders",
)


# --- the dashboard ---------------------------------------------------------------------------


def _half_up(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    """The figures of a set of orders in one currency (see the module docstring)."""

    orders: int = 0
    paid_orders: int = 0
    gmv_minor: int = 0
    items_sold: int = 0
    refunded_minor: int = 0
    refunded_orders: int = 0
    aov_minor: int | None = None
    items_per_order: Decimal | None = None
    refund_rate: Decimal | None = None

    @classmethod
    def of(
        cls,
        orders: int,
        paid_orders: int,
        gmv_minor: int,
        items_sold: int,
        refunded_minor: int,
        refunded_orders: int,
    ) -> Figures:
        """The figures with their ratios derived (None where the divisor is zero)."""
        aov = items = rate = None
        if paid_orders:
            aov = int(_half_up(Decimal(gmv_minor) / paid_orders, Decimal(1)))
            items = _half_up(Decimal(items_sold) / paid_orders, _CENT)
        if gmv_minor:
            rate = _half_up(Decimal(refunded_minor) / gmv_minor, _RATE)
        return cls(
            orders,
            paid_orders,
            gmv_minor,
            items_sold,
            refunded_minor,
            refunded_orders,
            aov,
            items,
            rate,
        )


@dataclass
class _Sums:
    orders: int = 0
    paid_orders: int = 0
    gmv_minor: int = 0
    items_sold: int = 0
    refunded_minor: int = 0
    refunded_orders: int = 0

    def add(self, row: repository.SalesRow) -> None:
        self.orders += row.orders
        self.paid_orders += row.paid_orders
        self.gmv_minor += row.gmv_minor
        self.items_sold += row.items_sold
        self.refunded_minor += row.refunded_minor
        self.refunded_orders += row.refunded_orders

    def figures(self) -> Figures:
        return Figures.of(
            self.orders,
            self.paid_orders,
            self.gmv_minor,
            self.items_sold,
            self.refunded_minor,
            self.refunded_orders,
        )


def _relative(now: int | Decimal | None, before: int | Decimal | None) -> Decimal | None:
    if now is None or not before:
        return None
    return _half_up((Decimal(now) - Decimal(before)) / Decimal(before), _RATE)


@dataclass(frozen=True)
class Change:
    """This period against the previous one: relative changes as fractions (0.125 = +12.5 %),
    None where the previous figure is zero or missing; the refund rate as a difference."""

    gmv: Decimal | None
    paid_orders: Decimal | None
    aov: Decimal | None
    items_per_order: Decimal | None
    refund_rate_points: Decimal | None

    @classmethod
    def between(cls, now: Figures, before: Figures) -> Change:
        points = None
        if now.refund_rate is not None and before.refund_rate is not None:
            points = now.refund_rate - before.refund_rate
        return cls(
            gmv=_relative(now.gmv_minor, before.gmv_minor),
            paid_orders=_relative(now.paid_orders, before.paid_orders),
            aov=_relative(now.aov_minor, before.aov_minor),
            items_per_order=_relative(now.items_per_order, before.items_per_order),
            refund_rate_points=points,
        )


@dataclass(frozen=True)
class DayRange:
    """Calendar days ``start`` to ``end``, both included, in the tenant's time zone."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DayRange:
        """The period of equal length that ends the day before this one starts."""
        return DayRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def each(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]


@dataclass(frozen=True)
class DayFigures:
    day: date
    figures: Figures


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    figures: Figures


@dataclass(frozen=True)
class ShopFigures:
    shop_id: uuid.UUID
    shop_name: str
    channel: str
    figures: Figures


@dataclass(frozen=True)
class ProductFigures:
    """A best seller: quantity and revenue (line totals after line discounts) on paid orders."""

    sku: str
    title: str
    quantity: int
    revenue_minor: int
    orders: int


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows for one period, channel (or all) and currency."""

    currency: str
    channel: str | None
    time_zone: str
    period: DayRange
    previous_period: DayRange
    totals: Figures
    previous: Figures
    change: Change
    # Every day of the period in order, days without orders included (as zeros).
    daily: tuple[DayFigures, ...]
    # By GMV, largest first.
    by_channel: tuple[ChannelFigures, ...]
    by_shop: tuple[ShopFigures, ...]
    top_products: tuple[ProductFigures, ...]
    # Currencies with orders in the period (and channel): what a currency switch offers.
    currencies: tuple[str, ...] = field(default=())
    # The GMV of every currency in this one, when the tenant sold in more than one.
    converted: ConvertedTotal | None = None


def dashboard(
    session: Session,
    tenant: Tenant,
    start_day: date,
    end_day: date,
    channel: str | None = None,
    currency: str | None = None,
) -> Dashboard:
    """The dashboard of days ``start_day`` to ``end_day`` (inclusive, tenant's time zone).

    ``channel`` limits every figure to one channel; ``currency`` defaults to the tenant's own
    (:func:`currencies.home_currency`). Orders in other currencies are left out of the figures
    (money of two currencies is never summed) and converted in ``converted`` instead, at the
    rates recorded. Reads the rollups only.
    """
    if current_tenant(session) != tenant.id:
        raise TenantContextMissing("a dashboard is read for the tenant bound to the session")
    if end_day < start_day:
        raise Problem(400, "bad-period", "The period ends before it starts")
    period = DayRange(start_day, end_day)
    if period.days > MAX_DAYS:
        raise Problem(400, "bad-period", f"A dashboard covers at most {MAX_DAYS} days")
    by_currency = currencies.sales(session, period.start, period.end, channel)
    currency = (currency or currencies.home_currency(tenant.default_currency, by_currency)).upper()
    previous_period = period.previous()
    rows = repository.sales_rows(session, previous_period.start, period.end, currency, channel)

    totals, before = _Sums(), _Sums()
    daily: dict[date, _Sums] = {day: _Sums() for day in period.each()}
    channels: dict[str, _Sums] = defaultdict(_Sums)
    shops: dict[tuple[uuid.UUID, str], _Sums] = defaultdict(_Sums)
    for row in rows:
        if row.day < period.start:
            before.add(row)
            continue
        totals.add(row)
        daily[row.day].add(row)
        channels[row.channel].add(row)
        shops[(row.shop_id, row.channel)].add(row)

    names = {shop_id: _shop_name(session, shop_id) for shop_id, _ in shops}
    by_channel = sorted(
        (ChannelFigures(name, sums.figures()) for name, sums in channels.items()),
        key=lambda c: (-c.figures.gmv_minor, c.channel),
    )
    by_shop = sorted(
        (
            ShopFigures(shop_id, names[shop_id], name, sums.figures())
            for (shop_id, name), sums in shops.items()
        ),
        key=lambda s: (-s.figures.gmv_minor, s.shop_name, str(s.shop_id)),
    )
    products = repository.top_products(
        session, period.start, period.end, currency, channel, TOP_PRODUCTS
    )
    now, earlier = totals.figures(), before.figures()
    return Dashboard(
        currency=currency,
        channel=channel,
        time_zone=tenant.time_zone,
        period=period,
        previous_period=previous_period,
        totals=now,
        previous=earlier,
        change=Change.between(now, earlier),
        daily=tuple(DayFigures(day, sums.figures()) for day, sums in daily.items()),
        by_channel=tuple(by_channel),
        by_shop=tuple(by_shop),
        top_products=tuple(ProductFigures(*p) for p in products),
        currencies=tuple(repository.currencies(session, period.start, period.end, channel)),
        converted=currencies.converted_total(session, currency, by_currency),
    )


def bound_dashboard(
    session: Session,
    start_day: date,
    end_day: date,
    channel: str | None = None,
    currency: str | None = None,
) -> Dashboard:
    """:func:`dashboard` of the tenant bound to the session, for callers that hold the tenant's
    id (the portal) rather than its row."""
    return dashboard(session, _bound_tenant(session), start_day, end_day, channel, currency)


@dataclass(frozen=True)
class DailyGmv:
    """A tenant's GMV by day in its own currency, and every currency converted into it: what
    a list of many tenants shows of each (the console), from one read of the rollups."""

    currency: str
    daily: list[tuple[date, int]]  # every day, zeros included
    converted: ConvertedTotal | None

    @property
    def gmv_minor(self) -> int:
        return sum(gmv for _, gmv in self.daily)


def bound_daily_gmv(session: Session, start_day: date, end_day: date) -> DailyGmv:
    """:class:`DailyGmv` of days ``start_day`` to ``end_day`` of the bound tenant."""
    tenant = _bound_tenant(session)
    by_currency = currencies.sales(session, start_day, end_day, None)
    currency = currencies.home_currency(tenant.default_currency, by_currency)
    found = by_currency.get(currency, {})
    days = DayRange(start_day, end_day).each()
    return DailyGmv(
        currency,
        [(day, found.get(day, 0)) for day in days],
        currencies.converted_total(session, currency, by_currency),
    )


def _shop_name(session: Session, shop_id: uuid.UUID) -> str:
    try:
        return shop_service.get(session, shop_id).name
    except Problem:
        return str(shop_id)
