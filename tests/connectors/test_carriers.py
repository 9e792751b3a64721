"""The carrier clients against the carrier sandbox, over real HTTP: a waybill number in each
carrier's format, the same order reference answering the same number, an address outside the
delivery area refused for good, 5xx and 429 retried and past the retries unavailable, cancel
before pickup only, tracking events in order up to delivered or an exception."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from daiyun.connectors import carriers
from daiyun.connectors.carriers import (
    CARRIERS,
    Address,
    CarrierRefused,
    CarrierUnavailable,
    Item,
    WaybillRequest,
)
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.core.config import get_settings
from daiyun.sandboxes.carriers import CarrierSandbox, running_carrier_sandbox
from daiyun.sandboxes.carriers.state import WAYBILL_PATTERNS, Faults

WAREHOUSE = Address(
    "代运杭州仓", "0571-88880000", "浙江省", "杭州市", "余杭区仓前街道1号", "余杭区"
)
BUYER = Address("王小明", "13800138000", "上海市", "上海市", "浦东新区世纪大道88号", "浦东新区")
NOWHERE = Address("李雷", "13900139000", "西藏自治区", "阿里地区", "改则县 不派送 村", "改则县")


class NoWait:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 1e-6)


@pytest.fixture
def sandbox() -> Iterator[CarrierSandbox]:
    with running_carrier_sandbox() as served:
        yield served
    forget_rate_limits()


def _client(sandbox: CarrierSandbox, code: str, wait: NoWait | None = None) -> carriers.Carrier:
    wait = wait or NoWait()
    http = ShopHttp(
        f"carrier-test:{uuid.uuid4()}", max_attempts=3, sleep=wait.sleep, clock=wait.clock
    )
    return CARRIERS[code](sandbox.url, sandbox.api_key, http)


def _request(ref: str, recipient: Address = BUYER) -> WaybillRequest:
    return WaybillRequest(ref, WAREHOUSE, recipient, 1250, (Item("西湖龙井 250g", 2),))


@pytest.mark.parametrize("code", sorted(CARRIERS))
def test_a_waybill_in_the_carriers_format_and_once_per_order(
    sandbox: CarrierSandbox, code: str
) -> None:
    client = _client(sandbox, code)
    waybill = client.request_waybill(_request("FO-1001"))
    assert WAYBILL_PATTERNS[code].match(waybill.waybill_no)
    assert client.waybill_pattern.match(waybill.waybill_no)
    assert waybill.carrier == code and waybill.sort_code and waybill.destination == "上海市 上海市"
    # A retry after a lost answer names the same order: the same number, no second waybill.
    assert client.request_waybill(_request("FO-1001")) == waybill
    assert client.request_waybill(_request("FO-1002")).waybill_no != waybill.waybill_no
    assert sandbox.state.stats()["waybills"] == 2
    client.close()


def test_an_address_outside_the_delivery_area_is_refused_for_good(sandbox: CarrierSandbox) -> None:
    client = _client(sandbox, "zto")
    with pytest.raises(CarrierRefused) as refused:
        client.request_waybill(_request("FO-2001", NOWHERE))
    assert refused.value.not_serviceable
    assert sandbox.state.stats()["waybills"] == 0
    over = WaybillRequest("FO-2002", WAREHOUSE, BUYER, 60_000)
    with pytest.raises(CarrierRefused) as heavy:
        client.request_waybill(over)
    assert heavy.value.code == "1003" and not heavy.value.not_serviceable


def test_5xx_and_429_are_retried_then_unavailable(sandbox: CarrierSandbox) -> None:
    wait = NoWait()
    client = _client(sandbox, "sf", wait)
    sandbox.state.faults = Faults(throttle_next=1, retry_after=2, fail_next=1, fail_status=503)
    waybill = client.request_waybill(_request("FO-3001"))
    assert waybill.waybill_no.startswith("SF")
    assert any(s >= 2 for s in wait.sleeps)  # the Retry-After was honoured
    assert sandbox.state.stats()["requests"]["sf:waybill"] == 3

    sandbox.state.faults = Faults(fail_next=5)
    with pytest.raises(CarrierUnavailable):
        client.request_waybill(_request("FO-3002"))
    assert sandbox.state.stats()["waybills"] == 1
    sandbox.state.faults = Faults()
    # Tried again later with the same reference: one waybill, as if the failures never were.
    assert client.request_waybill(_request("FO-3002")).waybill_no != waybill.waybill_no
    assert sandbox.state.stats()["waybills"] == 2


def test_a_wrong_key_is_refused(sandbox: CarrierSandbox) -> None:
    client = CARRIERS["yto"](sandbox.url, "wrong-key", ShopHttp(f"k:{uuid.uuid4()}"))
    with pytest.raises(CarrierRefused, match="key"):
        client.request_waybill(_request("FO-4001"))


def test_cancel_before_pickup_only(sandbox: CarrierSandbox) -> None:
    client = _client(sandbox, "jd")
    first = client.request_waybill(_request("FO-5001"))
    client.cancel_waybill(first.waybill_no)
    client.cancel_waybill(first.waybill_no)  # again: fine
    assert sandbox.state.waybills[first.waybill_no].cancelled
    # The order asks again after a cancel: a new number.
    second = client.request_waybill(_request("FO-5001"))
    assert second.waybill_no != first.waybill_no
    httpx.post(f"{sandbox.url}/_sandbox/waybills/{second.waybill_no}/advance", json={})
    with pytest.raises(CarrierRefused) as refused:
        client.cancel_waybill(second.waybill_no)
    assert refused.value.code == "2002"
    with pytest.raises(CarrierRefused) as unknown:
        client.cancel_waybill("JDV000000000000")
    assert unknown.value.code == "2001"
    with pytest.raises(CarrierRefused):
        client.cancel_waybill("../../_sandbox/reset")  # never reaches another path


def test_tracking_advances_to_delivered_or_an_exception(sandbox: CarrierSandbox) -> None:
    client = _client(sandbox, "sf")
    waybill = client.request_waybill(_request("FO-6001"))
    assert client.tracking_events(waybill.waybill_no) == []
    advance = f"{sandbox.url}/_sandbox/waybills/{waybill.waybill_no}/advance"
    httpx.post(advance, json={})
    assert [e.code for e in client.tracking_events(waybill.waybill_no)] == ["PICKED_UP"]
    httpx.post(advance, json={"to": "DELIVERED"})
    events = client.tracking_events(waybill.waybill_no)
    assert [e.code for e in events] == ["PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]
    assert [e.seq for e in events] == [1, 2, 3, 4] and events[-1].location == "上海市"
    assert client.public_tracking_url(waybill.waybill_no).endswith(waybill.waybill_no)

    lost = client.request_waybill(_request("FO-6002"))
    httpx.post(f"{sandbox.url}/_sandbox/waybills/{lost.waybill_no}/advance", json={})
    httpx.post(
        f"{sandbox.url}/_sandbox/waybills/{lost.waybill_no}/advance", json={"to": "EXCEPTION"}
    )
    assert [e.code for e in client.tracking_events(lost.waybill_no)] == ["PICKED_UP", "EXCEPTION"]


def test_a_refusing_recipient_ends_in_an_exception_over_time() -> None:
    from daiyun.sandboxes.carriers.state import CarrierSandboxState

    now = [datetime(2026, 3, 1, 8, 0, tzinfo=UTC)]
    state = CarrierSandboxState("k", step_seconds=60, clock=lambda: now[0])
    with running_carrier_sandbox(state) as sandbox:
        client = _client(sandbox, "yto")
        door = Address("韩梅梅", "13700137000", "广东省", "深圳市", "南山区 拒收 路 1 号")
        waybill = client.request_waybill(_request("FO-7001", door))
        now[0] += timedelta(seconds=130)
        # Caught up at read time: every step due by the sandbox's clock.
        assert [e.code for e in client.tracking_events(waybill.waybill_no)] == [
            "PICKED_UP",
            "IN_TRANSIT",
        ]
        now[0] += timedelta(hours=1)
        events = client.tracking_events(waybill.waybill_no)
    assert [e.code for e in events] == ["PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "EXCEPTION"]
    assert events[0].at == datetime(2026, 3, 1, 8, 1, tzinfo=UTC)


def test_the_module_functions_use_the_configured_service(
    sandbox: CarrierSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "carrier_url", None)
    with pytest.raises(CarrierRefused, match="DAIYUN_CARRIER_URL"):
        carriers.request_waybill("sf", _request("FO-8001"))
    monkeypatch.setattr(settings, "carrier_url", sandbox.url)
    monkeypatch.setattr(settings, "carrier_api_key", sandbox.api_key)
    with pytest.raises(CarrierRefused, match="no carrier"):
        carriers.request_waybill("ems", _request("FO-8001"))
    waybill = carriers.request_waybill("sf", _request("FO-8001"))
    assert carriers.tracking_events("sf", waybill.waybill_no) == []
    carriers.cancel_waybill("sf", waybill.waybill_no)
    assert sandbox.state.waybills[waybill.waybill_no].cancelled
