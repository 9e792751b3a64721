"""Returns and storage become billing service facts once: one ``returns`` fact per return
receipt however often its event is delivered, and one ``pallet_days`` fact per warehouse and
day (the warehouse's day) counting the bins that hold the merchant's stock, kept as first
counted when the hourly task runs again that day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from daiyun.billing.models import ServiceFactRecord
from daiyun.core import db
from daiyun.core.events import service as events
from daiyun.core.events.models import OutboxEvent
from daiyun.platform.warehouse import billing_facts, service
from daiyun.platform.warehouse import tasks as warehouse_tasks
from daiyun.platform.warehouse.models import ReceiptKind
from daiyun.platform.warehouse.schemas import ReceiptCreate, ReceivedLine
from tests.conftest import World
from tests.platform.warehouse.conftest import Stockroom, make_site, seed_catalog

# 17:00 UTC is already the next day in Shanghai, the warehouses' time zone.
EVENING = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)


def _facts(tenant_id: uuid.UUID) -> dict[str, tuple[str, str, date]]:
    with db.unit_of_work(tenant_id) as session:
        rows = session.scalars(
            select(ServiceFactRecord).where(ServiceFactRecord.idempotency_key.like("warehouse:%"))
        )
        return {r.idempotency_key: (r.kind, r.quantity, r.occurred_on) for r in rows}


def _deliver(tenant_id: uuid.UUID, times: int) -> None:
    with db.unit_of_work(tenant_id) as session:
        ids = list(
            session.scalars(select(OutboxEvent.id).where(OutboxEvent.topic == "stock.received"))
        )
    for _ in range(times):
        for event_id in ids:
            with db.unit_of_work(tenant_id) as session:
                events.handle(session, event_id)


def _return(room: Stockroom, quantity: int) -> uuid.UUID:
    line = ReceivedLine(sku_id=room.skus["TEA"], quantity=quantity, location_id=room.hz.cage)
    body = ReceiptCreate(
        warehouse_id=room.hz.id, kind=ReceiptKind.return_, reference="AS-1", received=[line]
    )
    with db.unit_of_work(room.tenant.id) as session:
        return service.create_receipt(session, body).id


def test_a_return_receipt_is_billed_once_and_a_plain_receipt_not_at_all(room: Stockroom) -> None:
    assert warehouse_tasks.billing_facts.bill_returns  # subscribed on import
    room.receive("TEA", 5)  # goods in from the merchant: receiving, not a return
    receipt_id = _return(room, 1)
    _deliver(room.tenant.id, times=2)  # a redelivered event bills nothing more
    with db.unit_of_work(room.tenant.id) as session:
        assert billing_facts.record_return(session, receipt_id) is False  # a direct retry
    facts = _facts(room.tenant.id)
    assert list(facts) == [billing_facts.return_key(receipt_id)]
    kind, quantity, _ = facts[billing_facts.return_key(receipt_id)]
    assert (kind, quantity) == ("returns", "1")


def test_storage_counts_occupied_bins_per_warehouse_once_a_day(room: Stockroom) -> None:
    room.receive("TEA", 5)  # HZ shelf
    room.receive("CUP", 2, bin=room.hz.cage)  # HZ cage: a second bin
    room.receive("CUP", 1, site=room.sz)  # SZ shelf
    with db.unit_of_work(room.tenant.id) as session:
        assert billing_facts.record_storage(session, EVENING) == 2
    day = date(2026, 12, 7)
    hz, sz = (billing_facts.storage_key(site.id, day) for site in (room.hz, room.sz))
    assert _facts(room.tenant.id) == {
        hz: ("pallet_days", "2", day),
        sz: ("pallet_days", "1", day),
    }
    room.receive("TEA", 1, site=room.sz, bin=room.sz.cage)  # the count of the day stays
    with db.unit_of_work(room.tenant.id) as session:
        assert billing_facts.record_storage(session, EVENING + timedelta(hours=1)) == 0
    assert _facts(room.tenant.id)[sz] == ("pallet_days", "1", day)
    with db.unit_of_work(room.tenant.id) as session:
        assert billing_facts.record_storage(session, EVENING + timedelta(days=1)) == 2
    next_day = billing_facts.storage_key(room.sz.id, date(2026, 12, 8))
    assert _facts(room.tenant.id)[next_day] == ("pallet_days", "2", date(2026, 12, 8))


def test_the_daily_task_counts_each_merchant_own_bins(room: Stockroom, world: World) -> None:
    other = world.tenant()
    seed_catalog(other)
    room.receive("TEA", 5)
    warehouse_tasks.storage_count.run(now=EVENING)
    day = date(2026, 12, 7)
    assert _facts(room.tenant.id) == {
        billing_facts.storage_key(room.hz.id, day): ("pallet_days", "1", day)
    }
    assert _facts(other.id) == {}  # holding nothing, billed nothing
    make_site(f"X{uuid.uuid4().hex[:6].upper()}", 30)  # an empty warehouse bills nobody
    warehouse_tasks.storage_count.run(now=EVENING)
    assert len(_facts(room.tenant.id)) == 1
