"""The warehouse's billing facts and figures. The warehousing work of a shipped parcel becomes
billing service facts once: one ``orders_shipped`` per order it carries and one ``picks`` per
pick line, across a delivery of the shipping event that failed and was retried, a redelivered
event, a direct retry and a push asked for again. The floor's figures count exceptions, refused
scans and the packers' pace."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from daiyun.billing import service as billing
from daiyun.billing.models import ServiceFactRecord
from daiyun.core import db
from daiyun.core.events import service as events
from daiyun.core.events.models import OutboxEvent
from daiyun.platform.fulfillment import billing_facts, metrics, pack, service, shipping, waves
from daiyun.platform.fulfillment.models import ExceptionKind, PushStatus
from daiyun.platform.fulfillment.schemas import WaveRuleIn
from daiyun.sandboxes.carriers import CarrierSandbox
from tests.platform.fulfillment.conftest import Floor
from tests.platform.fulfillment.test_shipping import carrier  # noqa: F401 (fixture)


def _facts(tenant_id: uuid.UUID) -> dict[str, tuple[str, str]]:
    with db.unit_of_work(tenant_id) as session:
        rows = session.scalars(
            select(ServiceFactRecord).where(ServiceFactRecord.idempotency_key.like("fulfillment:%"))
        )
        return {r.idempotency_key: (r.kind, r.quantity) for r in rows}


def _shipped(floor: Floor) -> tuple[uuid.UUID, uuid.UUID]:
    """A paid order of two TEA and one CUP, waved, picked, packed and shipped."""
    floor.room.receive("TEA", 10)
    floor.room.receive("CUP", 10)
    order_id = floor.order("B1", [("TEA", 2), ("CUP", 1)])
    [parcel] = floor.parcels(order_id)
    merchant = [waves.Merchant(floor.tenant_id, "杭州茶行")]
    with db.unit_of_work(floor.tenant_id) as session:
        wave = waves.create(session, floor.room.hz.id, WaveRuleIn.model_validate({}), merchant)
    with db.unit_of_work(floor.tenant_id) as session:
        waves.confirm_pick(session, wave.id, merchant)
        for code in ("TEA", "TEA", "CUP"):
            pack.scan(session, parcel.id, code)
        pack.finish(session, parcel.id, 1500)
    with db.unit_of_work(floor.tenant_id) as session:
        return parcel.id, shipping.ship(session, parcel.id, carrier="zto").id


def _event(tenant_id: uuid.UUID, topic: str) -> uuid.UUID:
    with db.unit_of_work(tenant_id) as session:
        [event_id] = session.scalars(select(OutboxEvent.id).where(OutboxEvent.topic == topic))
        return event_id


def test_a_shipped_parcel_is_billed_once_across_retries(
    floor: Floor,
    carrier: CarrierSandbox,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fo_id, shipment_id = _shipped(floor)
    tenant_id = floor.tenant_id
    assert _facts(tenant_id) == {}  # recorded by the event's handler, not in the ship itself
    event_id = _event(tenant_id, billing_facts.PARCEL_SHIPPED)

    # The first delivery dies after one fact: its transaction is rolled back whole.
    real = billing.record_fact
    calls = Counter[str]()

    def dies_on_the_second(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("worker lost")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(billing, "record_fact", dies_on_the_second)
    with pytest.raises(ConnectionError), db.unit_of_work(tenant_id) as session:
        events.handle(session, event_id)
    assert _facts(tenant_id) == {}
    monkeypatch.setattr(billing, "record_fact", real)

    # The task's retry, then the same event delivered again: handled once.
    with db.unit_of_work(tenant_id) as session:
        assert events.handle(session, event_id) == [f"{billing_facts.__name__}.bill_when_shipped"]
    with db.unit_of_work(tenant_id) as session:
        assert events.handle(session, event_id) == []
    # Recording the shipment again (a retried task of its own) adds nothing either.
    with db.unit_of_work(tenant_id) as session:
        assert billing_facts.record_shipment(session, shipment_id) == 0
    # Pushing again after a failure re-emits the push's event, not the billing one.
    with db.unit_of_work(tenant_id) as session:
        shipping.get(session, shipment_id).push_status = PushStatus.refused
    with db.unit_of_work(tenant_id) as session:
        shipping.repush(session, shipment_id)
        assert shipping.ship(session, fo_id).id == shipment_id  # shipping again: the same one
    _event(tenant_id, billing_facts.PARCEL_SHIPPED)  # still exactly one

    with db.unit_of_work(tenant_id) as session:
        order_hex = shipping.get(session, shipment_id).order_ids[0]
    assert _facts(tenant_id) == {
        billing_facts.shipped_key(fo_id, order_hex): ("orders_shipped", "1"),
        billing_facts.pick_key(fo_id, 1): ("picks", "1"),
        billing_facts.pick_key(fo_id, 2): ("picks", "1"),
    }


def test_the_ship_times_against_the_deadline() -> None:
    """Share shipped by the deadline (parcels with one) and the median hours from payment."""
    t0 = datetime(2026, 11, 1, 8, tzinfo=UTC)
    shop, other = uuid.uuid4(), uuid.uuid4()

    def row(
        at: uuid.UUID, hours: float, due: float | None
    ) -> tuple[uuid.UUID, datetime, datetime | None, datetime | None]:
        deadline = t0 + timedelta(hours=due) if due is not None else None
        return (at, t0 + timedelta(hours=hours), deadline, t0)

    rows = [row(shop, 10, 48), row(shop, 50, 48), row(shop, 20, None), row(other, 30, 24)]
    whole = metrics.figures(rows)
    assert (whole.shipped, whole.with_deadline, whole.on_time) == (4, 3, 1)
    assert whole.on_time_share == pytest.approx(1 / 3)
    assert whole.median_hours == 25.0
    mine = metrics.figures([r for r in rows if r[0] == shop], shop)
    assert (mine.on_time, mine.with_deadline, mine.median_hours) == (1, 2, 20.0)
    assert metrics.figures([]).on_time_share is None


def test_the_floor_figures_count_exceptions_refused_scans_and_pace(floor: Floor) -> None:
    """Three parcels: two packed (one after a wrong scan and one too many), one in an exception;
    the pace counts the hours the packer was packing."""
    floor.room.receive("TEA", 10)
    floor.room.receive("CUP", 10)
    order_id = floor.order("M1", [("TEA", 1), ("CUP", 1)])
    first, second, third = (
        floor.parcels(o)[0].id
        for o in (order_id, floor.order("M2", [("TEA", 1)]), floor.order("M3", [("TEA", 1)]))
    )
    merchant = [waves.Merchant(floor.tenant_id, "杭州茶行")]
    with db.unit_of_work(floor.tenant_id) as session:
        service.raise_exception(session, None, third, ExceptionKind.address_unserviceable, "far")
    with db.unit_of_work(floor.tenant_id) as session:
        wave = waves.create(session, floor.room.hz.id, WaveRuleIn.model_validate({}), merchant)
    with db.unit_of_work(floor.tenant_id) as session:
        waves.confirm_pick(session, wave.id, merchant)
        for parcel, codes in ((first, ("TEA", "TEA", "CUP")), (second, ("CUP", "TEA"))):
            for code in codes:  # the second TEA on the first and the CUP on the second: refused
                pack.scan(session, parcel, code)
            pack.finish(session, parcel, 900)
    with db.unit_of_work(floor.tenant_id) as session:
        figures = metrics.floor(session)
    assert (figures.parcels, figures.with_exception) == (3, 1)
    assert (figures.packed, figures.lines, figures.scan_errors) == (2, 3, 2)
    assert figures.errors_per_line == 2 / 3 and figures.exception_rate == 1 / 3
    [packer] = figures.packers
    assert (packer.parcels, packer.hours, packer.per_hour) == (2, 1, 2.0)
