"""Transfers (调拨) between warehouses, through transit.

Shipping takes the units off A's shelves at once (``transfer_out``, earliest expiry first, from
what is not reserved); they are in transit on the transfer until B receives them into a bin
(``transfer_in`` for what was shipped). What B counts differently is booked there as a
``transfer_difference`` row with its reason, so B's stock is what B counted and the ledger says
why it differs from what left A.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.db import take_write_lock
from daiyun.core.errors import Problem
from daiyun.core.pagination import paginate
from daiyun.platform.warehouse import repository, rules
from daiyun.platform.warehouse.models import MoveKind, Transfer, TransferStatus
from daiyun.platform.warehouse.schemas import (
    TransferCreate,
    TransferLineRead,
    TransferRead,
    TransferReceive,
)
from daiyun.platform.warehouse.service import _active_warehouse, _location, actor_of, stocked_sku


def ship(session: Session, body: TransferCreate) -> TransferRead:
    """Ship goods from A towards B; what A does not have free (on hand − reserved) refuses the
    whole transfer (409 ``insufficient-stock`` naming the SKUs)."""
    if body.from_warehouse_id == body.to_warehouse_id:
        raise Problem(422, "same-warehouse", "A transfer goes to another warehouse")
    _active_warehouse(session, body.from_warehouse_id)
    _active_warehouse(session, body.to_warehouse_id)
    wanted: dict[uuid.UUID, int] = defaultdict(int)
    codes = {}
    for line in body.lines:
        codes[line.sku_id] = stocked_sku(session, line.sku_id).code
        wanted[line.sku_id] += line.quantity
    take_write_lock(session)
    rows = [
        r
        for r in repository.lock_stock(session, sku_ids=set(wanted))
        if r.warehouse_id == body.from_warehouse_id
    ]
    batches = repository.batches_by_id(session, {r.batch_id for r in rows if r.batch_id})
    candidates = [
        rules.Candidate(
            r.id,
            r.sku_id,
            r.warehouse_id,
            r.on_hand - r.reserved,
            batches[r.batch_id].expires_on if r.batch_id else None,
            batches[r.batch_id].lot if r.batch_id else None,
        )
        for r in rows
    ]
    takes, shortages = rules.allocate(wanted, candidates, [body.from_warehouse_id])
    if shortages:
        named = ", ".join(f"{codes[s.sku_id]} ({s.available} of {s.wanted})" for s in shortages)
        raise Problem(409, "insufficient-stock", f"Not enough free stock to ship: {named}")
    transfer = Transfer(
        from_warehouse_id=body.from_warehouse_id,
        to_warehouse_id=body.to_warehouse_id,
        status=TransferStatus.in_transit,
        lines=[],
        note=body.note,
    )
    session.add(transfer)
    session.flush()
    by_id = {r.id: r for r in rows}
    actor = actor_of(session)
    lines: dict[tuple[str, str | None], int] = defaultdict(int)
    for take in takes:
        row = by_id[take.stock_id]
        repository.post(
            session,
            row,
            MoveKind.transfer_out,
            on_hand=-take.quantity,
            reason="shipped to another warehouse",
            source=f"transfer:{transfer.id}",
            actor=actor,
        )
        lines[(take.sku_id.hex, row.batch_id.hex if row.batch_id else None)] += take.quantity
    transfer.lines = [
        {"sku_id": sku, "batch_id": batch, "quantity": q, "received": None}
        for (sku, batch), q in sorted(lines.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    ]
    session.flush()
    audit.record(session, "stock.transfer.shipped", f"transfer:{transfer.id}", {})
    return transfer_read(transfer)


def receive(session: Session, transfer_id: uuid.UUID, body: TransferReceive) -> TransferRead:
    """B receives a transfer into one bin; a count that differs from what was shipped is
    booked with the reason given. A transfer is received once (409 after)."""
    transfer = repository.get_transfer(session, transfer_id, lock=True)
    if transfer is None:
        raise Problem(404, "not-found", "No such transfer")
    if transfer.status != TransferStatus.in_transit:
        raise Problem(409, "transfer-received", "The transfer was received already")
    location = _location(session, body.location_id, transfer.to_warehouse_id)
    shipped: dict[str, int] = defaultdict(int)
    for line in transfer.lines:
        shipped[line["sku_id"]] += line["quantity"]
    counted = {line.sku_id.hex: line.quantity for line in body.lines}
    strangers = sorted(set(counted) - set(shipped))
    if strangers:
        raise Problem(422, "not-in-transfer", f"SKUs not shipped on this transfer: {strangers}")
    take_write_lock(session)
    actor = actor_of(session)
    source = f"transfer:{transfer.id}"
    rows = [
        repository.stock_row(
            session,
            uuid.UUID(line["sku_id"]),
            location,
            uuid.UUID(line["batch_id"]) if line["batch_id"] else None,
        )
        for line in transfer.lines
    ]
    repository.lock_stock(session, stock_ids={row.id for row in rows})
    # A SKU's count is spread over its batches in shipping order; its last batch takes the rest
    # (more than was shipped, too).
    left = {sku: counted.get(sku, total) for sku, total in shipped.items()}
    last = {line["sku_id"]: n for n, line in enumerate(transfer.lines)}
    new_lines = []
    for n, (line, row) in enumerate(zip(transfer.lines, rows, strict=True)):
        sku = line["sku_id"]
        got = left[sku] if last[sku] == n else min(left[sku], line["quantity"])
        left[sku] -= got
        repository.post(
            session,
            row,
            MoveKind.transfer_in,
            on_hand=line["quantity"],
            reason="received from another warehouse",
            source=source,
            actor=actor,
        )
        if got != line["quantity"]:
            repository.post(
                session,
                row,
                MoveKind.transfer_difference,
                on_hand=got - line["quantity"],
                reason=body.reason,
                source=source,
                actor=actor,
            )
        new_lines.append({**line, "received": got})
    transfer.lines = new_lines
    transfer.status = TransferStatus.received
    session.flush()
    audit.record(session, "stock.transfer.received", f"transfer:{transfer.id}", {})
    return transfer_read(transfer)


def transfer_read(transfer: Transfer) -> TransferRead:
    return TransferRead(
        id=transfer.id,
        from_warehouse_id=transfer.from_warehouse_id,
        to_warehouse_id=transfer.to_warehouse_id,
        status=transfer.status,
        lines=[
            TransferLineRead(
                sku_id=uuid.UUID(line["sku_id"]),
                batch_id=uuid.UUID(line["batch_id"]) if line["batch_id"] else None,
                quantity=line["quantity"],
                received=line["received"],
            )
            for line in transfer.lines
        ],
        note=transfer.note,
        created_at=transfer.created_at,
    )


def get_transfer(session: Session, transfer_id: uuid.UUID) -> TransferRead:
    found = repository.get_transfer(session, transfer_id)
    if found is None:
        raise Problem(404, "not-found", "No such transfer")
    return transfer_read(found)


def find_transfers(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[TransferRead], str | None]:
    rows, next_cursor = paginate(session, repository.transfers(), Transfer.id, cursor, limit)
    return [transfer_read(r) for r in rows], next_cursor
