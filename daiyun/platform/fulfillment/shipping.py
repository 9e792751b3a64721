"""The ship step (发货): a packed parcel gets its carrier's waybill, its label, leaves the
stock ledger, and its tracking number goes to the marketplace; the carrier's tracking then
moves it to delivered (or to an exception).

- **Carrier.** The merchant's carrier rules choose (first match by priority on warehouse,
  destination province and weight; none matching: :data:`DEFAULT_CARRIER`), unless the
  operator names one. The waybill is asked for with the parcel's number as the order reference,
  so a ship retried after a lost answer gets the same waybill, never a second one.
- **Refusals.** An address the carrier does not serve puts the parcel in exception
  (``address_unserviceable``, through the parcel service) and :class:`Unserviceable` says so;
  any other refusal is a 422; a carrier unavailable a 503 (nothing changed).
- **One shipment per parcel.** The shipment row is unique per parcel: shipping again answers
  the shipment there is.
- **Stock** leaves the ledger through the warehouse (the parcel's reserved lines are consumed).
- **Billing**: the orders shipped and the pick lines become billing service facts, once each
  (:mod:`.billing_facts`, from an event of the shipping transaction).
- **Tracking push** (发货回传) is a task's (:mod:`.shipping_tasks`): each marketplace order the
  parcel carries is told once (``pushes``), a 5xx/429 is retried with backoff (``pending`` with
  ``next_push_at``), a refusal waits for a person (``refused``); a claim leases the shipment so
  two workers never send at once, and the connector answers a repeat as a duplicate.

Every function flushes; none commits (the task functions own their transactions).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.connectors import carriers
from daiyun.connectors import service as shop_service
from daiyun.connectors import shipments as marketplace
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.events.service import emit
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.fulfillment import billing_facts, repository, service
from daiyun.platform.fulfillment import shipping_repository as queries
from daiyun.platform.fulfillment.labels import LabelData, Party, label_pdf
from daiyun.platform.fulfillment.models import (
    CarrierRule,
    ExceptionKind,
    FoState,
    FulfillmentOrder,
    PushStatus,
    Shipment,
    ShipmentStatus,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.warehouse import reservations
from daiyun.platform.warehouse import service as warehouse

SHIPPED = "fulfillment.shipped"
DEFAULT_CARRIER = "zto"
# Weight assumed for a parcel packed without one (grams).
DEFAULT_WEIGHT = 500
# Backoff of the tracking push after a retryable failure, by attempt; the last one repeats.
PUSH_BACKOFF = (60, 300, 900, 3600, 6 * 3600)
# A claimed push is someone's for this long: a worker that died mid-push is replaced after it.
CLAIM_LEASE = timedelta(minutes=5)


class Unserviceable(Exception):
    """The carrier does not deliver to the parcel's address: the parcel is in exception now."""


# --------------------------------------------------------------------------------------------
# Carrier rules
# --------------------------------------------------------------------------------------------


def carrier_rules(session: Session) -> list[CarrierRule]:
    return queries.carrier_rules(session)


def set_carrier_rules(session: Session, rows: list[dict[str, Any]]) -> list[CarrierRule]:
    """Replace the merchant's rules (in the order given: that order is their priority)."""
    for rule in queries.carrier_rules(session):
        session.delete(rule)
    session.flush()
    for priority, row in enumerate(rows, start=1):
        if row["carrier"] not in carriers.CARRIER_CODES:
            raise Problem(422, "unknown-carrier", f"No carrier {row['carrier']!r}")
        if row.get("warehouse_id") is not None:
            try:  # a rule naming a warehouse that does not exist is bad input, not a 500
                warehouse.get_warehouse(session, row["warehouse_id"])
            except Problem as exc:
                raise Problem(422, "unknown-warehouse", "No such warehouse") from exc
        session.add(CarrierRule(priority=priority, **row))
    session.flush()
    audit.record(session, "fulfillment.carrier_rules.set", "carrier-rules", {"rules": len(rows)})
    return queries.carrier_rules(session)


