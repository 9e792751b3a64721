"""Storage and returns as billing service facts: what the contracts' warehousing fees price.

* **Returns** (退货入库): a return receipt that put goods away is one ``returns`` fact. It is
  recorded when the receipt's goods are received (the ``stock.received`` event), keyed on the
  receipt, and every field comes from the receipt as first stored, so a second put-away on the
  same receipt or a redelivered event answers the fact already there.
* **Storage**: each day, each warehouse's bins holding the merchant's stock are one
  ``pallet_days`` fact whose quantity is the number of bins (a bin stands for a pallet place:
  the contracts price storage per pallet-month, by the day). The day is the warehouse's own
  (its time zone) and the count is what the bins hold at the day's first run of the hourly
  task, keyed on the warehouse and the day: a later run of the same day (or a retried or
  doubled beat) keeps the first count rather than billing the day twice, and a missed run is
  made up within the hour.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daiyun.billing import service as billing
from daiyun.billing.facts import ServiceKind
from daiyun.billing.schemas import ServiceFactCreate
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.platform.warehouse import repository
from daiyun.platform.warehouse.models import ReceiptKind
from daiyun.platform.warehouse.service import STOCK_RECEIVED

# Quantity facts carry no amount; the currency is only the field's required value.
CURRENCY = "CNY"


def return_key(receipt_id: uuid.UUID) -> str:
    return f"warehouse:return:{receipt_id}"


def storage_key(warehouse_id: uuid.UUID, day: date) -> str:
    return f"warehouse:storage:{warehouse_id}:{day.isoformat()}"


def record_return(session: Session, receipt_id: uuid.UUID) -> bool:
    """The return receipt's fact, once; False when it is no return, holds nothing or is known."""
    receipt = repository.get_receipt(session, receipt_id)
    if receipt is None or receipt.kind != ReceiptKind.return_ or not receipt.received:
        return False
    body = ServiceFactCreate(
        kind=ServiceKind.returns,
        occurred_on=receipt.created_at.date(),
        currency=CURRENCY,
        description=f"Return {receipt.reference or receipt.id.hex[-12:]}"[:500],
    )
    return billing.record_fact(session, return_key(receipt.id), body)[1]


def record_storage(session: Session, now: datetime) -> int:
    """Today's occupied bins per warehouse (today where the warehouse is), each warehouse once
    a day; returns how many facts were new. A warehouse holding none of the merchant's stock
    bills nothing."""
    new = 0
    for warehouse_id, bins in sorted(repository.occupied_bins(session).items()):
        where = repository.get_warehouse(session, warehouse_id)
        if where is None:
            continue
        day = now.astimezone(ZoneInfo(where.time_zone)).date()
        key = storage_key(warehouse_id, day)
        if billing.fact_by_key(session, key) is not None:
            continue  # the day is counted: a later count would be another figure for it
        body = ServiceFactCreate(
            kind=ServiceKind.pallet_days,
            occurred_on=day,
            quantity=Decimal(bins),
            currency=CURRENCY,
            description=f"{where.code}: {bins} bins on {day.isoformat()}",
        )
        new += billing.record_fact(session, key, body)[1]
    return new


@subscribe(STOCK_RECEIVED)
def bill_returns(session: Session, event: OutboxEvent) -> None:
    """Goods were put away: a return's receipt becomes its billing fact (once)."""
    record_return(session, uuid.UUID(event.payload["receipt_id"]))
