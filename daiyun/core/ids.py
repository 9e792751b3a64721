"""Ids and clocks: time-ordered UUIDs and aware UTC timestamps."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

from daiyun.core.errors import Problem

# The instants a caller may name (filters, backfill windows): wide enough for any business date,
# narrow enough that converting to UTC or adding a period never leaves what Python and both
# databases can hold (9999-12-31T23:59:59-14:00 is past year 9999 in UTC).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _written_out(value: Any) -> Any:
    # Pydantic would read a bare number (or a numeric string) as Unix seconds; the document
    # promises an ISO 8601 date-time, so only one that starts with its date gets through.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be written out in ISO 8601, such as 2026-10-01 or 2026-10-01T08:00Z")


# A caller's datetime (a filter or a window), written out as ISO 8601; see also instant().
DateTime = Annotated[datetime, BeforeValidator(_written_out)]
# A caller's calendar day, written out as ISO 8601 (2026-10-01).
Day = Annotated[date, BeforeValidator(_written_out)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def instant(name: str, value: datetime | None) -> datetime | None:
    """A caller's datetime in UTC, refused (400) without a UTC offset or outside the range."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise Problem(400, "naive-datetime", f"{name} needs a UTC offset (e.g. Z)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise Problem(
            400,
            "datetime-out-of-range",
            f"{name} must fall between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)",
        )
    return utc


_last_id = 0
_id_lock = threading.Lock()


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7), so ids sort by creation and serve as cursors.

    Within one process ids are strictly increasing, even in the same millisecond (the random
    bits are then the previous id's plus one), so rows written together keep their order.
    """
    global _last_id
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    with _id_lock:
        if value <= _last_id:
            value = _next_after(_last_id)
        _last_id = value
    return uuid.UUID(int=value)


def _next_after(previous: int) -> int:
    """The next version-7 value after ``previous``: its 74 random bits plus one."""
    rand_a = (previous >> 64) & 0xFFF
    rand_b = previous & ((1 << 62) - 1)
    counter = ((rand_a << 62) | rand_b) + 1
    ms = previous >> 80
    if counter >> 74:  # the millisecond is exhausted: borrow the next one
        ms, counter = ms + 1, 0
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (counter >> 62) << 64
    value |= 0b10 << 62
    value |= counter & ((1 << 62) - 1)
    return value
