"""The ship step against the carrier sandbox and the sandbox marketplace, over real HTTP: a
packed parcel gets its waybill (the carrier chosen by the rules), its label (read back from the
PDF: CJK text and the Code 128 barcode), its stock leaves the ledger; an address the carrier
does not serve puts the parcel in exception; the tracking push reaches the marketplace once,
retried after 5xx/429; the carrier's tracking moves the parcel to delivered or exception."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from pypdf import PdfReader

from daiyun.connectors import service as shop_service
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.connectors.schemas import ShopUpdate
from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.fulfillment import barcode, pack, service, shipping, shipping_tasks, waves
from daiyun.platform.fulfillment.models import PushStatus, ShipmentStatus
from daiyun.platform.fulfillment.schemas import ExceptionKind, FoState, WaveRuleIn
from daiyun.sandboxes.carriers import CarrierSandbox, running_carrier_sandbox
from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import Faults, SandboxState
from tests import factories
from tests.platform.fulfillment.conftest import Floor

SHOP = "lotus.myshopify.com"


@pytest.fixture
def carrier(monkeypatch: pytest.MonkeyPatch) -> Iterator[CarrierSandbox]:
    with running_carrier_sandbox() as served:
        settings = get_settings()
        monkeypatch.setattr(settings, "carrier_url", served.url)
        monkeypatch.setattr(settings, "carrier_api_key", served.api_key)
        yield served
    forget_rate_limits()


def _packed(floor: Floor, external_id: str, units: int = 2, street: str | None = None) -> uuid.UUID:
    """A paid order of ``units`` TEA, waved, picked, scanned and packed at 1.2 kg."""
    kwargs = {"street": street} if street else {}
    order_id = floor.order(external_id, [("TEA", units)], **kwargs)
    [parcel] = floor.parcels(order_id)
    merchant = [waves.Merchant(floor.tenant_id, "杭州茶行")]
    with db.unit_of_work(floor.tenant_id) as session:
        wave = waves.create(session, floor.room.hz.id, WaveRuleIn.model_validate({}), merchant)
    with db.unit_of_work(floor.tenant_id) as session:
        waves.confirm_pick(session, wave.id, merchant)
        for _ in range(units):
            pack.scan(session, parcel.id, "TEA")
        pack.finish(session, parcel.id, 1200)
    return parcel.id


def _ship(floor: Floor, fo_id: uuid.UUID, carrier: str | None = None) -> uuid.UUID:
    with db.unit_of_work(floor.tenant_id) as session:
        return shipping.ship(session, fo_id, carrier=carrier).id


def test_a_packed_parcel_ships_once_with_its_label_and_stock_leaves(
    floor: Floor, carrier: CarrierSandbox
) -> None:
    floor.room.receive("TEA", 10)
    fo_id = _packed(floor, "S1")
    assert floor.room.stock("TEA") == (10, 2, 8)
    with db.unit_of_work(floor.tenant_id) as session:
        shipping.set_carrier_rules(
            session,
            [
                {"carrier": "jd", "provinces": ["广东省"]},
                {"carrier": "sf", "warehouse_id": floor.room.hz.id, "max_weight_grams": 2000},
            ],
        )
    shipment_id = _ship(floor, fo_id)
    assert _ship(floor, fo_id) == shipment_id  # shipping again answers the same shipment
    with db.unit_of_work(floor.tenant_id) as session:
        shipment = shipping.get(session, shipment_id)
        assert shipment.carrier == "sf" and shipment.waybill_no.startswith("SF")
        assert shipment.status == ShipmentStatus.shipped
        # The floor's shop is not on the sandbox marketplace: its push is still to be sent.
        assert shipment.push_status == PushStatus.pending
        _, pdf = shipping.label(session, shipment_id)
        number = shipment.waybill_no
    assert carrier.state.stats()["waybills"] == 1
    assert floor.parcels()[0].state == FoState.shipped
    assert floor.room.stock("TEA") == (8, 0, 8)  # the two units left the shelf

    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(
        (283.46, 425.2), abs=0.1
    )  # 100 x 150 mm in points
    text = page.extract_text()
    for expected in ("顺丰速运", number, "王小明", "浙江省 杭州市 西湖区", "收件人", "138****5678"):
        assert expected in text, expected
    assert barcode.decode(barcode.widths(number)) == number


def test_the_carrier_rules_fall_back_to_the_default(floor: Floor, carrier: CarrierSandbox) -> None:
    floor.room.receive("TEA", 10)
    fo_id = _packed(floor, "S2")
    with db.unit_of_work(floor.tenant_id) as session:
        shipping.set_carrier_rules(session, [{"carrier": "jd", "max_weight_grams": 1000}])
        with pytest.raises(Problem) as unknown:
            shipping.set_carrier_rules(session, [{"carrier": "ems"}])
        assert unknown.value.kind == "unknown-carrier"
    with db.unit_of_work(floor.tenant_id) as session:
        assert shipping.get(session, _ship(floor, fo_id)).carrier == shipping.DEFAULT_CARRIER


def test_an_unserviceable_address_puts_the_parcel_in_exception(
    floor: Floor, carrier: CarrierSandbox
) -> None:
    floor.room.receive("TEA", 10)
    fo_id = _packed(floor, "S3", street="不派送 村 1 号")
    with db.unit_of_work(floor.tenant_id) as session, pytest.raises(shipping.Unserviceable):
        shipping.ship(session, fo_id, carrier="zto")
    [parcel] = floor.parcels()
    assert parcel.state == FoState.exception
    with db.unit_of_work(floor.tenant_id) as session:
        [found] = service.find_exceptions(
            session, True, ExceptionKind.address_unserviceable, None, 10
        )[0]
    assert "not serviceable" in found.detail
    assert floor.room.stock("TEA") == (10, 2, 8)  # nothing left the shelf


def test_a_parcel_not_packed_and_a_carrier_down_change_nothing(
    floor: Floor, carrier: CarrierSandbox
) -> None:
    floor.room.receive("TEA", 10)
    order_id = floor.order("S4", [("TEA", 1)])
    [parcel] = floor.parcels(order_id)
    with db.unit_of_work(floor.tenant_id) as session:
        with pytest.raises(Problem) as early:
            shipping.ship(session, parcel.id)
        assert early.value.kind == "not-packed"
    fo_id = _packed(floor, "S5", units=1)
    httpx.post(f"{carrier.url}/_sandbox/faults", json={"fail_next": 10})
    with db.unit_of_work(floor.tenant_id) as session:
        with pytest.raises(Problem) as down:
            shipping.ship(session, fo_id)
        assert (down.value.status, down.value.kind) == (503, "carrier-unavailable")
    assert {p.state for p in floor.parcels() if p.id == fo_id} == {FoState.packed}


class NoWait:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)


def _http(key: str) -> ShopHttp:
    wait = NoWait()
    return ShopHttp(key, max_attempts=2, sleep=wait.sleep, clock=wait.clock)


@pytest.fixture
def marketplace() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=23)) as served:
        yield served
    forget_rate_limits()


def test_the_tracking_push_is_retried_and_never_sent_twice(
    floor: Floor, carrier: CarrierSandbox, marketplace: Sandbox
) -> None:
    state = marketplace.state
    state.register_shop(
        "shopify",
        SHOP,
        dict(factories.CREDENTIALS["shopify"]),
        currency="CNY",
        rate={"leak_per_second": 500.0},
    )
    remote = state.create_orders("shopify", SHOP, 1, history=False)[0]
    if remote.paid_at is None:
        state.apply_event("shopify", SHOP, remote.external_id, "pay", notify=False)
    with db.unit_of_work(floor.tenant_id) as session:
        shop_service.update(
            session,
            floor.room.shop_id,
            ShopUpdate(
                api_base_url=marketplace.api_base_url("shopify", SHOP),  # type: ignore[arg-type]
                credentials=dict(factories.CREDENTIALS["shopify"]),
            ),
            agency_admin=True,
        )
    floor.room.receive("TEA", 10)
    # The same order in Daiyun (its marketplace id), packed and shipped.
    shipment_id = _ship(floor, _packed(floor, remote.external_id, units=1), "yto")

    state.set_faults(Faults(fail_next=2))  # more than the push's two attempts
    now = utcnow()
    assert shipping_tasks.push(floor.tenant_id, shipment_id, now=now, http_factory=_http) == (
        PushStatus.pending
    )
    with db.unit_of_work(floor.tenant_id) as session:
        waiting = shipping.get(session, shipment_id)
        assert waiting.push_attempts == 1 and "500" in (waiting.push_error or "")
        assert waiting.next_push_at is not None and waiting.next_push_at > now
        number = waiting.waybill_no
    assert remote.tracking == []
    # Before its backoff is over a push does nothing; after it, it goes.
    assert shipping_tasks.push(floor.tenant_id, shipment_id, now=now, http_factory=_http) == (
        PushStatus.pending
    )
    with db.unit_of_work(floor.tenant_id) as session:
        due = shipping_tasks.queries.pushes_due(session, now + timedelta(hours=1))
    assert due == [shipment_id]
    state.set_faults(Faults(throttle_next=1, retry_after=0.1))
    later = now + timedelta(hours=1)
    assert shipping_tasks.push(floor.tenant_id, shipment_id, now=later, http_factory=_http) == (
        PushStatus.pushed
    )
    assert [(t["number"], t["company"]) for t in remote.tracking] == [(number, "YTO Express")]
    # Pushed: asking again sends nothing.
    assert shipping_tasks.push(floor.tenant_id, shipment_id, http_factory=_http) == (
        PushStatus.pushed
    )
    assert len(remote.tracking) == 1
    with db.unit_of_work(floor.tenant_id) as session:
        done = shipping.get(session, shipment_id)
        assert (done.push_attempts, done.push_error) == (2, None)
        assert list(done.pushes.values()) == ["pushed"]
        with pytest.raises(Problem) as nothing:
            shipping.repush(session, shipment_id)
        assert nothing.value.kind == "nothing-to-push"


def test_tracking_moves_the_parcel_to_delivered_or_exception(
    floor: Floor, carrier: CarrierSandbox
) -> None:
    floor.room.receive("TEA", 10)
    delivered = _ship(floor, _packed(floor, "T1", units=1), "sf")
    lost = _ship(floor, _packed(floor, "T2", units=1), "zto")
    with db.unit_of_work(floor.tenant_id) as session:
        numbers = {i: shipping.get(session, i).waybill_no for i in (delivered, lost)}
    httpx.post(
        f"{carrier.url}/_sandbox/waybills/{numbers[delivered]}/advance", json={"to": "DELIVERED"}
    )
    httpx.post(f"{carrier.url}/_sandbox/waybills/{numbers[lost]}/advance", json={})
    httpx.post(f"{carrier.url}/_sandbox/waybills/{numbers[lost]}/advance", json={"to": "EXCEPTION"})
    with db.unit_of_work() as session:
        report = shipping_tasks.tracking_sweep.run()
    assert report["read"] >= 2, report
    with db.unit_of_work(floor.tenant_id) as session:
        done = shipping.get(session, delivered)
        gone = shipping.get(session, lost)
        assert done.status == ShipmentStatus.delivered and done.delivered_at is not None
        assert [e["code"] for e in done.events][-1] == "DELIVERED"
        assert gone.status == ShipmentStatus.exception
        # Read again: nothing new, nothing moves twice.
        shipping.refresh_tracking(session, delivered)
        assert len(shipping.get(session, delivered).events) == 4
    states = {p.id: p.state for p in floor.parcels()}
    assert sorted(states.values()) == sorted([FoState.delivered, FoState.exception])
