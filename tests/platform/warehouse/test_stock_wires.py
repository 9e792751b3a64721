"""Each marketplace's set-stock wire against its sandbox, over real HTTP: an item published by
the listing push takes a quantity, kept by the sandbox under the item's SKU; a quantity for an
item the marketplace does not know is refused for that item alone."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.outbound import CapabilityMissing, ListingPush
from daiyun.connectors.channels.stock import StockPush, set_stock, wire_for
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.sandboxes.marketplaces.server import running_sandbox
from daiyun.sandboxes.marketplaces.state import SandboxState
from daiyun.sandboxes.marketplaces.stock import state_stock
from tests import factories
from tests.platform.storefront.listing_helpers import FAST, SHOP_NAMES
from tests.platform.storefront.test_listing_gateways import CREDENTIALS as GATEWAYS

CHANNELS = ("shopify", "woocommerce", "amazon", "taobao", "pinduoduo", "jd", "douyin")


def _shop(channel: str) -> tuple[str, dict[str, object], dict[str, float] | None]:
    if channel in GATEWAYS:
        name = "4463798" if channel == "douyin" else f"{channel}-tea"
        return name, dict(GATEWAYS[channel]), {"rate": 1000, "burst": 1000}
    return SHOP_NAMES[channel], dict(factories.CREDENTIALS[channel]), FAST[channel]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_quantity_reaches_the_sandbox(channel: str) -> None:
    name, credentials, rate = _shop(channel)
    with running_sandbox(SandboxState(seed=3)) as sandbox:
        sandbox.state.register_shop(channel, name, credentials, currency="CNY", rate=rate)
        access = ShopAccess(name, credentials, sandbox.api_base_url(channel, name))
        with ShopHttp(f"test:{channel}:{uuid.uuid4()}") as http:
            connector = connector_for(channel)(access, http)
            listing = ListingPush(
                key="1",
                action="publish",
                sku_code="TEA-1",
                title="Longjing",
                currency="CNY",
                list_price_minor=25_00,
                sale_price_minor=None,
            )
            [published] = connector.push_listings([listing])
            assert published.ok, published.error
            push = StockPush(
                key="1",
                sku_code="TEA-1",
                quantity=7,
                product_id=published.product_id,
                sku_id=published.sku_id,
                inventory_item_id=published.inventory_item_id,
            )
            [result] = set_stock(connector, [push])
            assert result.ok, result.error
            unknown = dataclasses.replace(
                push,
                key="2",
                sku_code="NOPE-1",
                product_id="999999",
                sku_id="999999",
                inventory_item_id="999999",
            )
            [refused] = set_stock(connector, [unknown])
            assert not refused.ok and refused.error
        held = state_stock(sandbox.state).shop(channel, name)
        assert held.quantities == {"TEA-1": 7}
    forget_rate_limits()


def test_woocommerce_sets_up_to_100_quantities_per_call() -> None:
    assert wire_for("woocommerce").batch == 100
    assert {wire_for(c).batch for c in CHANNELS if c != "woocommerce"} == {1}
    with pytest.raises(CapabilityMissing):
        wire_for("ebay")
