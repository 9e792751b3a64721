"""A report's period: whole days in the merchant's time zone, from ``first`` to ``last``.

One place for what every period report (repurchase, CSAT, QA, recruiting) checks and computes:
the default window ending today where the merchant is, the refusal of a backwards or over-a-year
period, and the UTC instants the days run between.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow

LONGEST = timedelta(days=366)  # a report covers at most a year


def today(time_zone: str) -> date:
    """The day it is where the merchant is."""
    return utcnow().astimezone(ZoneInfo(time_zone)).date()


def window(time_zone: str, days: int, first: date | None, last: date | None) -> tuple[date, date]:
    """The period asked for, or the ``days`` to today (the merchant's today) where not given."""
    last = last or today(time_zone)
    return first or last - timedelta(days=days - 1), last


def bounds(first: date, last: date, time_zone: str) -> tuple[datetime, datetime]:
    """[start, end) of the days in UTC; a backwards or over-a-year period is 422 bad-period."""
    if last < first or last - first >= LONGEST:
        raise Problem(422, "bad-period", "The period runs from first to last, a year at most")
    zone = ZoneInfo(time_zone)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    return start, datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
