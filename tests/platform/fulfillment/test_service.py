"""Fulfilment on the floor: parcels from reserved orders, split by warehouse, merged per buyer,
split for partial shipment, out-of-stock and intercepted orders, scans, deadlines."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.platform.fulfillment import pack, service, waves
from daiyun.platform.fulfillment.schemas import (
    ExceptionKind,
    FoState,
    Resolution,
    SplitIn,
    SplitLine,
    WaveRuleIn,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import StockSettingsIn
from tests.platform.fulfillment.conftest import Floor


def _wave(floor: Floor, warehouse_id: uuid.UUID, **rule: object) -> waves.WaveDetail:  # type: ignore[name-defined]
    merchant = waves.Merchant(floor.tenant_id, "杭州茶行")
    with db.unit_of_work(floor.tenant_id) as session:
        return waves.create(session, warehouse_id, WaveRuleIn.model_validate(rule), [merchant])


def _exceptions(floor: Floor, kind: ExceptionKind | None = None) -> list:  # type: ignore[type-arg]
    with db.unit_of_work(floor.tenant_id) as session:
        items, _ = service.find_exceptions(session, True, kind, None, 100)
        return items


def test_a_reserved_order_becomes_one_ready_parcel_with_its_bins(floor: Floor) -> None:
    floor.room.receive("TEA", 10)
    order_id = floor.order("A1", [("TEA", 2)])
    [parcel] = floor.parcels(order_id)
    assert parcel.state == FoState.ready
    assert parcel.warehouse_id == floor.room.hz.id
    assert [(li.sku, li.quantity, li.location) for li in parcel.lines] == [("TEA", 2, "A-01-01-01")]
    assert parcel.ship_by is not None
    floor.follow(order_id)  # a duplicate event changes nothing
    assert [p.id for p in floor.parcels(order_id)] == [parcel.id]
    with db.unit_of_work(floor.tenant_id) as session:
        history = service.detail(session, parcel.id).history
    assert [(e.from_state, e.to_state, e.actor) for e in history] == [
        (None, FoState.ready, "system:fulfillment")
    ]


def test_an_order_stocked_in_two_warehouses_splits_into_two_parcels(floor: Floor) -> None:
    floor.room.receive("TEA", 5, floor.room.hz)
    floor.room.receive("CUP", 5, floor.room.sz)
    waiting = floor.order("A0", [("TEA", 1), ("CUP", 1)])
    assert [p.state for p in floor.parcels(waiting)] == [FoState.awaiting_stock]
    with db.unit_of_work(floor.tenant_id) as session:
        warehouse.set_stock_settings(session, StockSettingsIn(split_by_warehouse=True))
    order_id = floor.order("A2", [("TEA", 1), ("CUP", 1)])
    parcels = floor.parcels(order_id)
    assert sorted((p.warehouse_id, p.lines[0].sku) for p in parcels) == sorted(
        [(floor.room.hz.id, "TEA"), (floor.room.sz.id, "CUP")]
    )
    assert {p.state for p in parcels} == {FoState.ready}


def test_one_buyers_orders_to_one_address_are_suggested_then_merged(floor: Floor) -> None:
    floor.room.receive("TEA", 10)
    first = floor.order("M1", [("TEA", 1)])
    second = floor.order("M2", [("TEA", 2)])
    elsewhere = floor.order("M3", [("TEA", 1)], street="莫干山路 1 号")
    with db.unit_of_work(floor.tenant_id) as session:
        [suggestion] = service.merge_suggestions(session)
        assert sorted(suggestion.order_ids) == sorted([first, second])
        other = floor.parcels(elsewhere)[0].id
        with pytest.raises(Problem) as refused:
            service.merge(session, suggestion.ids[0], [other])
        assert (refused.value.status, refused.value.kind) == (409, "not-mergeable")
        host = service.merge(session, suggestion.ids[0], suggestion.ids[1:])
    assert sorted(host.order_ids) == sorted([first, second])
    assert sorted(li.quantity for li in host.lines) == [1, 2]
    states = {p.id: p.state for p in floor.parcels()}
    assert sorted(states.values()) == sorted([FoState.ready, FoState.merged, FoState.ready])


def test_auto_merge_joins_a_buyers_next_order_as_it_becomes_ready(floor: Floor) -> None:
    floor.settings(merge_mode="auto")
    floor.room.receive("TEA", 10)
    floor.order("AM1", [("TEA", 1)])
    floor.order("AM2", [("TEA", 1)])
    floor.order("AM3", [("TEA", 1)], buyer="李四")
    live = [p for p in floor.parcels() if p.state == FoState.ready]
    assert sorted(len(p.order_ids) for p in live) == [1, 2]


def test_partial_shipment_splits_only_when_the_merchant_allows_it(floor: Floor) -> None:
    floor.room.receive("TEA", 10)
    floor.room.receive("CUP", 10)
    order_id = floor.order("S1", [("TEA", 3), ("CUP", 1)])
    [parcel] = floor.parcels(order_id)
    body = SplitIn(lines=[SplitLine(sku_id=floor.room.skus["TEA"], quantity=2)])
    with db.unit_of_work(floor.tenant_id) as session:
        with pytest.raises(Problem) as refused:
            service.split(session, parcel.id, body)
        assert refused.value.kind == "partial-shipment-not-allowed"
    floor.settings(allow_partial=True)
    with db.unit_of_work(floor.tenant_id) as session:
        too_much = SplitIn(lines=[SplitLine(sku_id=floor.room.skus["TEA"], quantity=4)])
        with pytest.raises(Problem) as invalid:
            service.split(session, parcel.id, too_much)
        assert (invalid.value.status, invalid.value.kind) == (422, "split-invalid")
        new = service.split(session, parcel.id, body)
    assert [(li.sku, li.quantity) for li in new.lines] == [("TEA", 2)]
    kept = {p.id: p for p in floor.parcels(order_id)}[parcel.id]
    assert sorted((li.sku, li.quantity) for li in kept.lines) == [("CUP", 1), ("TEA", 1)]


def test_out_of_stock_waits_until_stock_comes_and_a_retry_resolves_it(floor: Floor) -> None:
    floor.room.receive("TEA", 1)
    order_id = floor.order("OOS", [("TEA", 3)])
    [parcel] = floor.parcels(order_id)
    assert (parcel.state, parcel.warehouse_id, parcel.lines) == (FoState.awaiting_stock, None, [])
    [opened] = _exceptions(floor, ExceptionKind.out_of_stock)
    assert opened.fo_id == parcel.id and opened.actions == [Resolution.cancel, Resolution.retry]
    with db.unit_of_work(floor.tenant_id) as session:
        with pytest.raises(Problem) as still:
            service.resolve(session, opened.id, Resolution.retry)
        assert still.value.kind == "still-out-of-stock"
        with pytest.raises(Problem) as wrong:
            service.resolve(session, opened.id, Resolution.acknowledge)
        assert wrong.value.status == 422
    floor.room.receive("TEA", 5)
    with db.unit_of_work(floor.tenant_id) as session:
        done = service.resolve(session, opened.id, Resolution.retry)
    assert done.resolution == "retry" and done.resolved_at is not None
    [ready] = floor.parcels(order_id)
    assert (ready.id, ready.state, ready.warehouse_id) == (
        parcel.id,
        FoState.ready,
        floor.room.hz.id,
    )
    assert _exceptions(floor) == []


def test_an_order_cancelled_after_its_wave_is_intercepted_and_its_stock_released(
    floor: Floor,
) -> None:
    floor.room.receive("TEA", 10)
    kept = floor.order("W1", [("TEA", 1)])
    gone = floor.order("W2", [("TEA", 2)], buyer="李四")
    wave = _wave(floor, floor.room.hz.id)
    assert len(wave.fulfillment_order_ids) == 2
    assert floor.room.stock("TEA")[1] == 3
    floor.order("W2", [("TEA", 2)], buyer="李四", status=OrderStatus.cancelled, updated_minutes=5)
    [cancelled] = floor.parcels(gone)
    assert (cancelled.state, cancelled.wave_id) == (FoState.cancelled, None)
    assert floor.room.stock("TEA")[1] == 1  # only the kept order's unit is held
    [intercept] = _exceptions(floor, ExceptionKind.intercepted)
    assert intercept.fo_id == cancelled.id
    assert intercept.actions == [Resolution.returned_to_shelf]
    with db.unit_of_work(floor.tenant_id) as session:
        after = waves.detail(session, wave.id, [waves.Merchant(floor.tenant_id, "杭州茶行")])
        service.resolve(session, intercept.id, Resolution.returned_to_shelf)
    assert [p.quantity for p in after.pick_list] == [1]
    assert floor.parcels(kept)[0].state == FoState.in_wave


def test_a_merged_parcel_loses_a_cancelled_orders_lines_and_stops_for_repacking(
    floor: Floor,
) -> None:
    floor.room.receive("TEA", 10)
    floor.room.receive("CUP", 10)
    first = floor.order("MC1", [("TEA", 1)])
    floor.order("MC2", [("CUP", 1)])
    with db.unit_of_work(floor.tenant_id) as session:
        [suggestion] = service.merge_suggestions(session)
        host = service.merge(session, suggestion.ids[0], suggestion.ids[1:])
    _wave(floor, floor.room.hz.id)
    floor.order("MC1", [("TEA", 1)], status=OrderStatus.cancelled, updated_minutes=5)
    after = {p.id: p for p in floor.parcels()}[host.id]
    assert after.state == FoState.exception and after.held_state == FoState.in_wave
    assert [li.sku for li in after.lines] == ["CUP"] and first not in after.order_ids
    [intercept] = _exceptions(floor, ExceptionKind.intercepted)
    assert "TEA x1" in intercept.detail
    with db.unit_of_work(floor.tenant_id) as session:
        service.resolve(session, intercept.id, Resolution.returned_to_shelf)
    assert {p.id: p for p in floor.parcels()}[host.id].state == FoState.in_wave


def test_packing_refuses_wrong_items_and_extra_units_then_records_the_weight(
    floor: Floor,
) -> None:
    floor.room.receive("TEA", 10)
    floor.room.receive("CUP", 10)
    order_id = floor.order("P1", [("TEA", 2)])
    [parcel] = floor.parcels(order_id)
    with db.unit_of_work(floor.tenant_id) as session:
        with pytest.raises(Problem) as early:
            pack.scan(session, parcel.id, "TEA")
        assert early.value.kind == "not-packable"
    wave = _wave(floor, floor.room.hz.id)
    merchant = [waves.Merchant(floor.tenant_id, "杭州茶行")]
    with db.unit_of_work(floor.tenant_id) as session:
        waves.confirm_pick(session, wave.id, merchant)
        wrong = pack.scan(session, parcel.id, "CUP")
        assert isinstance(wrong, pack.Refusal) and wrong.kind == "wrong-item"
        assert "CUP" in wrong.detail
        first = pack.scan(session, parcel.id, "TEA")
        assert isinstance(first, pack.ScanRead) and (first.scanned, first.complete) == (1, False)
        with pytest.raises(Problem) as unfinished:
            pack.finish(session, parcel.id, 520)
        assert unfinished.value.kind == "not-all-scanned"
        second = pack.scan(session, parcel.id, " TEA")
        assert isinstance(second, pack.ScanRead) and second.complete
        extra = pack.scan(session, parcel.id, "TEA")
        assert isinstance(extra, pack.Refusal) and extra.kind == "too-many"
        packed = pack.finish(session, parcel.id, 520)
    assert (packed.state, packed.weight_grams, packed.scan_errors) == (FoState.packed, 520, 2)
    with db.unit_of_work(floor.tenant_id) as session:
        history = service.detail(session, parcel.id).history
    assert [e.to_state for e in history] == [
        FoState.ready,
        FoState.in_wave,
        FoState.picked,
        FoState.packed,
    ]


def test_the_carrier_step_raises_an_unserviceable_address_and_a_retry_resumes(
    floor: Floor,
) -> None:
    floor.room.receive("TEA", 10)
    order_id = floor.order("C1", [("TEA", 1)])
    [parcel] = floor.parcels(order_id)
    with db.unit_of_work(floor.tenant_id) as session:
        found = service.raise_exception(
            session, floor.tenant_id, parcel.id, ExceptionKind.address_unserviceable, "no route"
        )
        again = service.raise_exception(
            session, floor.tenant_id, parcel.id, ExceptionKind.address_unserviceable, "no route"
        )
        assert again.id == found.id
        with pytest.raises(Problem):
            service.raise_exception(
                session, uuid.uuid4(), parcel.id, ExceptionKind.address_unserviceable, "x"
            )
    assert floor.parcels(order_id)[0].state == FoState.exception
    with db.unit_of_work(floor.tenant_id) as session:
        service.resolve(session, found.id, Resolution.retry)
    assert floor.parcels(order_id)[0].state == FoState.ready


def test_parcels_near_their_deadline_are_flagged_once(floor: Floor) -> None:
    floor.room.receive("TEA", 10)
    order_id = floor.order("D1", [("TEA", 1)])
    [parcel] = floor.parcels(order_id)
    assert parcel.ship_by is not None
    with db.unit_of_work(floor.tenant_id) as session:
        assert service.flag_deadlines(session, parcel.ship_by - timedelta(hours=7)) == 0
        assert service.flag_deadlines(session, parcel.ship_by - timedelta(hours=5)) == 1
        assert service.flag_deadlines(session, parcel.ship_by - timedelta(hours=4)) == 0
    [flag] = _exceptions(floor, ExceptionKind.deadline_near)
    assert flag.actions == [Resolution.acknowledge]
    assert floor.parcels(order_id)[0].state == FoState.ready  # a warning, not a stop


def test_transitions_the_state_machine_forbids_are_refused(floor: Floor) -> None:
    floor.room.receive("TEA", 10)
    order_id = floor.order("T1", [("TEA", 1)])
    [parcel] = floor.parcels(order_id)
    with db.unit_of_work(floor.tenant_id) as session:
        fo = service.get(session, parcel.id)
        with pytest.raises(Problem) as refused:
            service.transition(session, fo, FoState.shipped)
        assert (refused.value.status, refused.value.kind) == (409, "invalid-transition")
        assert order_service.get_order(session, order_id) is not None
