"""Stocktakes (盘点): full or cycle counts by bin, kept apart from the adjustment they propose.

A count starts by taking the book's on-hand of every stock row in its bins (``expected``), with
the rows locked so the snapshot sits at one point of the ledger. Counters then record what they
find, line by line (typed, or scanned one unit at a time), each with the moment it was counted.
Goods keep moving meanwhile: the ledger rows booked on a line's stock row between the start and
that moment are what the shelf gained or lost before the counter looked (``moved``), so the
difference is ``counted − (expected + moved)``; a move after the counting changed the book and
the shelf alike. Nothing changes stock until an approver (``warehouse:approve``) approves the
submitted count: then the differences are posted as one adjustment whose ledger rows name the
count, and the count keeps what it posted.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.db import take_write_lock
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.warehouse import repository, rules
from daiyun.platform.warehouse.models import (
    Adjustment,
    CountKind,
    CountStatus,
    MoveKind,
    StockCount,
    StockCountLine,
)
from daiyun.platform.warehouse.schemas import (
    CountCreate,
    CountEntry,
    CountLineRead,
    CountRead,
    CountSubmit,
)
from daiyun.platform.warehouse.service import (
    _active_warehouse,
    _location,
    actor_of,
    allows_negative,
    sku,
    stocked_sku,
)


def _conflict(kind: str, detail: str) -> Problem:
    return Problem(409, kind, detail)


def start(session: Session, body: CountCreate) -> CountRead:
    """Start a count of some bins (cycle) or all of a warehouse's bins (full). A bin that an
    open count already covers is refused (409 ``count-open``): two counts would post the same
    difference twice."""
    _active_warehouse(session, body.warehouse_id)
    if body.kind == CountKind.full:
        if body.location_ids:
            raise Problem(422, "full-count-names-bins", "A full count covers every bin")
        bins = [loc.id for loc in session.scalars(repository.locations(body.warehouse_id))]
    else:
        if not body.location_ids:
            raise Problem(422, "cycle-count-without-bins", "A cycle count names its bins")
        bins = list(dict.fromkeys(body.location_ids))
        for location_id in bins:
            _location(session, location_id, body.warehouse_id)
    take_write_lock(session)
    wanted = {b.hex for b in bins}
    for other in repository.open_counts(session, body.warehouse_id):
        if wanted & set(other.location_ids):
            raise _conflict("count-open", f"Count {other.id} is still open on some of these bins")
    rows = repository.lock_stock_in(session, bins)
    count = StockCount(
        warehouse_id=body.warehouse_id,
        kind=body.kind,
        status=CountStatus.counting,
        location_ids=[b.hex for b in bins],
        note=body.note,
        started_by=actor_of(session),
    )
    session.add(count)
    session.flush()
    for row in rows:
        if row.on_hand != 0:
            session.add(
                StockCountLine(
                    count_id=count.id,
                    sku_id=row.sku_id,
                    location_id=row.location_id,
                    batch_id=row.batch_id,
                    slot=row.slot,
                    expected=row.on_hand,
                )
            )
    session.flush()
    audit.record(session, "stock.count.started", f"count:{count.id}", {"kind": body.kind.value})
    return read(session, count)


def _get(session: Session, count_id: uuid.UUID, *, lock: bool = False) -> StockCount:
    found = repository.get_count(session, count_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such count")
    return found


def _expect(count: StockCount, status: CountStatus) -> None:
    if count.status != status:
        raise _conflict(
            f"count-{count.status.value}", f"The count is {count.status.value}, not {status.value}"
        )


def record(session: Session, count_id: uuid.UUID, body: CountEntry) -> CountRead:
    """Record what was counted in the count's bins; ``add`` adds to a line (a scan is one unit)
    instead of replacing it. A SKU found where the book has none gets a line of its own."""
    take_write_lock(session)
    count = _get(session, count_id, lock=True)
    _expect(count, CountStatus.counting)
    lines = {(line.sku_id, line.slot): line for line in repository.count_lines(session, count.id)}
    actor, now = actor_of(session), utcnow()
    for entry in body.lines:
        found = stocked_sku(session, entry.sku_id)
        if entry.location_id.hex not in count.location_ids:
            raise Problem(422, "not-in-count", f"Bin {entry.location_id} is not in this count")
        batch_id = None
        if entry.lot is not None:
            batch = repository.batch(session, entry.sku_id, entry.lot)
            if batch is None:
                raise Problem(422, "unknown-lot", f"{found.code} has no lot {entry.lot}")
            batch_id = batch.id
        slot = repository.slot_of(entry.location_id, batch_id)
        line = lines.get((entry.sku_id, slot))
        if line is None:
            # Not in the book when the count started: whatever is here came since, or was lost
            # to the book; the ledger's moves since the start tell which.
            line = StockCountLine(
                count_id=count.id,
                sku_id=entry.sku_id,
                location_id=entry.location_id,
                batch_id=batch_id,
                slot=slot,
                expected=0,
            )
            session.add(line)
            lines[(entry.sku_id, slot)] = line
        total = (line.counted or 0) + entry.quantity if body.add else entry.quantity
        if total > rules.MAX_QUANTITY:
            raise Problem(422, "count-too-large", f"{found.code}: {total} units is not a count")
        line.counted, line.counted_at, line.counted_by = total, now, actor
    session.flush()
    return read(session, count)


def submit(session: Session, count_id: uuid.UUID, body: CountSubmit) -> CountRead:
    """Hand the count to an approver. Lines nobody counted are refused (409 ``uncounted``)
    unless ``missing_as_zero`` says the counter found those bins empty of them."""
    count = _get(session, count_id, lock=True)
    _expect(count, CountStatus.counting)
    lines = repository.count_lines(session, count.id)
    uncounted = [line for line in lines if line.counted is None]
    if uncounted and not body.missing_as_zero:
        raise _conflict("uncounted", f"{len(uncounted)} lines are not counted yet")
    now, actor = utcnow(), actor_of(session)
    for line in uncounted:
        line.counted, line.counted_at, line.counted_by = 0, now, actor
    count.status, count.submitted_at = CountStatus.submitted, now
    session.flush()
    audit.record(session, "stock.count.submitted", f"count:{count.id}", {})
    return read(session, count)


def approve(session: Session, count_id: uuid.UUID) -> CountRead:
    """Post the submitted count's differences as one adjustment (ledger rows of kind
    ``adjustment`` with source ``count:<id>``). Stock that would go below zero where neither the
    SKU nor the bin allows it is refused (409 ``negative-stock``), and nothing is posted."""
    take_write_lock(session)
    count = _get(session, count_id, lock=True)
    _expect(count, CountStatus.submitted)
    lines = repository.count_lines(session, count.id)
    repository.lock_stock_in(session, {line.location_id for line in lines})
    moved = _moved(session, count, lines)
    actor = actor_of(session)
    reason = f"stocktake {count.id}"
    negative_ok = allows_negative(session, {line.sku_id for line in lines})
    planned = []
    for line in lines:
        assert line.counted is not None  # submitted counts are fully counted
        difference = rules.count_difference(line.counted, line.expected, moved[line.id])
        line.moved, line.posted = moved[line.id], difference
        if difference == 0:
            continue
        location = _location(session, line.location_id, count.warehouse_id)
        row = repository.stock_row(session, line.sku_id, location, line.batch_id)
        if not rules.may_go_negative(
            row.on_hand + difference, line.sku_id in negative_ok, location.allow_negative
        ):
            raise _conflict(
                "negative-stock",
                f"{sku(session, line.sku_id).code} would be {row.on_hand + difference} in "
                f"{location.code}: stock moved out since it was counted",
            )
        planned.append((row, line, difference))
    adjustment = None
    if planned:
        adjustment = Adjustment(reason=reason, lines=[], actor=actor)
        session.add(adjustment)
        session.flush()
        for row, _line, difference in planned:
            repository.post(
                session,
                row,
                MoveKind.adjustment,
                on_hand=difference,
                reason=reason,
                source=f"count:{count.id}",
                actor=actor,
            )
        adjustment.lines = [
            {
                "sku_id": line.sku_id.hex,
                "location_id": line.location_id.hex,
                "batch_id": line.batch_id.hex if line.batch_id else None,
                "delta": difference,
            }
            for _, line, difference in planned
        ]
    count.status = CountStatus.approved
    count.approved_by, count.approved_at = actor, utcnow()
    count.adjustment_id = adjustment.id if adjustment else None
    session.flush()
    audit.record(
        session, "stock.count.approved", f"count:{count.id}", {"lines_posted": len(planned)}
    )
    return read(session, count)


def cancel(session: Session, count_id: uuid.UUID) -> CountRead:
    """Drop an open count: nothing it recorded is posted."""
    count = _get(session, count_id, lock=True)
    if count.status not in repository.OPEN_COUNT:
        raise _conflict(f"count-{count.status.value}", f"The count is {count.status.value}")
    count.status = CountStatus.cancelled
    session.flush()
    audit.record(session, "stock.count.cancelled", f"count:{count.id}", {})
    return read(session, count)


def _moved(
    session: Session, count: StockCount, lines: list[StockCountLine]
) -> dict[uuid.UUID, int]:
    """Per line, the on-hand units the ledger moved between the start and its counting (until
    now for a line not counted yet)."""
    rows = repository.stock_by_slot(session, {(line.sku_id, line.slot) for line in lines})
    by_stock: dict[uuid.UUID, list[tuple]] = defaultdict(list)
    for stock_id, at, delta in repository.on_hand_moves_since(
        session, {r.id for r in rows.values()}, count.created_at
    ):
        by_stock[stock_id].append((at, delta))
    now = utcnow()
    moved = {}
    for line in lines:
        row = rows.get((line.sku_id, line.slot))
        moves = by_stock.get(row.id, []) if row else []
        moved[line.id] = rules.moved_before(moves, line.counted_at or now)
    return moved


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read(session: Session, count: StockCount) -> CountRead:
    lines = repository.count_lines(session, count.id)
    posted = count.status == CountStatus.approved
    moved = {} if posted else _moved(session, count, lines)
    codes = {s: sku(session, s).code for s in {line.sku_id for line in lines}}
    bins = repository.location_codes(session, {line.location_id for line in lines})
    batches = repository.batches_by_id(session, {ln.batch_id for ln in lines if ln.batch_id})
    items = []
    for line in lines:
        shift = (line.moved or 0) if posted else moved[line.id]
        batch = batches.get(line.batch_id) if line.batch_id else None
        items.append(
            CountLineRead(
                sku_id=line.sku_id,
                sku=codes[line.sku_id],
                location_id=line.location_id,
                location=bins.get(line.location_id, ""),
                batch_id=line.batch_id,
                lot=batch.lot if batch else None,
                expected=line.expected,
                counted=line.counted,
                counted_at=line.counted_at,
                moved=shift,
                difference=None
                if line.counted is None
                else rules.count_difference(line.counted, line.expected, shift),
                posted=line.posted,
            )
        )
    return CountRead(
        id=count.id,
        warehouse_id=count.warehouse_id,
        kind=count.kind,
        status=count.status,
        location_ids=[uuid.UUID(h) for h in count.location_ids],
        note=count.note,
        started_by=count.started_by,
        created_at=count.created_at,
        submitted_at=count.submitted_at,
        approved_by=count.approved_by,
        approved_at=count.approved_at,
        adjustment_id=count.adjustment_id,
        lines=items,
    )


def get(session: Session, count_id: uuid.UUID) -> CountRead:
    return read(session, _get(session, count_id))


def find(
    session: Session, status: CountStatus | None, cursor: str | None, limit: int
) -> tuple[list[StockCount], str | None]:
    """The owner's counts, oldest first (without their lines: read one for those)."""
    return paginate(session, repository.counts(status), StockCount.id, cursor, limit)
