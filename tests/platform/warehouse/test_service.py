"""The warehouse's service on a real database: receipts, adjustments, sellable stock, bundles,
reservations driven by the order's state, allocation, exceptions, transfers. The ledger
invariant is checked after each test (``conftest.room``)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.core.events import service as events
from daiyun.core.events.models import OutboxEvent
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from daiyun.platform.warehouse import reservations, service, transfers
from daiyun.platform.warehouse import tasks as warehouse_tasks
from daiyun.platform.warehouse.models import MoveKind, StockMove
from daiyun.platform.warehouse.repository import get_location
from daiyun.platform.warehouse.schemas import (
    AdjustmentCreate,
    AdjustmentLine,
    ExpectedLine,
    ReceiptCreate,
    ReceivedLine,
    ReceiveIn,
    SkuRuleIn,
    StockSettingsIn,
    TransferCreate,
    TransferLineIn,
    TransferReceive,
    TransferReceivedLine,
)
from tests.conftest import World
from tests.factories import T0
from tests.platform.warehouse.conftest import Stockroom, seed_catalog


def _moves(room: Stockroom, kind: MoveKind | None = None) -> list[StockMove]:
    with db.unit_of_work(room.tenant.id) as session:
        stmt = select(StockMove).order_by(StockMove.id)
        if kind is not None:
            stmt = stmt.where(StockMove.kind == kind)
        return list(session.scalars(stmt))


def _adjust(room: Stockroom, code: str, delta: int, bin: uuid.UUID | None = None) -> None:
    line = AdjustmentLine(sku_id=room.skus[code], location_id=bin or room.hz.shelf, delta=delta)
    with db.unit_of_work(room.tenant.id) as session:
        service.create_adjustment(session, AdjustmentCreate(reason="damaged", lines=[line]))


# --------------------------------------------------------------------------------------------
# Receipts and adjustments
# --------------------------------------------------------------------------------------------


def test_a_receipt_without_an_asn_puts_goods_away_and_records_them(room: Stockroom) -> None:
    room.receive("TEA", 12, lot="L1", expires=date(2027, 3, 1))
    assert room.stock("TEA") == (12, 0, 12)
    [move] = _moves(room)
    assert (move.kind, move.on_hand_delta, move.reason) == (
        MoveKind.receipt,
        12,
        "purchase received",
    )
    assert move.source.startswith("receipt:")


def test_an_asn_is_received_in_parts_and_closes_when_complete(room: Stockroom) -> None:
    tea = room.skus["TEA"]
    with db.unit_of_work(room.tenant.id) as session:
        asn = service.create_receipt(
            session,
            ReceiptCreate(
                warehouse_id=room.hz.id, expected=[ExpectedLine(sku_id=tea, quantity=10)]
            ),
        )
    assert asn.status.value == "expected"
    assert room.stock("TEA") == (0, 0, 0)
    part = ReceivedLine(sku_id=tea, quantity=4, location_id=room.hz.shelf)
    with db.unit_of_work(room.tenant.id) as session:
        assert service.receive(session, asn.id, ReceiveIn(lines=[part])).status.value == "receiving"
    rest = ReceivedLine(sku_id=tea, quantity=6, location_id=room.hz.shelf)
    with db.unit_of_work(room.tenant.id) as session:
        done = service.receive(session, asn.id, ReceiveIn(lines=[rest]))
    assert done.status.value == "closed"
    assert [(line.expected, line.received) for line in done.lines] == [(10, 10)]
    with pytest.raises(Problem) as refused, db.unit_of_work(room.tenant.id) as session:
        service.receive(session, asn.id, ReceiveIn(lines=[rest]))
    assert refused.value.status == 409
    assert room.stock("TEA") == (10, 0, 10)


def test_a_bin_of_another_warehouse_is_refused(room: Stockroom) -> None:
    line = ReceivedLine(sku_id=room.skus["TEA"], quantity=1, location_id=room.sz.shelf)
    with pytest.raises(Problem) as refused, db.unit_of_work(room.tenant.id) as session:
        service.create_receipt(session, ReceiptCreate(warehouse_id=room.hz.id, received=[line]))
    assert (refused.value.status, refused.value.kind) == (422, "unknown-location")
    assert _moves(room) == []


def test_stock_never_goes_negative_unless_the_sku_or_location_allows(room: Stockroom) -> None:
    room.receive("TEA", 3)
    with pytest.raises(Problem) as refused:
        _adjust(room, "TEA", -4)
    assert (refused.value.status, refused.value.kind) == (409, "negative-stock")
    assert room.stock("TEA") == (3, 0, 3)
    _adjust(room, "TEA", -3)
    assert room.stock("TEA") == (0, 0, 0)
    with db.unit_of_work(room.tenant.id) as session:
        service.set_stock_settings(
            session, StockSettingsIn(skus=[SkuRuleIn(sku_id=room.skus["TEA"], allow_negative=True)])
        )
    _adjust(room, "TEA", -2)
    assert room.stock("TEA")[0] == -2
    with pytest.raises(Problem):
        _adjust(room, "CUP", -1)
    # A bin that allows it (a staging area booked before counting): CUP may go below zero there.
    with db.unit_of_work() as session:
        location = get_location(session, room.hz.cage)
        assert location is not None
        location.allow_negative = True
    _adjust(room, "CUP", -1, bin=room.hz.cage)
    [adjustment] = _moves(room, MoveKind.adjustment)[-1:]
    assert (adjustment.on_hand_delta, adjustment.reason) == (-1, "damaged")


def test_the_ledger_is_append_only(room: Stockroom) -> None:
    room.receive("TEA", 5)
    with pytest.raises(DBAPIError), db.unit_of_work(room.tenant.id) as session:
        session.execute(update(StockMove).values(on_hand_delta=50))
    with pytest.raises(DBAPIError), db.unit_of_work(room.tenant.id) as session:
        session.execute(text("delete from stock_ledger"))
    assert [m.on_hand_delta for m in _moves(room)] == [5]


# --------------------------------------------------------------------------------------------
# Sellable stock and bundles
# --------------------------------------------------------------------------------------------


def test_sellable_is_on_hand_less_reserved_less_safety_stock(room: Stockroom) -> None:
    room.receive("TEA", 10)
    with db.unit_of_work(room.tenant.id) as session:
        service.set_stock_settings(
            session,
            StockSettingsIn(
                skus=[SkuRuleIn(sku_id=room.skus["TEA"], warehouse_id=room.hz.id, safety_stock=3)]
            ),
        )
    room.sync(room.order("o1", quantity=2))
    assert room.stock("TEA") == (10, 2, 5)


def test_a_bundle_sells_as_often_as_its_scarcest_part(room: Stockroom) -> None:
    room.receive("TEA", 9)
    room.receive("CUP", 10)
    assert room.stock("SET") == (4, 0, 4)  # 9 // 2 TEA
    room.receive("TEA", 20, room.sz)
    room.receive("CUP", 3, room.sz)
    assert room.stock("SET", room.sz) == (3, 0, 3)  # 3 // 1 CUP


def test_a_bundle_order_reserves_its_parts(room: Stockroom) -> None:
    room.receive("TEA", 10)
    room.receive("CUP", 10)
    room.sync(room.order("b1", sku="SET", quantity=3))
    assert room.stock("TEA")[:2] == (10, 6)
    assert room.stock("CUP")[:2] == (10, 3)
    assert room.stock("SET") == (5, 0, 2)


# --------------------------------------------------------------------------------------------
# Reservations across the order's life
# --------------------------------------------------------------------------------------------


def test_a_paid_order_reserves_first_expiry_first(room: Stockroom) -> None:
    room.receive("TEA", 5, lot="LATE", expires=date(2027, 12, 1))
    room.receive("TEA", 2, lot="SOON", expires=date(2027, 1, 1))
    room.receive("TEA", 5)  # no expiry: last
    order = room.order("f1", quantity=4)
    assert room.sync(order) == "reserved"
    with db.unit_of_work(room.tenant.id) as session:
        held = reservations.get_reservation(session, order)
        stock, _ = service.find_stock(
            session, sku_id=room.skus["TEA"], warehouse_id=None, cursor=None, limit=5
        )
    by_stock = {b.lot: b.reserved for b in stock[0].batches}
    assert by_stock == {"SOON": 2, "LATE": 2, None: 0}
    assert sum(line.quantity for line in held.lines) == 4


def test_duplicate_and_out_of_order_events_change_nothing(room: Stockroom) -> None:
    room.receive("TEA", 10)
    order = room.order("d1", quantity=3)
    room.sync(order)
    before = len(_moves(room))
    room.sync(order)
    room.sync(order)
    assert len(_moves(room)) == before
    assert room.stock("TEA")[:2] == (10, 3)
    room.order("d1", quantity=3, status=OrderStatus.cancelled, updated_minutes=10)
    room.sync(order)
    # The older "paid" description arrives late: the order book keeps the newer one, and the
    # reservation follows the order as it is.
    room.order("d1", quantity=3, status=OrderStatus.paid, updated_minutes=5)
    room.sync(order)
    assert room.stock("TEA")[:2] == (10, 0)
    assert [m.kind for m in _moves(room)][-1] == MoveKind.release


def test_pending_and_held_orders_reserve_nothing(room: Stockroom) -> None:
    room.receive("TEA", 10)
    assert room.sync(room.order("p1", status=OrderStatus.pending)) is None
    assert room.stock("TEA")[:2] == (10, 0)


def test_a_refund_before_shipment_releases_and_after_shipment_does_not(room: Stockroom) -> None:
    room.receive("TEA", 10)
    room.receive("CUP", 10)
    partial = NormalizedRefund("r1", 100, T0, "one cup less", [{"sku": "TEA", "quantity": 1}])
    order = room.order("r1", quantity=3)
    room.sync(order)
    room.order(
        "r1",
        quantity=3,
        status=OrderStatus.partially_refunded,
        updated_minutes=1,
        refunds=[partial],
    )
    room.sync(order)
    assert room.stock("TEA")[:2] == (10, 2)
    room.order("r1", quantity=3, status=OrderStatus.refunded, updated_minutes=2, refunds=[partial])
    assert room.sync(order) == "released"
    assert room.stock("TEA")[:2] == (10, 0)
    shipped = room.order("s1", quantity=2)
    room.sync(shipped)
    room.order("s1", quantity=2, status=OrderStatus.shipped, updated_minutes=1)
    assert room.sync(shipped) == "shipped"
    assert room.stock("TEA")[:2] == (8, 0)
    room.order("s1", quantity=2, status=OrderStatus.refunded, updated_minutes=2)
    assert room.sync(shipped) == "shipped"
    assert room.stock("TEA")[:2] == (8, 0)
    assert [m.kind for m in _moves(room, MoveKind.shipment)] == [MoveKind.shipment]


def test_allocation_prefers_the_default_warehouse_then_priority(room: Stockroom) -> None:
    room.receive("TEA", 10, room.hz)
    room.receive("TEA", 5, room.sz)
    room.sync(room.order("a1", quantity=2))
    assert room.stock("TEA", room.hz)[1] == 2  # HZ comes first by priority
    with db.unit_of_work(room.tenant.id) as session:
        service.set_stock_settings(session, StockSettingsIn(default_warehouse_id=room.sz.id))
    room.sync(room.order("a2", quantity=2))
    assert room.stock("TEA", room.sz)[1] == 2
    # The default warehouse has 3 left: an order of 4 goes whole to the first that has it all.
    room.sync(room.order("a3", quantity=4))
    assert room.stock("TEA", room.hz)[1] == 6
    assert room.stock("TEA", room.sz)[1] == 2


def test_stock_in_a_bin_not_for_picking_is_not_allocated(room: Stockroom) -> None:
    room.receive("TEA", 5, bin=room.hz.cage)
    order = room.order("q1", quantity=1)
    assert room.sync(order) == "short"
    with db.unit_of_work(room.tenant.id) as session:
        [exception], _ = reservations.find_exceptions(session, True, None, 10)
    assert [(m.sku, m.wanted, m.available) for m in exception.missing] == [("TEA", 1, 0)]


def test_an_order_short_of_stock_is_an_exception_until_stock_arrives(room: Stockroom) -> None:
    room.receive("TEA", 1)
    order = room.order("x1", quantity=3)
    assert room.sync(order) == "short"
    assert room.stock("TEA")[:2] == (1, 0)  # all or nothing
    with db.unit_of_work(room.tenant.id) as session:
        [exception], _ = reservations.find_exceptions(session, True, None, 10)
    assert exception.order_id == order
    assert [(m.sku, m.wanted, m.available) for m in exception.missing] == [("TEA", 3, 1)]
    room.receive("TEA", 5)
    assert room.sync(order) == "reserved"
    with db.unit_of_work(room.tenant.id) as session:
        assert reservations.find_exceptions(session, True, None, 10)[0] == []


def test_an_unknown_sku_code_is_named_in_the_exception(room: Stockroom) -> None:
    order = room.order("u1", sku="NOPE", quantity=2)
    assert room.sync(order) == "short"
    with db.unit_of_work(room.tenant.id) as session:
        [exception], _ = reservations.find_exceptions(session, True, None, 10)
    assert [(m.sku, m.sku_id) for m in exception.missing] == [("NOPE", None)]


def _deliver_all(room: Stockroom, twice: bool = False) -> None:
    """Every outbox event of the tenant, newest first (out of order), maybe each twice."""
    with db.unit_of_work(room.tenant.id) as session:
        ids = list(session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id.desc())))
    for event_id in ids + ids if twice else ids:
        with db.unit_of_work(room.tenant.id) as session:
            events.handle(session, event_id)


def test_order_events_from_the_outbox_drive_reservations(room: Stockroom) -> None:
    assert warehouse_tasks.reserve_for_order  # subscribed on import
    room.receive("TEA", 4)
    order = room.order("e1", quantity=2)
    _deliver_all(room)
    assert room.stock("TEA")[:2] == (4, 2)
    room.order("e1", quantity=2, status=OrderStatus.cancelled, updated_minutes=3)
    _deliver_all(room, twice=True)
    assert room.stock("TEA")[:2] == (4, 0)
    with db.unit_of_work(room.tenant.id) as session:
        assert reservations.get_reservation(session, order).status.value == "released"
    assert [m.kind for m in _moves(room)] == [
        MoveKind.receipt,
        MoveKind.reservation,
        MoveKind.release,
    ]


# --------------------------------------------------------------------------------------------
# Transfers
# --------------------------------------------------------------------------------------------


def test_a_transfer_goes_through_transit_and_books_differences(room: Stockroom) -> None:
    room.receive("TEA", 10, lot="L1", expires=date(2027, 5, 1))
    room.receive("CUP", 4)
    room.sync(room.order("t0", quantity=2))  # 2 reserved: only 8 TEA are free
    body = TransferCreate(
        from_warehouse_id=room.hz.id,
        to_warehouse_id=room.sz.id,
        lines=[TransferLineIn(sku_id=room.skus["TEA"], quantity=9)],
    )
    with pytest.raises(Problem) as refused, db.unit_of_work(room.tenant.id) as session:
        transfers.ship(session, body)
    assert (refused.value.status, refused.value.kind) == (409, "insufficient-stock")
    body.lines = [
        TransferLineIn(sku_id=room.skus["TEA"], quantity=6),
        TransferLineIn(sku_id=room.skus["CUP"], quantity=4),
    ]
    with db.unit_of_work(room.tenant.id) as session:
        shipped = transfers.ship(session, body)
    assert shipped.status.value == "in_transit"
    assert room.stock("TEA", room.hz)[:2] == (4, 2)
    assert room.stock("TEA", room.sz) == (0, 0, 0)
    counted = TransferReceive(
        location_id=room.sz.shelf,
        lines=[TransferReceivedLine(sku_id=room.skus["TEA"], quantity=5)],
        reason="one box crushed",
    )
    with db.unit_of_work(room.tenant.id) as session:
        received = transfers.receive(session, shipped.id, counted)
    assert {(line.quantity, line.received) for line in received.lines} == {(6, 5), (4, 4)}
    assert room.stock("TEA", room.sz)[:2] == (5, 0)
    assert room.stock("CUP", room.sz)[:2] == (4, 0)
    [difference] = _moves(room, MoveKind.transfer_difference)
    assert (difference.on_hand_delta, difference.reason) == (-1, "one box crushed")
    with pytest.raises(Problem) as again, db.unit_of_work(room.tenant.id) as session:
        transfers.receive(session, shipped.id, counted)
    assert again.value.status == 409


# --------------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------------


def test_another_owner_sees_none_of_the_stock(room: Stockroom, world: World) -> None:
    room.receive("TEA", 7)
    other = world.tenant()
    skus = seed_catalog(other)
    with db.unit_of_work(other.id) as session:
        assert session.scalar(select(func.count()).select_from(StockMove)) == 0
        items, _ = service.find_stock(
            session, sku_id=None, warehouse_id=None, cursor=None, limit=50
        )
        assert all(item.on_hand == 0 for item in items)
        assert {i.sku_id for i in items} <= set(skus.values())
        # A's SKU is not B's: receiving it is refused as unknown.
        line = ReceivedLine(sku_id=room.skus["TEA"], quantity=1, location_id=room.hz.shelf)
        with pytest.raises(Problem) as refused:
            service.create_receipt(session, ReceiptCreate(warehouse_id=room.hz.id, received=[line]))
        assert refused.value.kind == "unknown-sku"
