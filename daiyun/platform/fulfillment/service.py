"""The fulfilment service: parcels from orders, their states, merging and splitting, exceptions.

A parcel follows its order as the order is now (each event only names the order, like the
warehouse's reservations): the order's reserved lines, grouped by warehouse, are what its live
parcels must carry. When they already do nothing happens, so duplicate or late events are
harmless. An order called off before shipment is intercepted (拦截): parcels still untouched
are cancelled; one on a pick list, picked or packed is pulled out of its wave and an exception
tells the floor to put the goods back. The stock itself is the warehouse's: its reservation is
released with the order.

Waves live in ``waves``, the pack station in ``pack``. Every function flushes; none commits.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.fulfillment import repository, rules
from daiyun.platform.fulfillment.models import (
    ExceptionKind,
    FoState,
    FulfillmentEvent,
    FulfillmentException,
    FulfillmentOrder,
    FulfillmentSettings,
    MergeMode,
)
from daiyun.platform.fulfillment.rules import Resolution
from daiyun.platform.fulfillment.schemas import (
    ExceptionRead,
    FoEventRead,
    FoLineRead,
    FulfillmentOrderDetail,
    FulfillmentOrderRead,
    MergeSuggestion,
    SettingsIn,
    SettingsRead,
    SplitIn,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.warehouse import reservations
from daiyun.platform.warehouse import service as warehouse

S = FoState
ACTOR = "system:fulfillment"
# Order statuses after which the parcel is the ship step's, not the order book's to change.
_SHIPPED = frozenset({"fulfilled", "shipped", "delivered"})
_DONE = frozenset({S.cancelled, S.merged, S.shipped, S.delivered})


def actor_of(session: Session) -> str:
    user = session.info.get("user_id")
    return f"user:{user.hex}" if user else ACTOR


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def settings(session: Session) -> SettingsRead:
    stored = repository.settings(session)
    if stored is None:
        return SettingsRead()
    return SettingsRead(
        merge_mode=stored.merge_mode,
        allow_partial=stored.allow_partial,
        ship_within_hours=stored.ship_within_hours,
        warn_hours=stored.warn_hours,
    )


def set_settings(session: Session, body: SettingsIn) -> SettingsRead:
    stored = repository.settings(session)
    before = settings(session).model_dump(mode="json")
    if stored is None:
        stored = FulfillmentSettings()
        session.add(stored)
    for key, value in body.model_dump().items():
        setattr(stored, key, value)
    session.flush()
    audit.record(
        session, "fulfillment.settings.updated", "fulfillment-settings", {"before": before}
    )
    return settings(session)


# --------------------------------------------------------------------------------------------
# Transitions
# --------------------------------------------------------------------------------------------


def transition(
    session: Session,
    fo: FulfillmentOrder,
    target: FoState,
    note: str = "",
    actor: str | None = None,
) -> None:
    """Move a parcel to ``target`` and log it with its actor; a move the state machine does not
    allow is refused (409). Leaving ``exception`` goes back to the state it interrupted (or is
    a cancellation)."""
    current = fo.state
    if current == target:
        return
    allowed = rules.may_move(current, target)
    if current == S.exception and target not in (S.cancelled, fo.held_state):
        allowed = False
    if not allowed:
        raise Problem(
            409,
            "invalid-transition",
            f"Fulfilment order {fo.number} is {current.value}: it cannot become {target.value}",
        )
    if target == S.exception:
        fo.held_state = current
    elif current == S.exception:
        fo.held_state = None
    fo.state = target
    session.add(
        FulfillmentEvent(
            fo_id=fo.id,
            from_state=current,
            to_state=target,
            note=note[:300],
            actor=(actor or actor_of(session))[:80],
            at=utcnow(),
        )
    )
    session.flush()


def _new(
    session: Session,
    order: Any,
    warehouse_id: uuid.UUID | None,
    lines: list[dict[str, Any]],
    state: FoState,
    ship_by: datetime | None,
    note: str,
) -> FulfillmentOrder:
    fo_id = uuid.uuid4()
    address = order.shipping_address or {}
    fo = FulfillmentOrder(
        id=fo_id,
        number=f"FO-{fo_id.hex[:10].upper()}",
        order_id=order.id,
        order_ids=[order.id.hex],
        shop_id=order.shop_id,
        warehouse_id=warehouse_id,
        state=state,
        held_state=None,
        merge_key=rules.merge_key(order.shop_id.hex, order.buyer_name, address),
        merged_into_id=None,
        lines=lines,
        wave_id=None,
        ship_by=ship_by,
        scanned={},
        scan_errors=0,
    )
    session.add(fo)
    session.flush()
    session.add(
        FulfillmentEvent(
            fo_id=fo.id, from_state=None, to_state=state, note=note, actor=ACTOR, at=utcnow()
        )
    )
    return fo


# --------------------------------------------------------------------------------------------
# Following the order
# --------------------------------------------------------------------------------------------


def _line_key(lines: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return sorted((line["sku_id"], line["stock_id"], int(line["quantity"])) for line in lines)


def _desired(session: Session, order_id: uuid.UUID, held: list[Any]) -> dict[Any, list[Any]]:
    """The order's reserved lines by warehouse, each with the bin it is picked from."""
    bins = warehouse.stock_bins(session, {line.stock_id for line in held})
    codes = {}
    by_warehouse: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for line in held:
        if line.sku_id not in codes:
            codes[line.sku_id] = warehouse.sku(session, line.sku_id).code
        where = bins.get(line.stock_id)
        by_warehouse[line.warehouse_id].append(
            {
                "order_id": order_id.hex,
                "sku_id": line.sku_id.hex,
                "sku": codes[line.sku_id],
                "quantity": line.quantity,
                "stock_id": line.stock_id.hex,
                "location_id": where.id.hex if where else None,
                "location": where.code if where else None,
            }
        )
    return dict(by_warehouse)


