"""Parcels waiting for stock wake when a receipt brings it: the receipt's event tries them
again, the oldest first; one still short keeps waiting with its exception open."""

from __future__ import annotations

from sqlalchemy import select

from daiyun.core import db
from daiyun.core.events import service as events
from daiyun.core.events.models import OutboxEvent
from daiyun.platform.fulfillment import service
from daiyun.platform.fulfillment import tasks as _subscribers  # noqa: F401 (registers them)
from daiyun.platform.fulfillment.schemas import ExceptionKind, FoState
from daiyun.platform.warehouse import service as warehouse
from tests.platform.fulfillment.conftest import Floor


def _deliver_receipts(floor: Floor) -> list[str]:
    ran: list[str] = []
    with db.unit_of_work(floor.tenant_id) as session:
        received = select(OutboxEvent.id).where(OutboxEvent.topic == warehouse.STOCK_RECEIVED)
        for event_id in list(session.scalars(received.order_by(OutboxEvent.id))):
            ran += events.handle(session, event_id)
    return ran


def _open_shortages(floor: Floor) -> int:
    with db.unit_of_work(floor.tenant_id) as session:
        found, _ = service.find_exceptions(session, True, ExceptionKind.out_of_stock, None, 50)
    return len(found)


def test_a_receipt_wakes_the_parcels_waiting_for_stock(floor: Floor) -> None:
    first = floor.order("W1", [("TEA", 3)])
    second = floor.order("W2", [("TEA", 4)], buyer="李四")
    assert {p.state for p in floor.parcels()} == {FoState.awaiting_stock}
    assert _open_shortages(floor) == 2

    floor.room.receive("TEA", 5)  # enough for the older order only
    assert any(name.endswith("wake_on_receipt") for name in _deliver_receipts(floor))
    assert [p.state for p in floor.parcels(first)] == [FoState.ready]
    assert [p.state for p in floor.parcels(second)] == [FoState.awaiting_stock]
    assert _open_shortages(floor) == 1

    floor.room.receive("TEA", 10)
    _deliver_receipts(floor)
    assert {p.state for p in floor.parcels()} == {FoState.ready}
    assert _open_shortages(floor) == 0
    assert floor.room.stock("TEA") == (15, 7, 8)
