"""The warehouse's service: warehouses and bins, settings, stock and its ledger, receipts and
adjustments. Reservations are in ``reservations``, transfers in ``transfers``.

Every function takes a session (bound to the owner, for tenant data), flushes and audits; none
commits. Every change of quantity goes through ``repository.post``, with its ledger row.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.db import take_write_lock
from daiyun.core.errors import Problem
from daiyun.core.events.service import emit
from daiyun.core.pagination import decode_cursor, paginate
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront.schemas import SkuRead
from daiyun.platform.warehouse import repository, rules
from daiyun.platform.warehouse import sync_marks as _sync_marks  # noqa: F401 (its listener)
from daiyun.platform.warehouse.models import (
    Adjustment,
    Batch,
    Location,
    MoveKind,
    Receipt,
    ReceiptKind,
    ReceiptStatus,
    SkuStockRule,
    Stock,
    StockMove,
    StockSettings,
    Warehouse,
)
from daiyun.platform.warehouse.schemas import (
    AdjustmentCreate,
    BatchStock,
    LocationCreate,
    ReceiptCreate,
    ReceiptLineRead,
    ReceiptRead,
    ReceivedLine,
    ReceiveIn,
    SkuRuleIn,
    StockRead,
    StockSettingsIn,
    StockSettingsRead,
    WarehouseCreate,
    WarehouseUpdate,
)

# Stock was put away from a receipt: {"receipt_id", "warehouse_id", "sku_ids": [hex ids]}.
STOCK_RECEIVED = "stock.received"


def actor_of(session: Session) -> str:
    """Who a ledger row names: the signed-in user, or the system acting on an event."""
    user = session.info.get("user_id")
    return f"user:{user.hex}" if user else "system"


def _unprocessable(kind: str, detail: str) -> Problem:
    return Problem(422, kind, detail)


# --------------------------------------------------------------------------------------------
# Warehouses and locations (agency level)
# --------------------------------------------------------------------------------------------


def find_warehouses(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[Warehouse], str | None]:
    return paginate(session, repository.warehouses(), Warehouse.id, cursor, limit)


def warehouse_names(session: Session) -> dict[uuid.UUID, str]:
    """Every warehouse's name by id (the agency has a handful: one read), for pages."""
    return {w.id: w.name for w in session.scalars(repository.warehouses())}


def get_warehouse(session: Session, warehouse_id: uuid.UUID) -> Warehouse:
    found = repository.get_warehouse(session, warehouse_id)
    if found is None:
        raise Problem(404, "not-found", "No such warehouse")
    return found


def create_warehouse(session: Session, body: WarehouseCreate) -> Warehouse:
    """Add a warehouse; its code is unique (409)."""
    if repository.warehouse_with_code(session, body.code) is not None:
        raise Problem(409, "warehouse-code-taken", f"A warehouse has the code {body.code!r}")
    warehouse = Warehouse(**body.model_dump())
    try:
        with session.begin_nested():
            session.add(warehouse)
            session.flush()
    except IntegrityError as exc:
        raise Problem(
            409, "warehouse-code-taken", f"A warehouse has the code {body.code!r}"
        ) from exc
    audit.record(session, "warehouse.created", f"warehouse:{warehouse.id}", {"code": body.code})
    return warehouse


