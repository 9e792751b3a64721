"""The ship capability of all seven connectors against the sandbox marketplaces, over real
HTTP: the order reads as shipped there with its tracking number (the carrier in the
marketplace's own code), the same push again is a duplicate and never a second shipment, a
different number on a shipped order and a cancelled order are refused for good, 5xx and 429
answers are retried within the push and past its retries leave the order untouched and the push
retryable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import CONNECTORS
from daiyun.connectors.channels.outbound import SHIPMENTS
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.connectors.schemas import ShopUpdate
from daiyun.connectors.shipments import (
    ShipmentPush,
    ShipmentPushRefused,
    ShipmentPushRetryable,
    push_shipment,
)
from daiyun.core.db import unit_of_work
from daiyun.sandboxes.marketplaces.app import public_id
from daiyun.sandboxes.marketplaces.orders import Order
from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import Faults, SandboxState
from tests import factories
from tests.conftest import World
from tests.platform.storefront.test_listing_gateways import CREDENTIALS as CHINA_CREDENTIALS

NAMES = {
    "shopify": "lotus.myshopify.com",
    "woocommerce": "lotus-store",
    "amazon": "A1SELLER",
    "taobao": "taobao-tea",
    "pinduoduo": "pinduoduo-tea",
    "jd": "jd-tea",
    "douyin": "4463798",
}
FAST: dict[str, dict[str, float] | None] = {
    "shopify": {"leak_per_second": 500.0},
    "woocommerce": None,
    "amazon": {"rate": 500.0, "burst": 500.0},
}
# What each marketplace should hold as the carrier of an SF Express parcel.
SF_AS = {
    "shopify": "SF Express",
    "woocommerce": "SF Express",
    "amazon": "SF Express",
    "taobao": "SF",
    "pinduoduo": "44",
    "jd": "467",
    "douyin": "shunfeng",
}
CHANNELS = sorted(NAMES)


class NoWait:
    """A clock that moves only when the client sleeps: retries cost no wall time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)


def _http(key: str) -> ShopHttp:
    fake = NoWait()
    return ShopHttp(key, max_attempts=3, sleep=fake.sleep, clock=fake.clock)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=17)) as served:
        yield served
    forget_rate_limits()


def _credentials(channel: str) -> dict[str, Any]:
    return dict(factories.CREDENTIALS.get(channel) or CHINA_CREDENTIALS[channel])


def _connect(sandbox: Sandbox, tenant_id: uuid.UUID, channel: str) -> uuid.UUID:
    name = NAMES[channel]
    currency = "USD" if channel in ("shopify", "woocommerce", "amazon") else "CNY"
    rate = FAST.get(channel, {"rate": 1000, "burst": 1000})
    sandbox.state.register_shop(channel, name, _credentials(channel), currency=currency, rate=rate)
    return factories.shop(
        tenant_id,
        channel,
        name,
        api_base_url=sandbox.api_base_url(channel, name),
        credentials=_credentials(channel),
    ).id


def _paid_order(sandbox: Sandbox, channel: str) -> Order:
    state = sandbox.state
    for order in state.create_orders(channel, NAMES[channel], 5, history=False):
        if order.cancelled_at is None and order.items_shipped == 0:
            if order.paid_at is None:
                state.apply_event(channel, NAMES[channel], order.external_id, "pay", notify=False)
            return order
    raise AssertionError("the sandbox made no order to ship")


def _push(order: Order, number: str, carrier: str = "sf") -> ShipmentPush:
    return ShipmentPush(order.external_id, carrier, number, datetime.now(UTC))


def _send(tenant_id: uuid.UUID, shop_id: uuid.UUID, push: ShipmentPush) -> Any:
    with unit_of_work(tenant_id) as session:
        return push_shipment(session, tenant_id, shop_id, push, http_factory=_http)


