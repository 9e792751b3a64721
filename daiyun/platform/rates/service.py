"""Exchange rates: recorded from a CSV, the API or a rates service; looked up for conversion.

Rates are recorded as given and never guessed: a day without a rate has none (no carrying the
last known rate forward), and whoever converts says which days lack one. A pair stored one way
round also converts the other way (its inverse, to 12 significant digits).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.pagination import paginate
from daiyun.platform.rates import repository, rules
from daiyun.platform.rates.models import ExchangeRate
from daiyun.platform.rates.rules import Quote, RateError
from daiyun.platform.rates.schemas import RatesRecorded

__all__ = ["Quote", "RateError", "fetch", "list_rates", "rates", "record", "record_csv"]


def record(session: Session, quotes: Iterable[Quote], origin: str) -> RatesRecorded:
    """Record quotes: a new (pair, day) is added, a known one with another rate or source is
    replaced, an identical one is left alone; so a file or a request sent twice changes nothing
    the second time. Statements keep the rate they used, so a later correction never edits one
    that was finalized."""
    given = {(q.base, q.quote, q.day): q for q in quotes}
    stored = repository.existing(session, given)
    created = changed = 0
    for key, quote in given.items():
        rate = rules.text(quote.rate)
        row = stored.get(key)
        if row is None:
            session.add(
                ExchangeRate(
                    base=quote.base,
                    quote=quote.quote,
                    day=quote.day,
                    rate=rate,
                    source=quote.source,
                )
            )
            created += 1
        elif (row.rate, row.source) != (rate, quote.source):
            row.rate, row.source = rate, quote.source
            changed += 1
    session.flush()
    result = RatesRecorded(
        created=created, changed=changed, unchanged=len(given) - created - changed
    )
    if created or changed:
        days = sorted(q.day for q in given.values())
        audit.record(
            session,
            "exchange_rates.recorded",
            f"rates:{origin}",
            {**result.model_dump(), "from": str(days[0]), "to": str(days[-1])},
        )
    return result


def record_csv(session: Session, content: str, source: str) -> RatesRecorded:
    """A CSV of ``day,base,quote,rate``, recorded whole or not at all (RateError says why)."""
    return record(session, rules.parse_csv(content, source), f"csv:{source}")


def rates(
    session: Session, source: str, target: str, days: Iterable[date], carry_days: int = 0
) -> dict[date, Quote]:
    """The rate converting ``source`` into ``target`` on each of ``days`` that has one.

    A rate stored as source/target is used as it is; one stored only as target/source is
    inverted. Same currency: 1 on every day. With ``carry_days``, a day without a rate takes the
    latest one of the ``carry_days`` days before it; the quote keeps the day it was recorded for.
    """
    wanted = sorted(set(days))
    if not wanted:
        return {}
    if source == target:
        return {day: Quote(source, target, day, Decimal(1), "same currency") for day in wanted}
    direct: dict[date, Quote] = {}
    reverse: dict[date, Quote] = {}
    first = wanted[0] - timedelta(days=carry_days)
    for row in repository.between(session, source, target, first, wanted[-1]):
        quote = Quote(row.base, row.quote, row.day, Decimal(row.rate), row.source)
        (direct if row.base == source else reverse)[row.day] = quote
    found: dict[date, Quote] = {}
    for day in wanted:
        for back in range(carry_days + 1):
            on = day - timedelta(days=back)
            if on in direct:
                found[day] = direct[on]
            elif on in reverse:
                found[day] = rules.inverted(reverse[on])
            else:
                continue
            break
    return found


def list_rates(
    session: Session,
    base: str | None,
    quote: str | None,
    first: date | None,
    last: date | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    return paginate(
        session, repository.listing(base, quote, first, last), ExchangeRate.id, cursor, limit
    )


# --- a rates service ---------------------------------------------------------------------------


def pairs(setting: str) -> dict[str, list[str]]:
    """``"USD:CNY,EUR:CNY"`` as {base: [quotes]}; RateError names a malformed pair."""
    found: dict[str, list[str]] = {}
    for item in (part.strip() for part in setting.split(",")):
        if not item:
            continue
        base, _, quote = item.partition(":")
        found.setdefault(rules.currency(base), []).append(rules.currency(quote))
    return found


def fetch(
    session: Session, client: httpx.Client, url: str, setting: str, day: date
) -> RatesRecorded:
    """Record the rates a Frankfurter-style service gives for ``day``, one request per base.

    The service answers the latest working day on or before the one asked (central banks
    publish no weekend rates): its rates are recorded under the day it names, never copied to
    the day asked, so a weekend keeps no rate rather than a guessed one.
    """
    quotes: list[Quote] = []
    host = httpx.URL(url).host
    for base, targets in pairs(setting).items():
        answer = client.get(
            f"{url.rstrip('/')}/{day.isoformat()}", params={"from": base, "to": ",".join(targets)}
        )
        if answer.status_code != 200:
            raise RateError(f"{host} answered {answer.status_code} for {base} on {day}")
        try:
            # Rates travel as JSON numbers: read them as Decimal, never through a float.
            body = json.loads(answer.text, parse_float=Decimal)
            published = date.fromisoformat(body["date"])
            given = body["rates"]
            quotes += [
                Quote(base, rules.currency(code), published, rules.rate(given[code]), host)
                for code in targets
                if code in given
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise RateError(f"{host} gave an answer that is not a rates document") from exc
    return record(session, quotes, f"feed:{host}")
