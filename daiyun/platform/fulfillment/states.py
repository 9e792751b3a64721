"""A parcel's states and the one function that moves it: every transition is checked against
the state machine and logged with its actor. Also the merchant's settings, and a parcel's read
shape: what every other fulfilment module builds on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.fulfillment import repository, rules
from daiyun.platform.fulfillment.models import (
    FoState,
    FulfillmentEvent,
    FulfillmentOrder,
    FulfillmentSettings,
)
from daiyun.platform.fulfillment.schemas import (
    FoLineRead,
    FulfillmentOrderRead,
    SettingsIn,
    SettingsRead,
)

S = FoState
ACTOR = "system:fulfillment"
# States a parcel is done with: nothing follows its order any more.
DONE = frozenset({S.cancelled, S.merged, S.shipped, S.delivered})


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
    *,
    flush: bool = True,
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
    if flush:  # a caller moving many parcels at once flushes them together
        session.flush()


def new_parcel(
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
