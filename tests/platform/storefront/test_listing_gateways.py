"""Listings on the four Chinese marketplaces' sandboxes, over real HTTP: each connector creates
an item with its SKU (the ids kept), changes its price, takes it off sale and puts it back, one
signed gateway call at a time; a second item with a code already in use is refused with the
marketplace's error."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.outbound import LISTINGS, ListingPush
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.sandboxes.marketplaces.catalog import catalog_of
from daiyun.sandboxes.marketplaces.server import running_sandbox
from daiyun.sandboxes.marketplaces.state import SandboxState

CREDENTIALS = {
    "taobao": {
        "app_key": "23456789",
        "app_secret": "sandbox-top-secret",
        "session": "6201sandboxsession",
        "refresh_token": "6201sandboxrefresh",
    },
    "pinduoduo": {
        "client_id": "pdd-client",
        "client_secret": "sandbox-pdd-secret",
        "access_token": "sandbox-access-token",
        "refresh_token": "sandbox-refresh-token",
    },
    "jd": {
        "app_key": "jd-app",
        "app_secret": "sandbox-jd-secret",
        "access_token": "at-0",
        "refresh_token": "rt-0",
    },
    "douyin": {
        "app_key": "douyin-app",
        "app_secret": "sandbox-douyin-secret",
        "access_token": "at-0",
        "refresh_token": "rt-0",
        "shop_id": "4463798",
    },
}


@pytest.mark.parametrize("channel", sorted(CREDENTIALS))
def test_an_item_is_created_repriced_taken_off_sale_and_back(channel: str) -> None:
    shop = "4463798" if channel == "douyin" else f"{channel}-tea"
    credentials = CREDENTIALS[channel]
    connector_cls = connector_for(channel)
    assert LISTINGS in connector_cls.outbound
    with running_sandbox(SandboxState(seed=5)) as sandbox:
        state = sandbox.state
        state.register_shop(
            channel, shop, dict(credentials), currency="CNY", rate={"rate": 1000, "burst": 1000}
        )
        access = ShopAccess(shop, credentials, sandbox.api_base_url(channel, shop))
        books = catalog_of(state)
        key = f"test:{channel}:{uuid.uuid4()}"
        with ShopHttp(key) as http:
            connector = connector_cls(access, http)
            push = ListingPush(
                key="1",
                action="publish",
                sku_code="TEA-1",
                title="Longjing 2026",
                currency="CNY",
                list_price_minor=25_00,
                sale_price_minor=None,
            )
            [created] = connector.push_listings([push])
            assert created.ok, created.error
            assert created.product_id and created.sku_id
            item = books.find(channel, shop, "TEA-1")
            assert item is not None and (item.price, item.status) == (25_00, "onsale")
            assert created.product_id == item.id

            listed = dataclasses.replace(
                push,
                action="update",
                sale_price_minor=19_90,
                product_id=created.product_id,
                sku_id=created.sku_id,
            )
            [repriced] = connector.push_listings([listed])
            assert repriced.ok, repriced.error
            assert item.price == 19_90  # what a buyer pays: the sale price
            [off] = connector.push_listings([dataclasses.replace(listed, action="unlist")])
            assert off.ok and item.status == "instock"
            [back] = connector.push_listings([dataclasses.replace(listed, action="publish")])
            assert back.ok and item.status == "onsale"

            [duplicate] = connector.push_listings([dataclasses.replace(push, key="2")])
            assert not duplicate.ok and duplicate.rejected
            assert "already used" in (duplicate.error or "")
        # Create, price, off sale, back on sale (its price, then on sale), the refused duplicate.
        assert books.shop(channel, shop).calls == 6
        forget_rate_limits(key)
