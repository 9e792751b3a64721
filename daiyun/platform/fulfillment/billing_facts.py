"""Warehousing work as billing service facts: each order a parcel ships and each pick line.

When a parcel ships, the ship step emits :data:`PARCEL_SHIPPED`; its subscriber records, through
billing's service, one ``orders_shipped`` fact per order the parcel carries and one ``picks``
fact per line of its pick list. Each fact's idempotency key is derived from the parcel's id and
the order's id or the line's position (a shipped parcel's lines never change), and every field
of the fact comes from the shipment as stored, so recording again (a redelivered event, a
retried task, a push asked for again) answers the facts already there: nothing is billed twice.
The contracts' warehousing fees price these quantities; the facts carry no amount.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.orm import Session

from daiyun.billing import service as billing
from daiyun.billing.facts import ServiceKind
from daiyun.billing.schemas import ServiceFactCreate
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.platform.fulfillment import repository
from daiyun.platform.fulfillment import shipping_repository as queries
from daiyun.platform.fulfillment.models import FulfillmentOrder, Shipment

PARCEL_SHIPPED = "fulfillment.parcel_shipped"
# Quantity facts carry no amount; the currency is only the field's required value.
CURRENCY = "CNY"


def shipped_key(fo_id: uuid.UUID, order_hex: str) -> str:
    return f"fulfillment:{fo_id}:shipped:{order_hex}"


def pick_key(fo_id: uuid.UUID, position: int) -> str:
    return f"fulfillment:{fo_id}:pick:{position}"


def record(session: Session, shipment: Shipment, fo: FulfillmentOrder) -> int:
    """The shipment's facts, each once; returns how many were new."""
    day = shipment.shipped_at.date()
    facts: list[tuple[str, ServiceFactCreate]] = []
    for order_hex in shipment.order_ids:
        facts.append(
            (
                shipped_key(fo.id, order_hex),
                ServiceFactCreate(
                    kind=ServiceKind.orders_shipped,
                    occurred_on=day,
                    currency=CURRENCY,
                    description=f"{fo.number} {shipment.carrier} {shipment.waybill_no}",
                ),
            )
        )
    for position, line in enumerate(fo.lines, start=1):
        facts.append(
            (
                pick_key(fo.id, position),
                ServiceFactCreate(
                    kind=ServiceKind.picks,
                    occurred_on=day,
                    quantity=Decimal(1),
                    currency=CURRENCY,
                    description=f"{fo.number} {line['sku']} x {int(line['quantity'])}"[:500],
                ),
            )
        )
    return sum(billing.record_fact(session, key, body)[1] for key, body in facts)


def record_shipment(session: Session, shipment_id: uuid.UUID) -> int:
    """The facts of one shipment (see :func:`record`); none if it is gone."""
    shipment = queries.shipment(session, shipment_id)
    if shipment is None:
        return 0
    fo = repository.get(session, shipment.fo_id)
    return 0 if fo is None else record(session, shipment, fo)


@subscribe(PARCEL_SHIPPED)
def bill_when_shipped(session: Session, event: OutboxEvent) -> None:
    """A parcel shipped: its warehousing work becomes billing facts (once each)."""
    record_shipment(session, uuid.UUID(event.payload["shipment_id"]))
