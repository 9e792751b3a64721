"""Ad spend (广告花费): a channel's daily report file imported, or rows recorded through the API,
each converted into the tenant's currency at its day's recorded rate.

A file is checked whole before anything is written (``ad_formats``): with any problem, or a
day without the rate its currency needs, it is refused with the report and nothing changes.
A file replaces the channel's rows of every day from its first to its last, so importing the
same file again, or a corrected one, leaves exactly what the file says. Rows recorded through
the API replace the row of the same day, channel, ad campaign and ad group, and leave the rest.

Rates come from the exchange rates the agency records (``daiyun.platform.rates``) and are never
guessed: a missing one refuses the write (422) and names the currency and the days.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import new_id, utcnow
from daiyun.core.money import minor_scale
from daiyun.core.pagination import paginate
from daiyun.core.tenancy import current_tenant
from daiyun.platform.marketing import ad_formats, repository
from daiyun.platform.marketing.models import AdChannel, AdSpend, AdSpendSource
from daiyun.platform.marketing.schemas import AdSpendBatchIn, AdSpendRead, AdSpendRecorded
from daiyun.platform.rates import service as rates
from daiyun.platform.rates.rules import text as rate_text
from daiyun.tenants.models import Tenant

# A refusal names at most this many missing days per currency.
NAMED_DAYS = 10


def home_currency(session: Session) -> str:
    """The tenant's currency: spend is converted into it when recorded."""
    tenant = session.get(Tenant, current_tenant(session))
    return tenant.default_currency.upper() if tenant else "CNY"


def day_rates(
    session: Session, home: str, wanted: Iterable[tuple[str, date]]
) -> tuple[dict[tuple[str, date], Decimal], dict[str, list[date]]]:
    """The recorded rate of each (currency, day) into ``home``, and the days lacking one."""
    by_currency: dict[str, set[date]] = {}
    for currency, day in wanted:
        by_currency.setdefault(currency, set()).add(day)
    found: dict[tuple[str, date], Decimal] = {}
    missing: dict[str, list[date]] = {}
    for currency, days in sorted(by_currency.items()):
        quotes = rates.rates(session, currency, home, days)
        for day in days:
            if day in quotes:
                found[(currency, day)] = quotes[day].rate
        lacking = sorted(days - quotes.keys())
        if lacking:
            missing[currency] = lacking
    return found, missing


def missing_rate(home: str, missing: dict[str, list[date]]) -> Problem:
    """The 422 for days without a rate: which pair, which days (record them, then retry)."""
    parts = []
    for currency, days in sorted(missing.items()):
        named = ", ".join(d.isoformat() for d in days[:NAMED_DAYS])
        more = f" and {len(days) - NAMED_DAYS} more" if len(days) > NAMED_DAYS else ""
        parts.append(f"{currency}→{home} on {named}{more}")
    return Problem(
        422,
        "missing-rate",
        f"No exchange rate recorded for {'; '.join(parts)}: record it under /exchange-rates "
        "(a rate is never guessed)",
        missing=[
            {"currency": c, "into": home, "days": [d.isoformat() for d in days]}
            for c, days in sorted(missing.items())
        ],
    )


def convert(amount: int, currency: str, home: str, rate: Decimal) -> int:
    """Minor units of ``currency`` in minor units of ``home``, rounded once, half up."""
    if currency == home:
        return amount
    exact = Decimal(amount) * rate * minor_scale(currency, home)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _values(
    home: str,
    rate: Decimal,
    *,
    day: date,
    channel: AdChannel,
    ad_campaign: str,
    ad_group: str,
    campaign_id: uuid.UUID | None,
    currency: str,
    spend_minor: int,
    impressions: int,
    clicks: int,
    orders: int | None,
    gmv_minor: int | None,
    source: AdSpendSource,
) -> dict[str, Any]:
    return {
        "day": day,
        "channel": channel,
        "ad_campaign": ad_campaign,
        "ad_group": ad_group,
        "campaign_id": campaign_id,
        "currency": currency,
        "spend_minor": spend_minor,
        "home_currency": home,
        "home_spend_minor": convert(spend_minor, currency, home, rate),
        "rate": rate_text(rate),
        "impressions": impressions,
        "clicks": clicks,
        "attributed_orders": orders,
        "attributed_gmv_minor": gmv_minor,
        "home_gmv_minor": None if gmv_minor is None else convert(gmv_minor, currency, home, rate),
        "source": source,
    }