def update_warehouse(session: Session, warehouse_id: uuid.UUID, body: WarehouseUpdate) -> Warehouse:
    warehouse = get_warehouse(session, warehouse_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    for key, value in changes.items():
        setattr(warehouse, key, value)
    session.flush()
    audit.record(session, "warehouse.updated", f"warehouse:{warehouse.id}", changes)
    return warehouse


def find_locations(
    session: Session, warehouse_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[Location], str | None]:
    get_warehouse(session, warehouse_id)
    return paginate(session, repository.locations(warehouse_id), Location.id, cursor, limit)


def create_location(session: Session, warehouse_id: uuid.UUID, body: LocationCreate) -> Location:
    """Add a bin; its code is zone-aisle-shelf-bin, unique in the warehouse (409)."""
    get_warehouse(session, warehouse_id)
    code = f"{body.zone}-{body.aisle}-{body.shelf}-{body.bin}"
    taken = Problem(409, "location-code-taken", f"The warehouse has a location {code}")
    if repository.location_with_code(session, warehouse_id, code) is not None:
        raise taken
    location = Location(warehouse_id=warehouse_id, code=code, **body.model_dump())
    try:
        with session.begin_nested():
            session.add(location)
            session.flush()
    except IntegrityError as exc:
        raise taken from exc
    audit.record(session, "warehouse.location.created", f"location:{location.id}", {"code": code})
    return location


def location_codes(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The code of each location (bin) by id, for pages that name where stock sits."""
    return repository.location_codes(session, ids)


def stock_bins(session: Session, stock_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Location]:
    """The bin (with its code and zone) each of the owner's stock rows sits in, by row id: what
    a pick list walks to."""
    return repository.stock_bins(session, stock_ids)


def location_by_code(session: Session, warehouse_id: uuid.UUID, code: str) -> Location | None:
    """A warehouse's bin by its code (what a label or a scanner reads)."""
    return repository.location_with_code(session, warehouse_id, code)


def get_location(session: Session, location_id: uuid.UUID) -> Location | None:
    """A bin by id (None when there is none), for departments that put goods into one."""
    return repository.get_location(session, location_id)


def _location(session: Session, location_id: uuid.UUID, warehouse_id: uuid.UUID | None) -> Location:
    location = repository.get_location(session, location_id)
    if location is None or (warehouse_id is not None and location.warehouse_id != warehouse_id):
        raise _unprocessable("unknown-location", f"There is no location {location_id} there")
    return location


def _active_warehouse(session: Session, warehouse_id: uuid.UUID) -> Warehouse:
    warehouse = repository.get_warehouse(session, warehouse_id)
    if warehouse is None or not warehouse.active:
        raise _unprocessable("unknown-warehouse", f"There is no active warehouse {warehouse_id}")
    return warehouse


# --------------------------------------------------------------------------------------------
# SKUs (through the catalog's service)
# --------------------------------------------------------------------------------------------


def sku(session: Session, sku_id: uuid.UUID) -> SkuRead:
    """One of the owner's SKUs; a SKU the owner does not have is refused (422)."""
    try:
        return catalog.get_sku(session, sku_id)
    except Problem as exc:
        if exc.status == 404:
            raise _unprocessable("unknown-sku", f"There is no SKU {sku_id}") from exc
        raise


def stocked_sku(session: Session, sku_id: uuid.UUID) -> SkuRead:
    """A SKU that has stock of its own: a bundle's stock is its parts'."""
    found = sku(session, sku_id)
    if found.is_bundle:
        raise _unprocessable(
            "bundle-has-no-stock", f"{found.code} is a bundle: receive and move its parts"
        )
    return found


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def stock_settings(session: Session) -> StockSettingsRead:
    stored = repository.settings(session)
    return StockSettingsRead(
        default_warehouse_id=stored.default_warehouse_id if stored else None,
        split_by_warehouse=stored.split_by_warehouse if stored else False,
        skus=[
            SkuRuleIn(
                sku_id=r.sku_id,
                warehouse_id=r.warehouse_id,
                safety_stock=r.safety_stock,
                allow_negative=r.allow_negative,
            )
            for r in repository.sku_rules(session)
        ],
    )


def set_stock_settings(session: Session, body: StockSettingsIn) -> StockSettingsRead:
    """Replace the owner's default warehouse and per-SKU rules."""
    if body.default_warehouse_id is not None:
        _active_warehouse(session, body.default_warehouse_id)
    scopes = [(r.sku_id, r.warehouse_id) for r in body.skus]
    if len(set(scopes)) != len(scopes):
        raise _unprocessable("duplicate-rule", "A SKU and warehouse appear twice")
    for rule in body.skus:
        stocked_sku(session, rule.sku_id)
        if rule.warehouse_id is not None:
            _active_warehouse(session, rule.warehouse_id)
    stored = repository.settings(session)
    if stored is None:
        stored = StockSettings()
        session.add(stored)
    before = stock_settings(session).model_dump(mode="json")
    stored.default_warehouse_id = body.default_warehouse_id
    stored.split_by_warehouse = body.split_by_warehouse
    # Safety stock is part of what is sellable: the SKUs of old and new rules may show more or
    # less on the shops now.
    touched = {r.sku_id for r in repository.sku_rules(session)} | {r.sku_id for r in body.skus}
    repository.note_changed(session, touched)
    repository.delete_sku_rules(session)
    session.flush()
    for rule in body.skus:
        scope = rule.warehouse_id.hex if rule.warehouse_id else "*"
        session.add(SkuStockRule(scope=scope, **rule.model_dump()))
    session.flush()
    audit.record(session, "stock.settings.updated", "stock-settings", {"before": before})
    return stock_settings(session)


def allows_negative(session: Session, sku_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """The SKUs whose own rule lets them go below zero."""
    return {
        r.sku_id
        for r in repository.sku_rules(session, sku_ids)
        if r.warehouse_id is None and r.allow_negative
    }


def safety_stock(
    session: Session, sku_ids: set[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    return {
        (r.sku_id, r.warehouse_id): r.safety_stock
        for r in repository.sku_rules(session, sku_ids)
        if r.warehouse_id is not None
    }


# --------------------------------------------------------------------------------------------
# Stock and the ledger
# --------------------------------------------------------------------------------------------


def find_stock(
    session: Session,
    *,
    sku_id: uuid.UUID | None,
    warehouse_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
    text: str | None = None,
) -> tuple[list[StockRead], str | None]:
    """A page of the owner's SKUs (catalog order; those whose code contains ``text``), each with
    its stock per warehouse."""
    if sku_id is not None:
        if cursor:
            decode_cursor(cursor)  # a bad cursor is 400 here too
        skus, next_cursor = [catalog.get_sku(session, sku_id)], None
    else:
        skus, next_cursor = catalog.find_skus(session, text=text, cursor=cursor, limit=limit)
    parts = {p.sku_id for s in skus for p in s.parts}
    own = {s.id for s in skus if not s.is_bundle} | parts
    rows = repository.stock_for(session, own, warehouse_id)
    batches = repository.batches_by_id(session, {r.batch_id for r in rows if r.batch_id})
    safety = safety_stock(session, own)
    by_sku: dict[uuid.UUID, dict[uuid.UUID, list[Stock]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_sku[row.sku_id][row.warehouse_id].append(row)
    items: list[StockRead] = []
    for s in skus:
        if s.is_bundle:
            items.extend(_bundle_stock(s, by_sku, safety))
            continue
        for warehouse, stock in sorted(by_sku[s.id].items()):
            on_hand = sum(r.on_hand for r in stock)
            reserved = sum(r.reserved for r in stock)
            held_back = safety.get((s.id, warehouse), 0)
            items.append(
                StockRead(
                    sku_id=s.id,
                    sku=s.code,
                    warehouse_id=warehouse,
                    is_bundle=False,
                    on_hand=on_hand,
                    reserved=reserved,
                    safety_stock=held_back,
                    sellable=rules.sellable(on_hand, reserved, held_back),
                    batches=[_batch_stock(r, batches) for r in stock],
                )
            )
    return items, next_cursor


def _bundle_stock(
    bundle: SkuRead,
    by_sku: dict[uuid.UUID, dict[uuid.UUID, list[Stock]]],
    safety: dict[tuple[uuid.UUID, uuid.UUID], int],
) -> list[StockRead]:
    parts = [(p.sku_id, p.quantity) for p in bundle.parts]
    warehouses = sorted({w for part, _ in parts for w in by_sku[part]})
    items = []
    for warehouse in warehouses:
        sellable, on_hand = {}, {}
        for part, _ in parts:
            rows = by_sku[part][warehouse]
            total, held = sum(r.on_hand for r in rows), sum(r.reserved for r in rows)
            sellable[part] = rules.sellable(total, held, safety.get((part, warehouse), 0))
            on_hand[part] = total
        items.append(
            StockRead(
                sku_id=bundle.id,
                sku=bundle.code,
                warehouse_id=warehouse,
                is_bundle=True,
                on_hand=max(0, rules.bundle_sellable(parts, on_hand)),
                reserved=0,
                safety_stock=0,
                sellable=rules.bundle_sellable(parts, sellable),
                batches=[],
            )
        )
    return items


def _batch_stock(row: Stock, batches: dict[uuid.UUID, Batch]) -> BatchStock:
    batch = batches.get(row.batch_id) if row.batch_id else None
    return BatchStock(
        location_id=row.location_id,
        batch_id=row.batch_id,
        lot=batch.lot if batch else None,
        expires_on=batch.expires_on if batch else None,
        on_hand=row.on_hand,
        reserved=row.reserved,
    )


def find_moves(
    session: Session,
    *,
    sku_id: uuid.UUID | None,
    kind: MoveKind | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[StockMove], str | None]:
    """The ledger, oldest first, filtered by SKU, kind and period (``until`` exclusive)."""
    stmt = repository.ledger(sku_id, kind, since, until)
    return paginate(session, stmt, StockMove.id, cursor, limit)


# --------------------------------------------------------------------------------------------
# Receipts (入库) and put-away
# --------------------------------------------------------------------------------------------


def _batch(
    session: Session, sku_id: uuid.UUID, lot: str | None, expires_on: date | None
) -> uuid.UUID | None:
    if lot is None:
        if expires_on is not None:
            raise _unprocessable("expiry-without-lot", "An expiry date needs a lot number")
        return None
    found = repository.batch(session, sku_id, lot)
    if found is not None:
        if expires_on is not None and found.expires_on != expires_on:
            raise _unprocessable(
                "lot-expiry-differs", f"Lot {lot} is recorded as expiring on {found.expires_on}"
            )
        return found.id
    created = Batch(sku_id=sku_id, lot=lot, expires_on=expires_on)
    try:
        with session.begin_nested():
            session.add(created)
            session.flush()
    except IntegrityError:
        again = repository.batch(session, sku_id, lot)
        assert again is not None
        return again.id
    return created.id


def _put_away(session: Session, receipt: Receipt, lines: list[ReceivedLine]) -> None:
    take_write_lock(session)
    kind = MoveKind.return_ if receipt.kind == ReceiptKind.return_ else MoveKind.receipt
    planned = []
    for line in lines:
        stocked_sku(session, line.sku_id)
        location = _location(session, line.location_id, receipt.warehouse_id)
        batch_id = _batch(session, line.sku_id, line.lot, line.expires_on)
        planned.append((repository.stock_row(session, line.sku_id, location, batch_id), line))
    repository.lock_stock(session, stock_ids={row.id for row, _ in planned})
    received: dict[str, int] = {r["sku_id"]: r["quantity"] for r in receipt.received}
    actor = actor_of(session)
    for row, line in planned:
        repository.post(
            session,
            row,
            kind,
            on_hand=line.quantity,
            reason=f"{receipt.kind.value} received",
            source=f"receipt:{receipt.id}",
            actor=actor,
        )
        received[line.sku_id.hex] = received.get(line.sku_id.hex, 0) + line.quantity
    receipt.received = [{"sku_id": k, "quantity": v} for k, v in sorted(received.items())]
    # Orders short of these SKUs may be reserved now: whoever waits for stock hears of it.
    emit(
        session,
        STOCK_RECEIVED,
        {
            "receipt_id": str(receipt.id),
            "warehouse_id": str(receipt.warehouse_id),
            "sku_ids": sorted({line.sku_id.hex for line in lines}),
        },
    )


def _settle(receipt: Receipt, close: bool) -> None:
    got = {r["sku_id"]: r["quantity"] for r in receipt.received}
    complete = all(got.get(e["sku_id"], 0) >= e["quantity"] for e in receipt.expected)
    if close or (receipt.received and complete):
        receipt.status = ReceiptStatus.closed
    elif receipt.received:
        receipt.status = ReceiptStatus.receiving


def create_receipt(session: Session, body: ReceiptCreate) -> ReceiptRead:
    """Record a receipt: an ASN to receive against later, goods received now, or both."""
    if not body.expected and not body.received:
        raise _unprocessable("empty-receipt", "A receipt expects or receives at least one line")
    _active_warehouse(session, body.warehouse_id)
    for line in body.expected:
        stocked_sku(session, line.sku_id)
    expected: dict[str, int] = defaultdict(int)
    for line in body.expected:
        expected[line.sku_id.hex] += line.quantity
    receipt = Receipt(
        warehouse_id=body.warehouse_id,
        kind=body.kind,
        reference=body.reference,
        status=ReceiptStatus.expected,
        expected=[{"sku_id": k, "quantity": v} for k, v in sorted(expected.items())],
        received=[],
    )
    session.add(receipt)
    session.flush()
    if body.received:
        _put_away(session, receipt, body.received)
        _settle(receipt, close=not body.expected)
    session.flush()
    audit.record(
        session, "stock.receipt.created", f"receipt:{receipt.id}", {"kind": body.kind.value}
    )
    return receipt_read(receipt)


def receive(session: Session, receipt_id: uuid.UUID, body: ReceiveIn) -> ReceiptRead:
    """Receive (part of) a receipt and put it away; a closed receipt takes nothing more (409)."""
    receipt = repository.get_receipt(session, receipt_id, lock=True)
    if receipt is None:
        raise Problem(404, "not-found", "No such receipt")
    if receipt.status == ReceiptStatus.closed:
        raise Problem(409, "receipt-closed", "The receipt is closed")
    _put_away(session, receipt, body.lines)
    _settle(receipt, body.close)
    session.flush()
    audit.record(
        session, "stock.receipt.received", f"receipt:{receipt.id}", {"lines": len(body.lines)}
    )
    return receipt_read(receipt)


def get_receipt(session: Session, receipt_id: uuid.UUID) -> ReceiptRead:
    receipt = repository.get_receipt(session, receipt_id)
    if receipt is None:
        raise Problem(404, "not-found", "No such receipt")
    return receipt_read(receipt)


def find_receipts(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[ReceiptRead], str | None]:
    rows, next_cursor = paginate(session, repository.receipts(), Receipt.id, cursor, limit)
    return [receipt_read(r) for r in rows], next_cursor


def receipt_read(receipt: Receipt) -> ReceiptRead:
    expected = {e["sku_id"]: e["quantity"] for e in receipt.expected}
    received = {r["sku_id"]: r["quantity"] for r in receipt.received}
    lines = [
        ReceiptLineRead(
            sku_id=uuid.UUID(k), expected=expected.get(k, 0), received=received.get(k, 0)
        )
        for k in sorted(expected.keys() | received.keys())
    ]
    return ReceiptRead(
        id=receipt.id,
        warehouse_id=receipt.warehouse_id,
        kind=receipt.kind,
        reference=receipt.reference,
        status=receipt.status,
        lines=lines,
        created_at=receipt.created_at,
    )


# --------------------------------------------------------------------------------------------
# Adjustments
# --------------------------------------------------------------------------------------------


def create_adjustment(session: Session, body: AdjustmentCreate) -> Adjustment:
    """Correct stock with a reason; below zero only where the SKU or the location allows it
    (409 ``negative-stock`` naming the SKU and location otherwise)."""
    take_write_lock(session)
    planned = []
    for line in body.lines:
        found = stocked_sku(session, line.sku_id)
        location = _location(session, line.location_id, None)
        if line.lot is not None and repository.batch(session, line.sku_id, line.lot) is None:
            raise _unprocessable("unknown-lot", f"{found.code} has no lot {line.lot}")
        batch_id = _batch(session, line.sku_id, line.lot, None)
        planned.append(
            (repository.stock_row(session, line.sku_id, location, batch_id), line, found, location)
        )
    repository.lock_stock(session, stock_ids={row.id for row, *_ in planned})
    negative_ok = allows_negative(session, {line.sku_id for line in body.lines})
    after: dict[uuid.UUID, int] = {}
    for row, line, found, location in planned:
        after[row.id] = after.get(row.id, row.on_hand) + line.delta
        if not rules.may_go_negative(
            after[row.id], line.sku_id in negative_ok, location.allow_negative
        ):
            raise Problem(
                409,
                "negative-stock",
                f"{found.code} would be {after[row.id]} in {location.code}: "
                "neither the SKU nor the location allows stock below zero",
            )
    actor = actor_of(session)
    adjustment = Adjustment(reason=body.reason, lines=[], actor=actor)
    session.add(adjustment)
    session.flush()
    for row, line, _, _ in planned:
        repository.post(
            session,
            row,
            MoveKind.adjustment,
            on_hand=line.delta,
            reason=body.reason,
            source=f"adjustment:{adjustment.id}",
            actor=actor,
        )
    adjustment.lines = [line.model_dump(mode="json") for line in body.lines]
    session.flush()
    audit.record(session, "stock.adjusted", f"adjustment:{adjustment.id}", {"reason": body.reason})
    return adjustment


def find_adjustments(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[Adjustment], str | None]:
    return paginate(session, repository.adjustments(), Adjustment.id, cursor, limit)


def ledger_mismatches(session: Session) -> list[dict[str, Any]]:
    """Stock rows whose quantities differ from the sums of their ledger (none, ever)."""
    return [
        {"stock_id": sid, "on_hand": (oh, loh or 0), "reserved": (rs, lrs or 0)}
        for sid, oh, rs, loh, lrs in repository.sum_by_stock(session)
        if (oh, rs) != (loh or 0, lrs or 0)
    ]