def sync_order(session: Session, order_id: uuid.UUID) -> list[FulfillmentOrder]:
    """Bring the order's parcels in line with the order and its reservation as they are now;
    returns its live parcels."""
    order = order_service.get_order(session, order_id)
    if order is None:
        return []
    held = reservations.get_reservation(session, order_id)
    parcels = [f for f in repository.for_order(session, order_id) if f.state not in _DONE]
    hex_id = order_id.hex
    shipped = held.status is not None and held.status.value == "shipped"
    if order.status.value in _SHIPPED or shipped:
        return parcels
    if held.status is None or held.status.value == "released":
        for fo in parcels:
            _intercept(session, fo, hex_id, f"order {order.status.value}")
        return [f for f in parcels if f.state not in _DONE]
    short = held.status.value == "short"
    desired = {} if short else _desired(session, order_id, held.lines)
    current = [line for f in parcels for line in f.lines if line["order_id"] == hex_id]
    wanted = [line for lines in desired.values() for line in lines]
    waiting = [f for f in parcels if f.state == S.awaiting_stock and f.order_id == order_id]
    if _line_key(current) == _line_key(wanted) and (not short or waiting):
        return parcels
    touched = [
        f
        for f in parcels
        if f.state not in rules.UNTOUCHED and any(li["order_id"] == hex_id for li in f.lines)
    ]
    if touched:
        for fo in touched:
            raise_exception(
                session, None, fo.id, ExceptionKind.intercepted, "order changed: pick it again"
            )
        return parcels
    reusable = list(waiting)
    for fo in parcels:
        if fo in reusable:
            continue
        fo.lines = [li for li in fo.lines if li["order_id"] != hex_id]
        if not fo.lines:
            transition(session, fo, S.cancelled, "order changed", ACTOR)
        else:
            fo.order_ids = [o for o in fo.order_ids if o != hex_id]
    ship_by = _ship_by(session, order)
    if short:
        if not reusable:
            fo = _new(session, order, None, [], S.awaiting_stock, ship_by, "short of stock")
            reusable.append(fo)
        for fo in reusable:
            if not repository.open_exceptions(session, fo.id, ExceptionKind.out_of_stock):
                _open(session, fo, ExceptionKind.out_of_stock, "not enough stock to reserve")
        session.flush()
        return reusable
    created = []
    for warehouse_id, lines in sorted(desired.items()):
        if reusable:
            fo = reusable.pop(0)
            fo.warehouse_id, fo.lines, fo.ship_by = warehouse_id, lines, ship_by
            transition(session, fo, S.ready, "stock reserved", ACTOR)
            _close(session, fo, ExceptionKind.out_of_stock, Resolution.retry, ACTOR)
        else:
            fo = _new(session, order, warehouse_id, lines, S.ready, ship_by, "stock reserved")
        created.append(fo)
    for fo in reusable:
        transition(session, fo, S.cancelled, "order changed", ACTOR)
    session.flush()
    if settings(session).merge_mode == MergeMode.auto:
        created = [_auto_merge(session, fo) for fo in created]
    return created


