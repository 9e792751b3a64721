"""Ad spend passed through to billing (广告代付): what the agency spent on a merchant's ads is
billed at cost, and the contract's markup on its own line (billing's engine prices both).

A channel's spend of a day becomes one ``ad_spend`` service fact in the merchant's home
currency once the day has settled: ad platforms revise a day's figures for a couple of days,
so a day is billed ``SETTLE_DAYS`` after it, keyed on the channel, the day and the currency.
The hourly task looks back ``LOOKBACK_DAYS``, so a report imported late is billed at the next
run. A billed figure is never changed (a finalized statement may hold it): a report imported
after billing that moves a day's spend is listed as a difference for finance to settle by hand
(a one-off fact, or a credit), never billed twice or silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from sqlalchemy.orm import Session

from daiyun.billing import service as billing
from daiyun.billing.facts import ServiceKind
from daiyun.billing.schemas import ServiceFactCreate, ServiceFactRead
from daiyun.platform.marketing import repository

SETTLE_DAYS = 3
LOOKBACK_DAYS = 60


def fact_key(channel: str, day: date, currency: str) -> str:
    return f"marketing:ad:{channel}:{day.isoformat()}:{currency}"


@dataclass(frozen=True)
class Difference:
    """A day whose spend moved after it was billed."""

    channel: str
    day: date
    currency: str
    billed_minor: int
    now_minor: int


@dataclass
class Billed:
    recorded: int = 0
    differences: list[Difference] = field(default_factory=list)


def _settled(
    session: Session, today: date
) -> Iterator[tuple[str, Difference, ServiceFactRead | None]]:
    """Each settled day of the look-back, per channel and currency: its key, its spend (as a
    difference whose billed figure is 0) and what was billed for it, if anything."""
    last = today - timedelta(days=SETTLE_DAYS)
    for channel, day, currency, spend in repository.daily_spend(
        session, last - timedelta(days=LOOKBACK_DAYS), last
    ):
        key = fact_key(channel.value, day, currency)
        yield (
            key,
            Difference(channel.value, day, currency, 0, spend),
            billing.fact_by_key(session, key),
        )


def differences(session: Session, today: date) -> list[Difference]:
    """The billed days whose spend has moved since (read only, for the Ad spend page)."""
    return [
        replace(d, billed_minor=known.amount_minor)
        for _, d, known in _settled(session, today)
        if known is not None and known.amount_minor != d.now_minor
    ]


def bill_settled(session: Session, today: date) -> Billed:
    """Bill every settled day of the look-back not billed yet; list the billed days whose spend
    has moved since."""
    result = Billed()
    for key, day, known in _settled(session, today):
        if known is not None:
            if known.amount_minor != day.now_minor:
                result.differences.append(
                    Difference(
                        day.channel, day.day, day.currency, known.amount_minor, day.now_minor
                    )
                )
            continue
        if day.now_minor <= 0:
            continue  # nothing spent: nothing to bill (a day with spend later is billed then)
        body = ServiceFactCreate(
            kind=ServiceKind.ad_spend,
            occurred_on=day.day,
            amount_minor=day.now_minor,
            currency=day.currency,
            description=f"{day.channel} ad spend {day.day.isoformat()}",
        )
        result.recorded += billing.record_fact(session, key, body)[1]
    return result