def test_every_connector_declares_the_ship_capability() -> None:
    for channel, connector in CONNECTORS.items():
        assert SHIPMENTS in connector.outbound, channel
        assert set(connector.carrier_codes) == {"sf", "zto", "yto", "jd"}, channel


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_shipment_reaches_the_marketplace_once(
    world: World, sandbox: Sandbox, channel: str
) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, channel)
    order = _paid_order(sandbox, channel)

    first = _send(tenant.id, shop_id, _push(order, "SF1234567890123"))

    assert not first.duplicate
    assert order.items_shipped == order.items and order.fulfilled_at is not None
    assert [(t["number"], t["company"]) for t in order.tracking] == [
        ("SF1234567890123", SF_AS[channel])
    ]
    listed = {o["id"]: o for o in _control_orders(sandbox, channel)}
    shown = listed[public_id(channel, order)]
    assert shown["tracking"] == ["SF1234567890123"]

    again = _send(tenant.id, shop_id, _push(order, "SF1234567890123"))
    # Amazon says nothing of a repeat; every other marketplace's answer tells it.
    assert again.duplicate is (channel != "amazon")
    assert len(order.tracking) == 1

    with pytest.raises(ShipmentPushRefused):
        _send(tenant.id, shop_id, _push(order, "SF9999999999999"))
    assert [t["number"] for t in order.tracking] == ["SF1234567890123"]


def _control_orders(sandbox: Sandbox, channel: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{sandbox.url}/_sandbox/{channel}/{NAMES[channel]}/orders", timeout=10)
    answer.raise_for_status()
    orders: list[dict[str, Any]] = answer.json()["orders"]
    return orders


@pytest.mark.parametrize("channel", ["shopify", "amazon", "taobao", "douyin"])
def test_a_cancelled_order_is_refused_and_stays_unshipped(
    world: World, sandbox: Sandbox, channel: str
) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, channel)
    order = _paid_order(sandbox, channel)
    sandbox.state.apply_event(channel, NAMES[channel], order.external_id, "cancel", notify=False)

    with pytest.raises(ShipmentPushRefused):
        _send(tenant.id, shop_id, _push(order, "SF1234567890123"))
    assert order.tracking == [] and order.items_shipped == 0


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "amazon", "pinduoduo", "jd"])
def test_5xx_and_429_are_retried_within_the_push(
    world: World, sandbox: Sandbox, channel: str
) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, channel)
    order = _paid_order(sandbox, channel)
    sandbox.state.set_faults(Faults(throttle_next=1, retry_after=0.2, fail_next=1))

    result = _send(tenant.id, shop_id, _push(order, "YT1234567890123", "yto"))

    assert not result.duplicate
    assert [t["number"] for t in order.tracking] == ["YT1234567890123"]
    assert sandbox.state.stats()["throttled"] >= 1 and sandbox.state.stats()["errors"] >= 1


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "amazon", "taobao", "douyin"])
def test_failing_past_the_retries_is_retryable_and_changes_nothing(
    world: World, sandbox: Sandbox, channel: str
) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, channel)
    order = _paid_order(sandbox, channel)
    sandbox.state.set_faults(Faults(fail_next=10))

    with pytest.raises(ShipmentPushRetryable):
        _send(tenant.id, shop_id, _push(order, "JDV123456789012", "jd"))
    assert order.tracking == [] and order.items_shipped == 0

    sandbox.state.set_faults(Faults())
    assert not _send(tenant.id, shop_id, _push(order, "JDV123456789012", "jd")).duplicate
    assert [t["number"] for t in order.tracking] == ["JDV123456789012"]


def test_a_partial_shipment_names_its_lines(world: World, sandbox: Sandbox) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, "shopify")
    order = _paid_order(sandbox, "shopify")
    while len(order.lines) < 2:
        order = _paid_order(sandbox, "shopify")
    line = order.lines[0]
    push = ShipmentPush(
        order.external_id, "zto", "712345678901", datetime.now(UTC), ((str(line.id), 1),)
    )

    _send(tenant.id, shop_id, push)
    assert line.shipped == 1 and order.items_shipped == 1 and order.fulfilled_at is None
    assert _send(tenant.id, shop_id, push).duplicate  # the same parcel again: nothing more
    assert order.items_shipped == 1


def test_unknown_carrier_paused_and_disconnected_shops(world: World, sandbox: Sandbox) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, "taobao")
    order = _paid_order(sandbox, "taobao")
    with pytest.raises(ShipmentPushRefused, match="no carrier code"):
        _send(tenant.id, shop_id, _push(order, "EMS123", "ems"))
    with unit_of_work(tenant.id) as session:
        shop_service.update(session, shop_id, ShopUpdate(status="paused"))
    with pytest.raises(ShipmentPushRetryable, match="paused"):
        _send(tenant.id, shop_id, _push(order, "SF1234567890123"))
    with unit_of_work(tenant.id) as session:
        shop_service.disconnect(session, shop_id)
    with pytest.raises(ShipmentPushRefused, match="disconnected"):
        _send(tenant.id, shop_id, _push(order, "SF1234567890123"))
    assert order.tracking == []