def _ship_by(session: Session, order: Any) -> datetime | None:
    start = order.paid_at or order.placed_at
    return start + timedelta(hours=settings(session).ship_within_hours) if start else None


def _intercept(session: Session, fo: FulfillmentOrder, order_hex: str, why: str) -> None:
    """Take the order out of a parcel that has not shipped: cancel the parcel if it carries
    nothing else; on the floor, pull it out of its wave and tell the floor to put it back."""
    on_floor = fo.state in rules.ON_THE_FLOOR or (
        fo.state == S.exception and fo.held_state in rules.ON_THE_FLOOR
    )
    others = [li for li in fo.lines if li["order_id"] != order_hex]
    if others:
        taken = [li for li in fo.lines if li["order_id"] == order_hex]
        fo.lines = others
        fo.order_ids = [o for o in fo.order_ids if o != order_hex]
        if fo.order_id.hex == order_hex:
            fo.order_id = uuid.UUID(others[0]["order_id"])
        if on_floor:
            items = ", ".join(f"{li['sku']} x{li['quantity']}" for li in taken)
            raise_exception(
                session, None, fo.id, ExceptionKind.intercepted, f"{why}: take out {items}"
            )
        session.flush()
        return
    for found in repository.open_exceptions(session, fo.id):
        if found.kind != ExceptionKind.intercepted:
            _resolved(session, found, Resolution.cancel, ACTOR)
    if on_floor:
        _open(session, fo, ExceptionKind.intercepted, f"{why}: put the goods back on their bins")
    fo.wave_id = None
    transition(session, fo, S.cancelled, f"intercepted: {why}", ACTOR)


# --------------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------------


def _open(
    session: Session, fo: FulfillmentOrder, kind: ExceptionKind, detail: str
) -> FulfillmentException:
    found = FulfillmentException(fo_id=fo.id, kind=kind, detail=detail[:500])
    session.add(found)
    session.flush()
    audit.record(session, "fulfillment.exception.opened", f"fulfillment:{fo.id}", {"kind": kind})
    return found


def raise_exception(
    session: Session,
    tenant_id: uuid.UUID | None,
    fo_id: uuid.UUID,
    kind: ExceptionKind,
    detail: str,
) -> FulfillmentException:
    """Open an exception on a parcel (the carrier step raises ``address_unserviceable`` here).
    A blocking kind stops the parcel where it is until resolved; one already open of the same
    kind is returned as it is. ``tenant_id``, when given, must be the session's."""
    if tenant_id is not None and session.info.get("tenant_id") != tenant_id:
        raise Problem(404, "not-found", "No such fulfilment order")
    fo = repository.get(session, fo_id, lock=True)
    if fo is None:
        raise Problem(404, "not-found", "No such fulfilment order")
    already = repository.open_exceptions(session, fo.id, kind)
    if already:
        return already[0]
    found = _open(session, fo, kind, detail)
    if kind in rules.BLOCKING and fo.state not in (S.exception, *_DONE):
        # Goods packed for a parcel whose contents changed are packed again.
        resume = S.picked if fo.state == S.packed and kind == ExceptionKind.intercepted else None
        transition(session, fo, S.exception, f"{kind.value}: {detail}")
        if resume is not None:
            fo.held_state = resume
            fo.scanned, fo.weight_grams = {}, None
    return found


def _resolved(
    session: Session, found: FulfillmentException, action: Resolution, actor: str
) -> None:
    found.resolved_at = utcnow()
    found.resolved_by = actor[:80]
    found.resolution = action.value


def _close(
    session: Session, fo: FulfillmentOrder, kind: ExceptionKind, action: Resolution, actor: str
) -> None:
    for found in repository.open_exceptions(session, fo.id, kind):
        _resolved(session, found, action, actor)


def exception_read(row: FulfillmentException) -> ExceptionRead:
    read = ExceptionRead.model_validate(row)
    if row.resolved_at is None:
        read.actions = sorted(rules.ACTIONS[row.kind])
    return read


def find_exceptions(
    session: Session, open_only: bool, kind: ExceptionKind | None, cursor: str | None, limit: int
) -> tuple[list[ExceptionRead], str | None]:
    stmt = repository.exceptions(open_only, kind)
    rows, next_cursor = paginate(session, stmt, FulfillmentException.id, cursor, limit)
    return [exception_read(r) for r in rows], next_cursor