def choose_carrier(
    rules_: list[CarrierRule], warehouse_id: uuid.UUID | None, province: str, weight: int
) -> str:
    """The first rule matching the parcel, or the default carrier."""
    for rule in rules_:
        if rule.warehouse_id is not None and rule.warehouse_id != warehouse_id:
            continue
        if rule.provinces and province not in rule.provinces:
            continue
        if rule.max_weight_grams is not None and weight > rule.max_weight_grams:
            continue
        return rule.carrier
    return DEFAULT_CARRIER


# --------------------------------------------------------------------------------------------
# Ship
# --------------------------------------------------------------------------------------------


def _address_text(address: dict[str, Any]) -> str:
    parts = ("province", "city", "district", "address1", "address2")
    return " ".join(str(address.get(k)) for k in parts if address.get(k))


def _recipient(order: Any) -> carriers.Address:
    address = dict(order.shipping_address or {})
    return carriers.Address(
        name=str(address.get("name") or order.buyer_name or "-"),
        phone=str(address.get("phone") or order.buyer_phone or "-"),
        province=str(address.get("province") or "-"),
        city=str(address.get("city") or "-"),
        district=str(address.get("district") or ""),
        address=" ".join(str(address.get(k)) for k in ("address1", "address2") if address.get(k))
        or "-",
    )


def _sender(session: Session, warehouse_id: uuid.UUID | None) -> carriers.Address:
    if warehouse_id is None:
        raise Problem(409, "no-warehouse", "The parcel has no warehouse to ship from")
    found = warehouse.get_warehouse(session, warehouse_id)
    address = dict(found.address or {})
    return carriers.Address(
        name=found.name,
        phone=str(address.get("phone") or "-"),
        province=str(address.get("province") or "-"),
        city=str(address.get("city") or "-"),
        district=str(address.get("district") or ""),
        address=_address_text(address) or found.name,
    )


def ship(
    session: Session, fo_id: uuid.UUID, *, carrier: str | None = None, actor: str | None = None
) -> Shipment:
    """Ship a packed parcel (see the module's docstring); the shipment there is if shipped."""
    fo = repository.get(session, fo_id, lock=True)
    if fo is None:
        raise Problem(404, "not-found", "No such fulfilment order")
    existing = queries.shipment_for(session, fo.id)
    if existing is not None:
        return existing
    if fo.state != FoState.packed:
        raise Problem(
            409, "not-packed", f"Fulfilment order {fo.number} is {fo.state.value}, not packed"
        )
    order = order_service.get_order(session, fo.order_id)
    if order is None:
        raise Problem(404, "not-found", "The parcel's order is gone")
    recipient = _recipient(order)
    sender = _sender(session, fo.warehouse_id)
    weight = fo.weight_grams or DEFAULT_WEIGHT
    code = carrier or choose_carrier(
        queries.carrier_rules(session), fo.warehouse_id, recipient.province, weight
    )
    items = sum(int(line["quantity"]) for line in fo.lines)
    request = carriers.WaybillRequest(
        order_ref=fo.number,
        sender=sender,
        recipient=recipient,
        weight_grams=weight,
        items=tuple(carriers.Item(str(line["sku"]), int(line["quantity"])) for line in fo.lines),
    )
    try:
        waybill = carriers.request_waybill(code, request)
    except carriers.CarrierRefused as exc:
        if exc.not_serviceable:
            service.raise_exception(
                session, None, fo.id, ExceptionKind.address_unserviceable, str(exc)
            )
            raise Unserviceable(str(exc)) from exc
        raise Problem(422, "carrier-refused", str(exc)) from exc
    except carriers.CarrierUnavailable as exc:
        raise Problem(503, "carrier-unavailable", str(exc)) from exc
    shop = shop_service.get(session, fo.shop_id)
    who = (actor or service.actor_of(session))[:80]
    shipment = Shipment(
        fo_id=fo.id,
        shop_id=fo.shop_id,
        order_ids=list(fo.order_ids or [fo.order_id.hex]),
        carrier=code,
        waybill_no=waybill.waybill_no,
        sort_code=waybill.sort_code[:32],
        destination=waybill.destination[:120],
        weight_grams=weight,
        label={
            "carrier_name": waybill.carrier_name,
            "recipient": [recipient.name, recipient.phone, _party_address(recipient)],
            "sender": [sender.name, sender.phone, _party_address(sender)],
            "reference": fo.number,
            "items": items,
        },
        status=ShipmentStatus.shipped,
        shipped_at=utcnow(),
        shipped_by=who,
        push_status=(
            PushStatus.pending if marketplace.can_ship(shop.channel) else PushStatus.unsupported
        ),
    )
    session.add(shipment)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Shipped at the same moment by someone else: theirs is the shipment.
        found = queries.shipment_for(session, fo.id)
        if found is None:
            raise
        return found
    reservations.ship_lines(session, _stock_lines(fo), who)
    service.transition(session, fo, FoState.shipped, f"{code} {waybill.waybill_no}", who)
    audit.record(
        session,
        "fulfillment.shipped",
        f"fulfillment:{fo.id}",
        {"carrier": code, "waybill_no": waybill.waybill_no},
    )
    # The warehousing work becomes billing facts from the event (each fact once: see
    # billing_facts), whatever the marketplace push does.
    emit(session, billing_facts.PARCEL_SHIPPED, {"shipment_id": str(shipment.id)})
    if shipment.push_status == PushStatus.pending:
        emit(session, SHIPPED, {"shipment_id": str(shipment.id)})
    return shipment


