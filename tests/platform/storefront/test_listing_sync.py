"""Listing pushes through the sandbox marketplaces over real HTTP on loopback.

WooCommerce takes 100 listings per ``products/batch`` call, Shopify one per call; the
marketplace's ids are stored on the first publish; a 5xx or a 429 is waited out, a push that
cannot get through is stored on each listing and tried again after its backoff, a listing the
marketplace refuses is marked rejected with its error; a paused shop or a suspended tenant gets
no call at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from daiyun.connectors import service as shop_service
from daiyun.connectors.http import forget_rate_limits
from daiyun.connectors.schemas import ShopUpdate
from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.ids import utcnow
from daiyun.platform.storefront import listings, prices, sync
from daiyun.platform.storefront.changes import CHANGED
from daiyun.platform.storefront.listing_rules import ListingState, SyncStatus
from daiyun.platform.storefront.listing_schemas import PriceSet
from daiyun.platform.storefront.models import Listing
from daiyun.sandboxes.marketplaces.catalog import catalog_of
from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import Faults, SandboxState
from daiyun.tenants import service as tenant_service
from daiyun.tenants.models import TenantStatus
from tests import factories
from tests.conftest import World
from tests.platform.storefront.listing_helpers import SHOP_NAMES, catalog, connect, listed


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=11)) as served:
        yield served
    forget_rate_limits()


def _listings(tenant_id: uuid.UUID) -> list[Listing]:
    with unit_of_work(tenant_id) as session:
        return list(session.scalars(select(Listing).order_by(Listing.id)))


def _products(sandbox: Sandbox, channel: str) -> dict[str, dict[str, object]]:
    shop = catalog_of(sandbox.state).shop(channel, SHOP_NAMES[channel])
    return {p.sku: vars(p) for p in shop.products.values()}


def test_woocommerce_publishes_in_batches_of_100_and_keeps_the_ids(
    world: World, sandbox: Sandbox
) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=150)
    shop_id = connect(sandbox, tenant.id, "woocommerce")
    listed(tenant.id, shop_id, skus.skus, price=25_00)

    report = sync.push_shop(tenant.id, shop_id)

    books = catalog_of(sandbox.state).shop("woocommerce", SHOP_NAMES["woocommerce"])
    assert books.batch_sizes == [100, 50]  # the fewest calls the batch endpoint allows
    assert (report.synced, report.calls) == (150, 2)
    products = _products(sandbox, "woocommerce")
    assert set(products) == set(skus.codes)
    assert {p["price"] for p in products.values()} == {25_00}
    rows = _listings(tenant.id)
    assert {r.state for r in rows} == {ListingState.published}
    assert {r.sync_status for r in rows} == {SyncStatus.synced}
    assert all(r.published_at is not None for r in rows)
    by_code = {products[code]["id"] for code in skus.codes}
    assert {r.external_product_id for r in rows} == by_code
    # Nothing is left to send: a second push makes no call.
    assert sync.push_shop(tenant.id, shop_id).calls == 0
    assert books.calls == 2


def test_shopify_publish_then_price_change_and_unlist(world: World, sandbox: Sandbox) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=2)
    shop_id = connect(sandbox, tenant.id, "shopify")
    first, _ = listed(tenant.id, shop_id, skus.skus, price=30_00)

    assert sync.push_shop(tenant.id, shop_id).calls == 2  # no batch endpoint: one call each
    with unit_of_work(tenant.id) as session:
        listing = listings.get(session, first)
        ids = (
            listing.external_product_id,
            listing.external_sku_id,
            listing.external_inventory_item_id,
        )
        assert all(ids)
        prices.set_price(
            session,
            first,
            PriceSet(list_price_minor=30_00, sale_price_minor=24_00),
            can_override=False,
        )
        assert listing.prior_price_minor == 30_00
        assert listing.sync_status is SyncStatus.pending
    assert sync.push_shop(tenant.id, shop_id).calls == 1
    product = _products(sandbox, "shopify")[skus.codes[0]]
    assert (product["price"], product["compare_at"]) == (24_00, 30_00)
    with unit_of_work(tenant.id) as session:
        listing = listings.get(session, first)
        # The ids of the first publish stay; what was pushed is kept.
        assert (
            listing.external_product_id,
            listing.external_sku_id,
            listing.external_inventory_item_id,
        ) == ids
        assert listing.pushed["sale_price_minor"] == 24_00
        listings.unlist(session, first)
    sync.push_shop(tenant.id, shop_id)
    assert _products(sandbox, "shopify")[skus.codes[0]]["status"] == "draft"
    assert _listings(tenant.id)[0].sync_status is SyncStatus.synced


def test_a_5xx_and_a_429_are_waited_out_within_one_push(world: World, sandbox: Sandbox) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=1)
    shop_id = connect(sandbox, tenant.id, "woocommerce")
    listed(tenant.id, shop_id, skus.skus)
    sandbox.state.faults = Faults(fail_next=1, throttle_next=1, retry_after=0.1)

    report = sync.push_shop(tenant.id, shop_id)

    assert (report.synced, report.calls) == (1, 3)
    assert sandbox.state.stats()["violations"] == 0  # Retry-After was respected
    assert [r.sync_status for r in _listings(tenant.id)] == [SyncStatus.synced]


def test_a_push_that_cannot_get_through_is_stored_and_retried_after_backoff(
    world: World, sandbox: Sandbox
) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=2)
    shop_id = connect(sandbox, tenant.id, "woocommerce")
    listed(tenant.id, shop_id, skus.skus)
    sandbox.state.faults = Faults(fail_next=sync.PUSH_ATTEMPTS)
    now = utcnow()

    report = sync.push_shop(tenant.id, shop_id, now=now)

    assert report.failed == 2
    rows = _listings(tenant.id)
    assert {r.sync_status for r in rows} == {SyncStatus.failed}
    assert all("HTTP 500" in (r.sync_error or "") for r in rows)
    assert {r.sync_attempts for r in rows} == {1}
    assert {r.state for r in rows} == {ListingState.in_review}
    with unit_of_work(tenant.id) as session:
        assert listings.shops_with_due(session, now) == []  # backing off
        assert listings.shops_with_due(session, now + timedelta(minutes=2)) == [shop_id]
    report = sync.push_shop(tenant.id, shop_id, now=now + timedelta(minutes=2))
    assert report.synced == 2
    rows = _listings(tenant.id)
    assert {(r.state, r.sync_status, r.sync_error) for r in rows} == {
        (ListingState.published, SyncStatus.synced, None)
    }


def test_a_listing_the_marketplace_refuses_is_rejected_with_its_error(
    world: World, sandbox: Sandbox
) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=2)
    shop_id = connect(sandbox, tenant.id, "woocommerce")
    # The store already sells TEA-0 under another product: WooCommerce refuses the duplicate.
    catalog_of(sandbox.state).create(
        "woocommerce", SHOP_NAMES["woocommerce"], skus.codes[0], "Old", "CNY", 100
    )
    first, second = listed(tenant.id, shop_id, skus.skus)

    sync.push_shop(tenant.id, shop_id)

    with unit_of_work(tenant.id) as session:
        refused = listings.get(session, first)
        assert refused.state is ListingState.rejected
        assert refused.sync_status is SyncStatus.failed
        assert "product_invalid_sku" in (refused.sync_error or "")
        assert refused.next_attempt_at is None  # not retried as it is
        assert listings.get(session, second).state is ListingState.published
        # A person's retry sends it again.
        listings.retry(session, first)
        assert refused.state is ListingState.in_review
        assert refused.sync_status is SyncStatus.pending


def test_a_paused_shop_or_a_suspended_tenant_gets_no_call(world: World, sandbox: Sandbox) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=1)
    shop_id = connect(sandbox, tenant.id, "woocommerce")
    listed(tenant.id, shop_id, skus.skus)
    with unit_of_work(tenant.id) as session:
        shop_service.update(session, shop_id, ShopUpdate(status="paused"))
    assert sync.push_shop(tenant.id, shop_id).halted == "The shop is paused"
    with unit_of_work(tenant.id) as session:
        shop_service.update(session, shop_id, ShopUpdate(status="active"))
    with unit_of_work() as session:
        found = tenant_service.get_tenant(session, tenant.id)
        assert found is not None
        found.status = TenantStatus.suspended
    assert sync.push_shop(tenant.id, shop_id).halted == "The tenant is suspended"
    assert sandbox.state.stats()["requests"] == {}  # not one outbound call
    assert [r.sync_status for r in _listings(tenant.id)] == [SyncStatus.pending]
    with unit_of_work() as session:
        found = tenant_service.get_tenant(session, tenant.id)
        assert found is not None
        found.status = TenantStatus.active
    assert sync.push_shop(tenant.id, shop_id).synced == 1


def test_publishing_writes_the_outbox_event_the_push_follows(world: World) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=2)
    shop_id = factories.shop(tenant.id, "woocommerce").id
    ids = listed(tenant.id, shop_id, skus.skus)
    with unit_of_work(tenant.id) as session:
        events = list(session.scalars(select(OutboxEvent).where(OutboxEvent.topic == CHANGED)))
    assert [e.payload for e in events] == [
        {"shop_id": str(shop_id), "listing_ids": [str(i)]} for i in ids
    ]


def test_amazon_puts_an_offer_per_sku_patches_its_price_and_deletes_it(
    world: World, sandbox: Sandbox
) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=2)
    shop_id = connect(sandbox, tenant.id, "amazon")
    first, _ = listed(tenant.id, shop_id, skus.skus, price=19_99)

    assert sync.push_shop(tenant.id, shop_id).synced == 2
    books = catalog_of(sandbox.state).shop("amazon", SHOP_NAMES["amazon"])
    assert books.batch_sizes == [1, 1]
    assert {p["price"] for p in _products(sandbox, "amazon").values()} == {19_99}
    with unit_of_work(tenant.id) as session:
        listing = listings.get(session, first)
        assert listing.external_sku_id == "TEA-0"  # a seller's listing is keyed by its SKU
        prices.set_price(
            session,
            first,
            PriceSet(list_price_minor=19_99, sale_price_minor=15_50),
            can_override=False,
        )
    sync.push_shop(tenant.id, shop_id)
    product = _products(sandbox, "amazon")["TEA-0"]
    assert (product["price"], product["compare_at"]) == (15_50, 19_99)
    with unit_of_work(tenant.id) as session:
        listings.unlist(session, first)
    sync.push_shop(tenant.id, shop_id)
    assert _products(sandbox, "amazon")["TEA-0"]["status"] == "deleted"