def resolve(session: Session, exception_id: uuid.UUID, action: Resolution) -> ExceptionRead:
    """Close an exception with one of its kind's actions (422 for another; 409 once closed)."""
    found = repository.get_exception(session, exception_id)
    if found is None:
        raise Problem(404, "not-found", "No such exception")
    if found.resolved_at is not None:
        raise Problem(409, "exception-resolved", "The exception is already resolved")
    if action not in rules.ACTIONS[found.kind]:
        allowed = ", ".join(sorted(rules.ACTIONS[found.kind]))
        raise Problem(422, "action-not-allowed", f"A {found.kind.value} exception takes: {allowed}")
    fo = repository.get(session, found.fo_id, lock=True)
    assert fo is not None
    actor = actor_of(session)
    if action == Resolution.cancel:
        fo.wave_id = None
        if fo.state not in _DONE:
            transition(session, fo, S.cancelled, f"{found.kind.value}: given up", actor)
    elif found.kind == ExceptionKind.out_of_stock:
        reservations.sync_order(session, fo.order_id)
        sync_order(session, fo.order_id)
        if fo.state == S.awaiting_stock:
            raise Problem(409, "still-out-of-stock", f"{fo.number} still cannot be reserved")
    elif found.kind in rules.BLOCKING and fo.state == S.exception:
        others = [e for e in repository.open_exceptions(session, fo.id) if e.id != found.id]
        if not any(e.kind in rules.BLOCKING for e in others):
            assert fo.held_state is not None
            transition(session, fo, fo.held_state, f"{found.kind.value} resolved", actor)
    _resolved(session, found, action, actor)
    session.flush()
    audit.record(
        session, "fulfillment.exception.resolved", f"fulfillment:{fo.id}", {"action": action}
    )
    return exception_read(found)


def flag_deadlines(session: Session, now: datetime | None = None) -> int:
    """Raise ``deadline_near`` on every parcel not shipped within ``warn_hours`` of its
    deadline (once per parcel while open); returns how many were raised."""
    now = now or utcnow()
    soon = now + timedelta(hours=settings(session).warn_hours)
    raised = 0
    for fo in repository.due_before(session, soon):
        if not repository.open_exceptions(session, fo.id, ExceptionKind.deadline_near):
            assert fo.ship_by is not None
            _open(session, fo, ExceptionKind.deadline_near, f"ship by {fo.ship_by.isoformat()}")
            raised += 1
    return raised


# --------------------------------------------------------------------------------------------
# Merge (合单) and split (拆单)
# --------------------------------------------------------------------------------------------


def _merge(session: Session, parcels: list[FulfillmentOrder]) -> FulfillmentOrder:
    far = datetime.max.replace(tzinfo=parcels[0].created_at.tzinfo)
    host = min(parcels, key=lambda f: (f.ship_by or far, f.created_at, f.id))
    for fo in parcels:
        if fo is host:
            continue
        host.lines = [*host.lines, *fo.lines]
        host.order_ids = [*host.order_ids, *(o for o in fo.order_ids if o not in host.order_ids)]
        fo.lines, fo.merged_into_id = [], host.id
        transition(session, fo, S.merged, f"merged into {host.number}")
    session.add(
        FulfillmentEvent(
            fo_id=host.id,
            from_state=host.state,
            to_state=host.state,
            note=f"merged {len(parcels) - 1} parcel(s) in",
            actor=actor_of(session)[:80],
            at=utcnow(),
        )
    )
    session.flush()
    return host


def _auto_merge(session: Session, fo: FulfillmentOrder) -> FulfillmentOrder:
    group = [
        f
        for f in repository.merge_candidates(session, fo.merge_key)
        if f.warehouse_id == fo.warehouse_id
    ]
    return _merge(session, group) if len(group) > 1 else fo


def merge(session: Session, ids: list[uuid.UUID]) -> FulfillmentOrderRead:
    """Merge ready parcels of one buyer, shop, address and warehouse not yet in a wave into
    one (409 ``not-mergeable`` otherwise); the one due first keeps the lines."""
    unique = list(dict.fromkeys(ids))
    parcels = repository.many(session, unique, lock=True)
    if len(parcels) != len(unique):
        raise Problem(422, "unknown-fulfillment-order", "Some fulfilment orders do not exist")
    if len(parcels) < 2:
        raise Problem(422, "not-mergeable", "Merging takes two fulfilment orders or more")
    if any(f.state != S.ready or f.wave_id is not None for f in parcels):
        raise Problem(409, "not-mergeable", "Only ready parcels not in a wave merge")
    if len({(f.merge_key, f.warehouse_id) for f in parcels}) != 1:
        raise Problem(
            409, "not-mergeable", "Only one buyer's parcels to one address from one warehouse"
        )
    return read(session, _merge(session, parcels))