def _party_address(address: carriers.Address) -> str:
    return " ".join(
        p for p in (address.province, address.city, address.district, address.address) if p
    )


def _stock_lines(fo: FulfillmentOrder) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """(order, stock row, units) the parcel carries: what leaves the shelf."""
    return [
        (uuid.UUID(str(line["order_id"])), uuid.UUID(str(line["stock_id"])), int(line["quantity"]))
        for line in fo.lines
        if line.get("stock_id")
    ]


def label(session: Session, shipment_id: uuid.UUID) -> tuple[Shipment, bytes]:
    """The shipment's label, as printed when it shipped."""
    shipment = get(session, shipment_id)
    stored = shipment.label
    pdf = label_pdf(
        LabelData(
            carrier_name=str(stored.get("carrier_name") or shipment.carrier),
            waybill_no=shipment.waybill_no,
            sort_code=shipment.sort_code,
            destination=shipment.destination,
            recipient=Party(*stored["recipient"]),
            sender=Party(*stored["sender"]),
            reference=str(stored.get("reference") or ""),
            weight_grams=shipment.weight_grams,
            items=int(stored.get("items") or 0),
        )
    )
    return shipment, pdf


def get(session: Session, shipment_id: uuid.UUID, *, lock: bool = False) -> Shipment:
    found = queries.shipment(session, shipment_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such shipment")
    return found


# --------------------------------------------------------------------------------------------
# Tracking
# --------------------------------------------------------------------------------------------


def record_tracking(
    session: Session, shipment: Shipment, events: list[carriers.TrackingEvent]
) -> Shipment:
    """Keep the carrier's events; delivered moves the parcel to delivered, an exception to
    exception (once each)."""
    known = {int(e["seq"]) for e in shipment.events}
    fresh = [e for e in events if e.seq not in known]
    shipment.tracked_at = utcnow()
    if not fresh:
        return shipment
    shipment.events = [
        *shipment.events,
        *(
            {
                "seq": e.seq,
                "code": e.code,
                "description": e.description,
                "location": e.location,
                "at": e.at.isoformat(),
            }
            for e in fresh
        ),
    ]
    last = fresh[-1]
    if shipment.status != ShipmentStatus.shipped:
        return shipment
    fo = repository.get(session, shipment.fo_id, lock=True)
    if last.code == carriers.base.DELIVERED:
        shipment.status, shipment.delivered_at = ShipmentStatus.delivered, last.at
        if fo is not None and fo.state == FoState.shipped:
            service.transition(session, fo, FoState.delivered, "carrier: delivered", ACTOR)
    elif last.code == carriers.base.EXCEPTION:
        shipment.status = ShipmentStatus.exception
        if fo is not None and fo.state == FoState.shipped:
            note = f"carrier: {last.description}"[:300]
            service.transition(session, fo, FoState.exception, note, ACTOR)
    session.flush()
    return shipment


ACTOR = "system:carrier"


def refresh_tracking(session: Session, shipment_id: uuid.UUID) -> Shipment:
    """Read the carrier's tracking now (a passing failure answers 503, nothing changed)."""
    shipment = get(session, shipment_id, lock=True)
    try:
        events = carriers.tracking_events(shipment.carrier, shipment.waybill_no)
    except carriers.CarrierUnavailable as exc:
        raise Problem(503, "carrier-unavailable", str(exc)) from exc
    except carriers.CarrierRefused as exc:
        raise Problem(422, "carrier-refused", str(exc)) from exc
    return record_tracking(session, shipment, events)


def repush(session: Session, shipment_id: uuid.UUID) -> Shipment:
    """Send a refused (or waiting) push again now, after a person fixed what was wrong."""
    shipment = get(session, shipment_id, lock=True)
    if shipment.push_status in (PushStatus.pushed, PushStatus.unsupported):
        raise Problem(
            409, "nothing-to-push", f"The push is {shipment.push_status.value}: nothing to send"
        )
    shipment.push_status, shipment.next_push_at = PushStatus.pending, None
    session.flush()
    emit(session, SHIPPED, {"shipment_id": str(shipment.id)})
    return shipment


def push_backoff(attempts: int) -> timedelta:
    return timedelta(seconds=PUSH_BACKOFF[min(max(attempts, 1), len(PUSH_BACKOFF)) - 1])


def lines_for(order: Any, fo: FulfillmentOrder) -> tuple[tuple[str, int], ...]:
    """The marketplace's lines this parcel ships of ``order``: none named when it ships all of
    the order (the marketplaces ship the rest), else its lines by SKU."""
    mine: dict[str, int] = {}
    for line in fo.lines:
        if str(line["order_id"]).replace("-", "") == order.id.hex:
            mine[str(line["sku"])] = mine.get(str(line["sku"]), 0) + int(line["quantity"])
    ordered: dict[str, int] = {}
    for line in order.lines:
        ordered[line.sku] = ordered.get(line.sku, 0) + line.quantity
    if mine == ordered or not mine:
        return ()
    picked: list[tuple[str, int]] = []
    for line in order.lines:
        take = min(line.quantity, mine.get(line.sku, 0))
        if take:
            picked.append((line.external_id, take))
            mine[line.sku] -= take
    return tuple(picked)


__all__ = [
    "DEFAULT_CARRIER",
    "SHIPPED",
    "Unserviceable",
    "carrier_rules",
    "choose_carrier",
    "delivered_between",
    "find",
    "get",
    "label",
    "lines_for",
    "push_backoff",
    "recent",
    "record_tracking",
    "refresh_tracking",
    "repush",
    "set_carrier_rules",
    "ship",
]


def find(
    session: Session,
    status: ShipmentStatus | None,
    push_status: PushStatus | None,
    fo_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Shipment], str | None]:
    """Shipments in id order (ids grow with time), by status, push status or parcel."""
    return paginate(
        session, queries.shipments(status, push_status, fo_id), Shipment.id, cursor, limit
    )


def recent(session: Session, push_status: PushStatus | None, limit: int) -> list[Shipment]:
    """The newest shipments first (for the pages), by push status."""
    return queries.recent(session, push_status, limit)


def delivered_between(
    session: Session, start: datetime, end: datetime, limit: int = 5000
) -> list[tuple[uuid.UUID, datetime]]:
    """(order, delivered at) for every order in a parcel the carrier delivered in [start, end),
    oldest first: what after-sales' follow-ups start from. A merged parcel (合单) names each of
    its orders."""
    return [
        (uuid.UUID(hex_id), at)
        for order_ids, at in queries.delivered_between(session, start, end, limit)
        for hex_id in order_ids
    ]
