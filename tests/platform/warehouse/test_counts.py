"""Stocktakes (盘点): a count is recorded apart from the adjustment it proposes, an approver
posts it, and goods that moved while the count ran are reconciled against the ledger. The
stockroom fixture proves the ledger invariant after each scenario."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.warehouse import counts, service
from daiyun.platform.warehouse.models import CountKind, CountStatus, MoveKind, StockMove
from daiyun.platform.warehouse.schemas import (
    AdjustmentCreate,
    AdjustmentLine,
    CountCreate,
    CountedLine,
    CountEntry,
    CountRead,
    CountSubmit,
)
from tests.platform.warehouse.conftest import Stockroom


def _start(room: Stockroom, *bins: uuid.UUID, full: bool = False) -> CountRead:
    body = CountCreate(
        warehouse_id=room.hz.id,
        kind=CountKind.full if full else CountKind.cycle,
        location_ids=[] if full else list(bins or [room.hz.shelf]),
    )
    with db.unit_of_work(room.tenant.id) as session:
        return counts.start(session, body)


def _count(
    room: Stockroom,
    count_id: uuid.UUID,
    code: str,
    quantity: int,
    *,
    lot: str | None = None,
    add: bool = False,
    bin: uuid.UUID | None = None,
) -> CountRead:
    line = CountedLine(
        sku_id=room.skus[code], location_id=bin or room.hz.shelf, lot=lot, quantity=quantity
    )
    with db.unit_of_work(room.tenant.id) as session:
        return counts.record(session, count_id, CountEntry(lines=[line], add=add))


def _submit(room: Stockroom, count_id: uuid.UUID, missing_as_zero: bool = False) -> CountRead:
    with db.unit_of_work(room.tenant.id) as session:
        return counts.submit(session, count_id, CountSubmit(missing_as_zero=missing_as_zero))


def _approve(room: Stockroom, count_id: uuid.UUID) -> CountRead:
    with db.unit_of_work(room.tenant.id) as session:
        return counts.approve(session, count_id)


def _line(count: CountRead, code: str) -> tuple[int, int | None, int, int | None]:
    [line] = [x for x in count.lines if x.sku == code]
    return line.expected, line.counted, line.moved, line.difference


def test_a_count_proposes_and_only_approval_posts_it(room: Stockroom) -> None:
    room.receive("TEA", 10)
    room.receive("CUP", 4)
    started = _start(room)
    assert {x.sku: x.expected for x in started.lines} == {"TEA": 10, "CUP": 4}
    _count(room, started.id, "TEA", 8)
    counted = _count(room, started.id, "CUP", 4)
    assert _line(counted, "TEA") == (10, 8, 0, -2)
    assert _line(counted, "CUP") == (4, 4, 0, 0)
    submitted = _submit(room, started.id)
    assert submitted.status == CountStatus.submitted
    # Counted and submitted, nothing moved on the shelf's book yet.
    assert room.stock("TEA")[0] == 10
    approved = _approve(room, started.id)
    assert approved.status == CountStatus.approved
    assert approved.adjustment_id is not None
    assert [(x.sku, x.posted) for x in approved.lines if x.posted] == [("TEA", -2)]
    assert room.stock("TEA")[0] == 8
    assert room.stock("CUP")[0] == 4
    with db.unit_of_work(room.tenant.id) as session:
        moves = session.scalars(
            select(StockMove).where(StockMove.source == f"count:{started.id}")
        ).all()
        assert [(m.kind, m.on_hand_delta) for m in moves] == [(MoveKind.adjustment, -2)]
    with pytest.raises(Problem) as again:
        _approve(room, started.id)
    assert again.value.status == 409


def test_moves_during_the_count_are_reconciled_against_the_ledger(room: Stockroom) -> None:
    """Five arrive after the start but before the shelf is counted, and three more after it:
    the counter finds 13 where 10 + 5 were due, so 2 are missing, whatever came later."""
    room.receive("TEA", 10)
    started = _start(room)
    room.receive("TEA", 5)
    counted = _count(room, started.id, "TEA", 13)
    room.receive("TEA", 3)
    assert _line(counted, "TEA") == (10, 13, 5, -2)
    # An order that reserves and ships after the counting changes nothing either.
    order = room.order("R-1", quantity=1)
    room.sync(order)
    room.sync(room.order("R-1", quantity=1, status=OrderStatus.fulfilled, updated_minutes=5))
    _submit(room, started.id)
    approved = _approve(room, started.id)
    assert _line(approved, "TEA") == (10, 13, 5, -2)
    # 10 + 5 + 3 − 1 shipped − 2 missing.
    assert room.stock("TEA")[0] == 15


def test_goods_found_where_the_book_has_none_and_scans_add_up(room: Stockroom) -> None:
    room.receive("TEA", 2, lot="OLD")
    started = _start(room, room.hz.shelf, room.hz.cage)
    for _ in range(3):
        scanned = _count(room, started.id, "CUP", 1, add=True, bin=room.hz.cage)
    assert _line(scanned, "CUP") == (0, 3, 0, 3)
    with pytest.raises(Problem) as uncounted:
        _submit(room, started.id)
    assert uncounted.value.status == 409
    submitted = _submit(room, started.id, missing_as_zero=True)
    assert _line(submitted, "TEA") == (2, 0, 0, -2)
    _approve(room, started.id)
    assert room.stock("CUP")[0] == 3
    assert room.stock("TEA")[0] == 0


def test_open_counts_do_not_overlap_and_a_cancelled_one_posts_nothing(room: Stockroom) -> None:
    room.receive("TEA", 6)
    first = _start(room, full=True)
    with pytest.raises(Problem) as overlap:
        _start(room)
    assert (overlap.value.status, overlap.value.kind) == (409, "count-open")
    _count(room, first.id, "TEA", 1)
    with db.unit_of_work(room.tenant.id) as session:
        assert counts.cancel(session, first.id).status == CountStatus.cancelled
    assert room.stock("TEA")[0] == 6
    with pytest.raises(Problem) as closed:
        _count(room, first.id, "TEA", 2)
    assert closed.value.status == 409
    second = _start(room)  # the bins are free again
    assert second.status == CountStatus.counting


def test_a_count_that_would_go_negative_posts_nothing(room: Stockroom) -> None:
    """3 of 4 counted, then all 4 written off after the counting: posting the count's −1 would
    take the bin below zero."""
    room.receive("TEA", 4)
    started = _start(room)
    _count(room, started.id, "TEA", 3)
    line = AdjustmentLine(sku_id=room.skus["TEA"], location_id=room.hz.shelf, delta=-4)
    with db.unit_of_work(room.tenant.id) as session:
        service.create_adjustment(session, AdjustmentCreate(reason="damaged", lines=[line]))
    _submit(room, started.id)
    with pytest.raises(Problem) as refused:
        _approve(room, started.id)
    assert (refused.value.status, refused.value.kind) == (409, "negative-stock")
    assert room.stock("TEA")[0] == 0


def test_bins_outside_the_count_and_unknown_lots_are_refused(room: Stockroom) -> None:
    room.receive("TEA", 1)
    started = _start(room)
    with pytest.raises(Problem) as outside:
        _count(room, started.id, "TEA", 1, bin=room.hz.cage)
    assert outside.value.status == 422
    with pytest.raises(Problem) as lot:
        _count(room, started.id, "TEA", 1, lot="NOPE")
    assert lot.value.status == 422
    with pytest.raises(Problem) as bundle:
        _count(room, started.id, "SET", 1)
    assert bundle.value.status == 422
