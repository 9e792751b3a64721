"""Every query of exchange rates."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select, tuple_
from sqlalchemy.orm import Session

from daiyun.platform.rates.models import ExchangeRate


def find(session: Session, base: str, quote: str, day: date) -> ExchangeRate | None:
    return session.scalar(
        select(ExchangeRate).where(
            ExchangeRate.base == base, ExchangeRate.quote == quote, ExchangeRate.day == day
        )
    )


def existing(
    session: Session, keys: Iterable[tuple[str, str, date]]
) -> dict[tuple[str, str, date], ExchangeRate]:
    """The stored rates among ``keys``, by key (one query per 500 keys)."""
    wanted = list(keys)
    found: dict[tuple[str, str, date], ExchangeRate] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.scalars(
            select(ExchangeRate).where(
                tuple_(ExchangeRate.base, ExchangeRate.quote, ExchangeRate.day).in_(chunk)
            )
        )
        found.update({(r.base, r.quote, r.day): r for r in rows})
    return found


def between(session: Session, one: str, other: str, first: date, last: date) -> list[ExchangeRate]:
    """The rates of a pair either way round on the days ``first`` to ``last``."""
    return list(
        session.scalars(
            select(ExchangeRate).where(
                or_(
                    (ExchangeRate.base == one) & (ExchangeRate.quote == other),
                    (ExchangeRate.base == other) & (ExchangeRate.quote == one),
                ),
                ExchangeRate.day.between(first, last),
            )
        )
    )


def listing(
    base: str | None, quote: str | None, first: date | None, last: date | None
) -> Select[Any]:
    stmt = select(ExchangeRate)
    if base:
        stmt = stmt.where(ExchangeRate.base == base)
    if quote:
        stmt = stmt.where(ExchangeRate.quote == quote)
    if first:
        stmt = stmt.where(ExchangeRate.day >= first)
    if last:
        stmt = stmt.where(ExchangeRate.day <= last)
    return stmt