def import_file(
    session: Session, channel: AdChannel, content: bytes, currency: str | None = None
) -> AdSpendRecorded:
    """A channel's report file, replacing the channel's days from the file's first to its
    last; refused whole (422, ``problems``: row, column, problem) when any row is bad or a day
    lacks its rate. Rows whose ad campaign is a marketing campaign's name are linked to it."""
    if len(content) > ad_formats.MAX_FILE_BYTES:
        raise Problem(413, "too-large", "An ad spend file is at most 5 MiB")
    if b"\x00" in content[:4096] or content.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise Problem(415, "not-csv", "The file is not CSV text (a spreadsheet? save it as CSV)")
    parsed = ad_formats.parse(channel, ad_formats.decode(content), currency)
    home = home_currency(session)
    found: dict[tuple[str, date], Decimal] = {}
    if not parsed.problem_count:
        found, _ = day_rates(
            session, home, {(r.currency, r.day) for r in parsed.rows if r.currency != home}
        )
        for row in parsed.rows:
            if row.currency != home and (row.currency, row.day) not in found:
                parsed.add(
                    ad_formats.Problem(
                        row.row,
                        "currency",
                        f"no {row.currency}→{home} rate recorded for {row.day.isoformat()}",
                    )
                )
    if parsed.problem_count:
        raise Problem(
            422,
            "ad-spend-rejected",
            f"The file has {parsed.problem_count} problem(s): nothing was written",
            problems=[asdict(p) for p in parsed.problems],
            problem_count=parsed.problem_count,
        )
    first = min(r.day for r in parsed.rows)
    last = max(r.day for r in parsed.rows)
    linked = repository.campaign_ids_named(session, {r.ad_campaign for r in parsed.rows})
    replaced = repository.delete_ad_spend(session, channel, first, last)
    tenant_id, now = current_tenant(session), utcnow()
    values = [
        {
            "tenant_id": tenant_id,
            "id": new_id(),
            "created_at": now,
            "updated_at": now,
            **_values(
                home,
                Decimal(1) if row.currency == home else found[(row.currency, row.day)],
                day=row.day,
                channel=channel,
                ad_campaign=row.ad_campaign,
                ad_group=row.ad_group,
                campaign_id=linked.get(row.ad_campaign),
                currency=row.currency,
                spend_minor=row.spend_minor,
                impressions=row.impressions,
                clicks=row.clicks,
                orders=row.orders,
                gmv_minor=row.gmv_minor,
                source=AdSpendSource.csv,
            ),
        }
        for row in parsed.rows
    ]
    repository.insert_ad_spend(session, values)
    session.flush()
    result = AdSpendRecorded(
        channel=channel,
        first_day=first,
        last_day=last,
        written=len(values),
        replaced=replaced,
        linked=sum(1 for v in values if v["campaign_id"] is not None),
        home_currency=home,
        home_spend_minor=sum(v["home_spend_minor"] for v in values),
    )
    audit.record(
        session, "ad_spend.imported", f"ad_spend:{channel.value}", result.model_dump(mode="json")
    )
    return result


def record(session: Session, body: AdSpendBatchIn) -> AdSpendRecorded:
    """Rows through the API: each replaces the row of its day, channel, ad campaign and ad
    group (a retry changes nothing more). A day without its rate refuses them all (422)."""
    home = home_currency(session)
    keys = [(r.channel, r.day, r.ad_campaign, r.ad_group or "") for r in body.rows]
    if len(set(keys)) != len(keys):
        raise Problem(422, "repeated-row", "Two rows name the same day, channel and ad group")
    campaigns = {r.campaign_id for r in body.rows if r.campaign_id is not None}
    known = repository.campaign_names(session, campaigns)
    if campaigns - known.keys():
        raise Problem(404, "not-found", "No such campaign")
    found, missing = day_rates(
        session, home, {(r.currency, r.day) for r in body.rows if r.currency != home}
    )
    if missing:
        raise missing_rate(home, missing)
    first = min(r.day for r in body.rows)
    last = max(r.day for r in body.rows)
    stored = {
        (row.channel, row.day, row.ad_campaign, row.ad_group): row
        for row in repository.ad_spend_between(session, {k[0] for k in keys}, first, last)
    }
    replaced = 0
    total = 0
    for key, given in zip(keys, body.rows, strict=True):
        values = _values(
            home,
            Decimal(1) if given.currency == home else found[(given.currency, given.day)],
            day=given.day,
            channel=given.channel,
            ad_campaign=given.ad_campaign,
            ad_group=key[3],
            campaign_id=given.campaign_id,
            currency=given.currency,
            spend_minor=given.spend_minor,
            impressions=given.impressions,
            clicks=given.clicks,
            orders=given.attributed_orders,
            gmv_minor=given.attributed_gmv_minor,
            source=AdSpendSource.api,
        )
        total += values["home_spend_minor"]
        row = stored.get(key)
        if row is None:
            session.add(AdSpend(**values))
        else:
            replaced += 1
            for name, value in values.items():
                setattr(row, name, value)
    session.flush()
    channels = {k[0] for k in keys}
    result = AdSpendRecorded(
        channel=next(iter(channels)) if len(channels) == 1 else None,
        first_day=first,
        last_day=last,
        written=len(body.rows),
        replaced=replaced,
        linked=sum(1 for r in body.rows if r.campaign_id is not None),
        home_currency=home,
        home_spend_minor=total,
    )
    audit.record(session, "ad_spend.recorded", "ad_spend:api", result.model_dump(mode="json"))
    return result


def find(
    session: Session,
    channel: AdChannel | None,
    first: date | None,
    last: date | None,
    campaign_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AdSpend], str | None]:
    stmt = repository.ad_spend(channel, first, last, campaign_id)
    return paginate(session, stmt, AdSpend.id, cursor, limit)


def read(row: AdSpend) -> AdSpendRead:
    return AdSpendRead.model_validate(row)
