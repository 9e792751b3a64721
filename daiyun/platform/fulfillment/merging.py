"""Merging (合单) and splitting (拆单) parcels.

Ready parcels of one buyer, one shop and one address in one warehouse, not yet in a wave, may ship
as one: one carries every line (the one due first when merged automatically, the one named when
an operator merges), the others become ``merged`` (pointing at it), and the parcel is due when
the first of them was. A
ready parcel may be split in two when the merchant allows partial shipment.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.fulfillment import repository, rules
from daiyun.platform.fulfillment.models import FoState, FulfillmentEvent, FulfillmentOrder
from daiyun.platform.fulfillment.schemas import FulfillmentOrderRead, MergeSuggestion, SplitIn
from daiyun.platform.fulfillment.states import (
    actor_of,
    get,
    new_parcel,
    read,
    settings,
    transition,
)
from daiyun.platform.orders import service as order_service

S = FoState
# --------------------------------------------------------------------------------------------
# Merge (合单) and split (拆单)
# --------------------------------------------------------------------------------------------


def _merge(
    session: Session, parcels: list[FulfillmentOrder], host: FulfillmentOrder | None = None
) -> FulfillmentOrder:
    """Move every parcel's lines into ``host`` (by default the one due first)."""
    if host is None:
        far = datetime.max.replace(tzinfo=parcels[0].created_at.tzinfo)
        host = min(parcels, key=lambda f: (f.ship_by or far, f.created_at, f.id))
    host.ship_by = min((f.ship_by for f in parcels if f.ship_by), default=host.ship_by)
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


def auto_merge(session: Session, fo: FulfillmentOrder) -> FulfillmentOrder:
    group = [
        f
        for f in repository.merge_candidates(session, fo.merge_key)
        if f.warehouse_id == fo.warehouse_id
    ]
    return _merge(session, group) if len(group) > 1 else fo


def merge(session: Session, host_id: uuid.UUID, ids: list[uuid.UUID]) -> FulfillmentOrderRead:
    """Merge ready parcels into ``host_id`` (合单): all of one buyer, shop, address and
    warehouse, ready and not yet in a wave (409 ``not-mergeable`` otherwise; 422 for parcels
    that do not exist). The host carries every line; the others become ``merged``."""
    host = get(session, host_id, lock=True)
    unique = [i for i in dict.fromkeys(ids) if i != host_id]
    parcels = repository.many(session, unique, lock=True)
    if len(parcels) != len(unique):
        raise Problem(422, "unknown-fulfillment-order", "Some fulfilment orders do not exist")
    if not parcels:
        raise Problem(422, "not-mergeable", "Name another parcel to merge into this one")
    together = [host, *parcels]
    if any(f.state != S.ready or f.wave_id is not None for f in together):
        raise Problem(409, "not-mergeable", "Only ready parcels not in a wave merge")
    if len({(f.merge_key, f.warehouse_id) for f in together}) != 1:
        raise Problem(
            409, "not-mergeable", "Only one buyer's parcels to one address from one warehouse"
        )
    return read(session, _merge(session, together, host))


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
    new = new_parcel(
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
