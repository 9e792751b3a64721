"""Ids are version-7 UUIDs that sort in creation order, even within one millisecond."""

from __future__ import annotations

import time

from daiyun.core.ids import new_id


def test_ids_made_together_sort_in_the_order_they_were_made() -> None:
    ids = [new_id() for _ in range(20_000)]  # many land in the same millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}


def test_the_time_in_an_id_is_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after + 1
