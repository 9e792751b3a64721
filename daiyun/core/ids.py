"""Ids and clocks: time-ordered UUIDs and aware UTC timestamps."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


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
