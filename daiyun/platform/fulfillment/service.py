"""The fulfilment service: parcels following their orders, intercepts, exceptions.

A parcel follows its order as the order is now (each event only names the order, like the
warehouse's reservations): the order's reserved lines, grouped by warehouse, are what its live
parcels must carry. When they already do nothing happens, so duplicate or late events are
harmless. An order called off before shipment is intercepted (拦截): parcels still untouched
are cancelled; one on a pick list, picked or packed is pulled out of its wave and an exception
tells the floor to put the goods back. The stock itself is the warehouse's: its reservation is
released with the order.

States and transitions live in ``states``, merging and splitting in ``merging``, waves in
``waves``, the pack station in ``pack``. Every function flushes; none commits.
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
from daiyun.platform.fulfillment import merging, repository, rules
from daiyun.platform.fulfillment.merging import merge, merge_suggestions, split
from daiyun.platform.fulfillment.models import (
    ExceptionKind,
    FoState,
    FulfillmentException,
    FulfillmentOrder,
    MergeMode,
)
from daiyun.platform.fulfillment.rules import Resolution
from daiyun.platform.fulfillment.schemas import (
    ExceptionRead,
    FoEventRead,
    FulfillmentOrderDetail,
    FulfillmentOrderRead,
)
from daiyun.platform.fulfillment.states import (
    ACTOR,
    DONE,
    actor_of,
    get,
    new_parcel,
    read,
    set_settings,
    settings,
    transition,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.warehouse import reservations
from daiyun.platform.warehouse import service as warehouse

# What other modules and departments call through the service (the ship step's transitions
# and exceptions, the API's merging and settings).
__all__ = [
    "ACTOR",
    "actor_of",
    "detail",
    "find",
    "find_exceptions",
    "flag_deadlines",
    "get",
    "merge",
    "merge_suggestions",
    "raise_exception",
    "read",
    "resolve",
    "set_settings",
    "settings",
    "split",
    "sync_order",
    "transition",
]

S = FoState
# Order statuses after which the parcel is the ship step's, not the order book's to change.
_SHIPPED = frozenset({"fulfilled", "shipped", "delivered"})
# Parcels waiting for stock tried again per receipt (the oldest first; the rest at the next).
WAKE_BATCH = 500


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
    parcels = [f for f in repository.for_order(session, order_id) if f.state not in DONE]
    hex_id = order_id.hex
    shipped = held.status is not None and held.status.value == "shipped"
    if order.status.value in _SHIPPED or shipped:
        return parcels
    if held.status is None or held.status.value == "released":
        for fo in parcels:
            _intercept(session, fo, hex_id, f"order {order.status.value}")
        return [f for f in parcels if f.state not in DONE]
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
            fo = new_parcel(session, order, None, [], S.awaiting_stock, ship_by, "short of stock")
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
            fo = new_parcel(session, order, warehouse_id, lines, S.ready, ship_by, "stock reserved")
        created.append(fo)
    for fo in reusable:
        transition(session, fo, S.cancelled, "order changed", ACTOR)
    session.flush()
    if settings(session).merge_mode == MergeMode.auto:
        created = [merging.auto_merge(session, fo) for fo in created]
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
    if kind in rules.BLOCKING and fo.state not in (S.exception, *DONE):
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
        if fo.state not in DONE:
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


def wake_waiting(session: Session, limit: int = WAKE_BATCH) -> int:
    """Try the parcels waiting for stock again, the oldest first (stock came in): each order's
    reservation is brought in line and its parcels follow it (ready, the ``out_of_stock``
    exception closed) or keep waiting. Returns how many parcels are ready now."""
    woken = 0
    for order_id in dict.fromkeys(fo.order_id for fo in repository.awaiting_stock(session, limit)):
        reservations.sync_order(session, order_id)
        woken += sum(1 for fo in sync_order(session, order_id) if fo.state != S.awaiting_stock)
    return woken


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
