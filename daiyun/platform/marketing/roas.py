"""Marketing reports: ROAS (投产比), ROI and CAC over a period, per day, campaign or channel.

ROAS is attributed GMV over spend, each summed over the same scope first (sum over sum, never
an average of daily ratios); ROI is (GMV - spend) / spend; CAC is spend per attributed order.
Spend is the rows' amount in the tenant's currency, converted when recorded at the day's rate.

Attributed GMV has two bases. ``orders``: the order book's orders that redeemed a campaign's
promotions, as marketing recorded them (each order once per campaign, on the tenant's day it
was attributed); spend not linked to a campaign is spend all the same, so it lowers ROAS rather
than vanishing. An order names the campaign it redeemed, not the ad it came from, so per
channel there is only the ``platform`` basis: the orders and GMV the ad platforms reported in
their files. Money of another currency (an order in USD for a CNY tenant) is converted at its
day's recorded rate; a day without one refuses the report (422), naming it.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daiyun.core import csv_export
from daiyun.core.errors import Problem
from daiyun.core.money import to_major
from daiyun.platform.marketing import ad_spend, repository
from daiyun.platform.marketing.ad_formats import CHANNEL_NAMES
from daiyun.platform.marketing.models import AdChannel
from daiyun.platform.marketing.schemas import RoasBasis, RoasBy, RoasReport, RoasRow
from daiyun.tenants import service as tenant_service

MAX_DAYS = 366
PLACES = Decimal("0.0001")
NO_CAMPAIGN = "none"


@dataclass
class Totals:
    spend: int = 0
    impressions: int = 0
    clicks: int = 0
    orders: int = 0
    gmv: int = 0

    def add(self, other: Totals) -> None:
        self.spend += other.spend
        self.impressions += other.impressions
        self.clicks += other.clicks
        self.orders += other.orders
        self.gmv += other.gmv


def ratios(totals: Totals) -> tuple[str | None, str | None, int | None]:
    """ROAS, ROI (to 4 decimals, half up) and CAC (minor units) of summed figures."""
    if totals.spend <= 0:
        return None, None, None
    spend = Decimal(totals.spend)
    roas = (Decimal(totals.gmv) / spend).quantize(PLACES, rounding=ROUND_HALF_UP)
    roi = (Decimal(totals.gmv - totals.spend) / spend).quantize(PLACES, rounding=ROUND_HALF_UP)
    cac = None
    if totals.orders:
        cac = int((spend / totals.orders).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return str(roas), str(roi), cac


def _row(key: str, label: str, totals: Totals) -> RoasRow:
    roas, roi, cac = ratios(totals)
    return RoasRow(
        key=key,
        label=label,
        spend_minor=totals.spend,
        impressions=totals.impressions,
        clicks=totals.clicks,
        orders=totals.orders,
        gmv_minor=totals.gmv,
        roas=roas,
        roi=roi,
        cac_minor=cac,
    )


def _period(first: date, last: date) -> None:
    if last < first:
        raise Problem(422, "invalid-period", "The period ends before it starts")
    if (last - first).days >= MAX_DAYS:
        raise Problem(422, "invalid-period", f"A report covers at most {MAX_DAYS} days")


def report(
    session: Session, first: date, last: date, by: RoasBy, basis: RoasBasis = RoasBasis.orders
) -> RoasReport:
    """ROAS, ROI and CAC from ``first`` to ``last`` (the tenant's days), per ``by``."""
    _period(first, last)
    if by is RoasBy.channel and basis is RoasBasis.orders:
        raise Problem(
            422,
            "no-channel-attribution",
            "Orders name the campaign whose promotion they used, not the ad channel: "
            "per channel, ask basis=platform (what the ad platforms attributed)",
        )
    home = ad_spend.home_currency(session)
    groups: dict[str, Totals] = {}
    # Money of another currency (with its day and group), converted after one rates look-up.
    foreign: list[tuple[str, date, str, Totals]] = []

    def put(key: str, currency: str, day: date | None, totals: Totals) -> None:
        if currency == home:
            groups.setdefault(key, Totals()).add(totals)
        else:
            assert day is not None  # asked per day for money of another currency
            foreign.append((currency, day, key, totals))

    # Only money of another currency needs its day (for the day's rate): asked again per day.
    with_day = by is RoasBy.day
    spent = repository.spend_totals(session, first, last, by.value, with_day=with_day)
    others = {row[1] for row in spent if row[1] != home}
    if others and not with_day:
        spent = [row for row in spent if row[1] == home] + repository.spend_totals(
            session, first, last, by.value, with_day=True, currencies=others
        )
    platform = basis is RoasBasis.platform
    for day, currency, value, *sums in spent:
        spend, impressions, clicks, p_orders, p_gmv = (int(v or 0) for v in sums)
        put(
            _key(by, day, value),
            currency,
            day,
            Totals(
                spend=spend,
                impressions=impressions,
                clicks=clicks,
                orders=p_orders if platform else 0,
                gmv=p_gmv if platform else 0,
            ),
        )
    if basis is RoasBasis.orders:
        name = tenant_service.time_zone(session)
        for start, end, offset in spans(ZoneInfo(name), first, last):
            found = repository.attributed_totals(
                session, start, end, name, offset, with_day=with_day
            )
            others = {row[1] for row in found if row[1] != home}
            if others and not with_day:
                found = [row for row in found if row[1] == home] + repository.attributed_totals(
                    session, start, end, name, offset, with_day=True, currencies=others
                )
            for campaign_id, currency, day, orders, gmv in found:
                put(
                    _key(by, day, campaign_id),
                    currency,
                    day,
                    Totals(orders=int(orders), gmv=int(gmv or 0)),
                )
    _convert(session, home, foreign, groups)
    rows = _ordered(session, by, first, last, groups)
    total = Totals()
    for totals in groups.values():
        total.add(totals)
    return RoasReport(
        first=first,
        last=last,
        by=by,
        basis=basis,
        currency=home,
        rows=rows,
        total=_row("total", "total", total),
    )


def spans(zone: ZoneInfo, first: date, last: date) -> list[tuple[datetime, datetime, int]]:
    """The tenant's days ``first`` to ``last`` as UTC spans [start, end) of one UTC offset each,
    cut where the zone changes its offset (DST), with that offset in minutes: one span in a zone
    without DST, such as Asia/Shanghai."""

    def offset(at: datetime) -> int:
        return int((at.astimezone(zone).utcoffset() or timedelta()).total_seconds() // 60)

    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    cuts = [start]
    at = start
    while at < end:
        following = min(at + timedelta(days=1), end)
        if offset(at) != offset(following - timedelta(microseconds=1)):
            low, high = at, following  # the change lies in (low, high]: found to the microsecond
            while high - low > timedelta(microseconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            cuts.append(high)
        at = following
    cuts.append(end)
    return [(a, b, offset(a)) for a, b in pairwise(cuts)]


def _key(by: RoasBy, day: date | None, value: object) -> str:
    if by is RoasBy.day:
        assert day is not None
        return day.isoformat()
    if by is RoasBy.campaign:
        return str(value) if value is not None else NO_CAMPAIGN
    return AdChannel(str(value)).value


def _convert(
    session: Session,
    home: str,
    foreign: list[tuple[str, date, str, Totals]],
    groups: dict[str, Totals],
) -> None:
    if not foreign:
        return
    found, missing = ad_spend.day_rates(session, home, {(c, d) for c, d, _, _ in foreign})
    if missing:
        raise ad_spend.missing_rate(home, missing)
    for currency, day, key, totals in foreign:
        rate = found[(currency, day)]
        totals.spend = ad_spend.convert(totals.spend, currency, home, rate)
        totals.gmv = ad_spend.convert(totals.gmv, currency, home, rate)
        groups.setdefault(key, Totals()).add(totals)


def _ordered(
    session: Session, by: RoasBy, first: date, last: date, groups: dict[str, Totals]
) -> list[RoasRow]:
    if by is RoasBy.day:
        # Every day of the period, a day without spend or orders as zeros (a chart's gap).
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        return [
            _row(d.isoformat(), d.isoformat(), groups.get(d.isoformat(), Totals())) for d in days
        ]
    if by is RoasBy.campaign:
        ids = {uuid.UUID(k) for k in groups if k != NO_CAMPAIGN}
        names = repository.campaign_names(session, ids)
        labels = {str(i): name for i, name in names.items()}
        labels[NO_CAMPAIGN] = "(no campaign)"
    else:
        labels = {c.value: CHANNEL_NAMES[c] for c in AdChannel}
    keys = sorted(groups, key=lambda k: (-groups[k].spend, -groups[k].gmv, labels.get(k, k)))
    return [_row(k, labels.get(k, k), groups[k]) for k in keys]


def to_csv(report: RoasReport) -> str:
    """The report as CSV, amounts in major units of its currency (cells neutralized)."""
    out = io.StringIO()
    writer = csv_export.writer(out)
    writer.writerow(
        [
            report.by.value,
            "label",
            "currency",
            "spend",
            "impressions",
            "clicks",
            "orders",
            "attributed_gmv",
            "roas",
            "roi",
            "cac",
        ]
    )
    for row in [*report.rows, report.total]:
        writer.writerow(
            [
                row.key,
                row.label,
                report.currency,
                to_major(row.spend_minor, report.currency),
                row.impressions,
                row.clicks,
                row.orders,
                to_major(row.gmv_minor, report.currency),
                Decimal(row.roas) if row.roas is not None else None,
                Decimal(row.roi) if row.roi is not None else None,
                to_major(row.cac_minor, report.currency) if row.cac_minor is not None else None,
            ]
        )
    return out.getvalue()