def merge_suggestions(session: Session) -> list[MergeSuggestion]:
    groups: dict[tuple[str, Any], list[FulfillmentOrder]] = defaultdict(list)
    for fo in repository.merge_candidates(session):
        groups[(fo.merge_key, fo.warehouse_id)].append(fo)
    return [
        MergeSuggestion(
            warehouse_id=fos[0].warehouse_id,
            ids=[f.id for f in fos],
            order_ids=[uuid.UUID(o) for f in fos for o in f.order_ids],
        )
        for fos in groups.values()
    ]


def split(session: Session, fo_id: uuid.UUID, body: SplitIn) -> FulfillmentOrderRead:
    """Move some units of a ready parcel into a new parcel of their own (partial shipment: the
    merchant's ``allow_partial``, else 409); returns the new parcel."""
    if not settings(session).allow_partial:
        raise Problem(
            409, "partial-shipment-not-allowed", "The merchant does not allow partial shipment"
        )
    fo = get(session, fo_id, lock=True)
    if fo.state != S.ready or fo.wave_id is not None:
        raise Problem(409, "not-splittable", f"{fo.number} is {fo.state.value}: not ready")
    take: dict[str, int] = defaultdict(int)
    for line in body.lines:
        take[line.sku_id.hex] += line.quantity
    parts = rules.split_lines(fo.lines, take)
    if parts is None:
        raise Problem(
            422, "split-invalid", "The parcel does not hold those units, or nothing would stay"
        )
    stay, move = parts
    order = order_service.get_order(session, uuid.UUID(move[0]["order_id"]))
    assert order is not None
    fo.lines = stay
    new = _new(
        session, order, fo.warehouse_id, move, S.ready, fo.ship_by, f"split from {fo.number}"
    )
    new.order_ids = sorted({li["order_id"] for li in move})
    new.merge_key = fo.merge_key
    fo.order_ids = sorted({li["order_id"] for li in stay})
    session.add(
        FulfillmentEvent(
            fo_id=fo.id,
            from_state=fo.state,
            to_state=fo.state,
            note=f"split: {new.number}",
            actor=actor_of(session)[:80],
            at=utcnow(),
        )
    )
    session.flush()
    audit.record(session, "fulfillment.split", f"fulfillment:{fo.id}", {"into": str(new.id)})
    return read(session, new)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def get(session: Session, fo_id: uuid.UUID, *, lock: bool = False) -> FulfillmentOrder:
    found = repository.get(session, fo_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such fulfilment order")
    return found


def read(session: Session, fo: FulfillmentOrder) -> FulfillmentOrderRead:
    return FulfillmentOrderRead(
        id=fo.id,
        number=fo.number,
        order_id=fo.order_id,
        order_ids=[uuid.UUID(o) for o in fo.order_ids],
        shop_id=fo.shop_id,
        warehouse_id=fo.warehouse_id,
        state=fo.state,
        held_state=fo.held_state,
        merged_into_id=fo.merged_into_id,
        wave_id=fo.wave_id,
        ship_by=fo.ship_by,
        lines=[
            FoLineRead(
                order_id=uuid.UUID(li["order_id"]),
                sku_id=uuid.UUID(li["sku_id"]),
                sku=li["sku"],
                quantity=li["quantity"],
                location=li.get("location"),
            )
            for li in fo.lines
        ],
        scanned=dict(fo.scanned),
        scan_errors=fo.scan_errors,
        weight_grams=fo.weight_grams,
        created_at=fo.created_at,
        updated_at=fo.updated_at,
    )


def detail(session: Session, fo_id: uuid.UUID) -> FulfillmentOrderDetail:
    fo = get(session, fo_id)
    return FulfillmentOrderDetail(
        **read(session, fo).model_dump(),
        history=[FoEventRead.model_validate(e) for e in repository.events(session, fo.id)],
    )


def find(
    session: Session,
    *,
    state: FoState | None,
    warehouse_id: uuid.UUID | None,
    wave_id: uuid.UUID | None,
    order_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[FulfillmentOrderRead], str | None]:
    stmt = repository.fulfillment_orders(state, warehouse_id, wave_id, order_id)
    rows, next_cursor = paginate(session, stmt, FulfillmentOrder.id, cursor, limit)
    return [read(session, r) for r in rows], next_cursor
