"""The pack station (复核打包): each scanned barcode is checked against the parcel's lines.

A barcode answers to a SKU by its barcode or its code. A SKU the parcel does not hold, or one
more unit than it holds, is refused on the spot (the API answers 422 naming what was scanned)
and counted as a scan error (pick accuracy is measured from them). Finishing needs every unit
scanned, and records the parcel's weight.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.fulfillment import rules
from daiyun.platform.fulfillment.models import FoState, FulfillmentOrder
from daiyun.platform.fulfillment.schemas import FulfillmentOrderRead, ScanRead
from daiyun.platform.fulfillment.states import actor_of, get, read, transition
from daiyun.platform.warehouse import service as warehouse

S = FoState


def _packable(fo: FulfillmentOrder) -> None:
    if fo.state != S.picked:
        raise Problem(
            409, "not-packable", f"{fo.number} is {fo.state.value}: only a picked parcel packs"
        )


def _codes(session: Session, fo: FulfillmentOrder) -> tuple[dict[str, str], dict[str, str]]:
    """What each SKU of the parcel answers to (barcode and code), and each SKU's code."""
    codes: dict[str, str] = {}
    names: dict[str, str] = {}
    for sku_hex in rules.units(fo.lines):
        sku = warehouse.sku(session, uuid.UUID(sku_hex))
        names[sku_hex] = sku.code
        codes[sku.code] = sku_hex
        if sku.barcode:
            codes[sku.barcode] = sku_hex
    return codes, names


@dataclass(frozen=True)
class Refusal:
    """A scan refused: the problem's kind and what it says. The refusal is an answer, not an
    error, so the scan error it counts is kept (the caller answers 422 and still commits)."""

    kind: str
    detail: str


def scan(session: Session, fo_id: uuid.UUID, barcode: str) -> ScanRead | Refusal:
    """Check one scan: the SKU's progress, or a refusal (``wrong-item``: the parcel does not
    hold it; ``too-many``: all its units are scanned already), counted as a scan error."""
    fo = get(session, fo_id, lock=True)
    _packable(fo)
    codes, names = _codes(session, fo)
    wanted = rules.units(fo.lines)
    verdict, key = rules.check_scan(barcode, wanted, fo.scanned, codes)
    if verdict != rules.ScanVerdict.ok:
        fo.scan_errors += 1
        session.flush()
        if verdict == rules.ScanVerdict.wrong_item:
            return Refusal("wrong-item", f"{barcode} is not in parcel {fo.number}")
        assert key is not None
        return Refusal(
            "too-many", f"{names[key]}: parcel {fo.number} holds {wanted[key]}, all scanned"
        )
    assert key is not None
    fo.scanned = {**fo.scanned, key: fo.scanned.get(key, 0) + 1}
    session.flush()
    return ScanRead(
        fo_id=fo.id,
        sku_id=uuid.UUID(key),
        sku=names[key],
        scanned=fo.scanned[key],
        wanted=wanted[key],
        complete=rules.complete(wanted, fo.scanned),
    )


def finish(session: Session, fo_id: uuid.UUID, weight_grams: int) -> FulfillmentOrderRead:
    """Close the parcel once every unit is scanned (409 ``not-all-scanned`` otherwise), with
    its weight."""
    fo = get(session, fo_id, lock=True)
    _packable(fo)
    wanted = rules.units(fo.lines)
    if not rules.complete(wanted, fo.scanned):
        missing = {k: n - fo.scanned.get(k, 0) for k, n in wanted.items()}
        left = sum(v for v in missing.values() if v > 0)
        raise Problem(409, "not-all-scanned", f"{fo.number}: {left} unit(s) not scanned yet")
    fo.weight_grams = weight_grams
    fo.packed_at = utcnow()
    fo.packed_by = actor_of(session)[:80]
    transition(session, fo, S.packed, f"packed, {weight_grams} g")
    return read(session, fo)
