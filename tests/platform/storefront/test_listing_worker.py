"""A publish in the API reaches the marketplace through the outbox and a worker: the relay
publishes the ``listing.changed`` event, its handler queues the shop's push, the push sends the
listing to the sandbox store and stores its marketplace id."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from daiyun.connectors.http import forget_rate_limits
from daiyun.sandboxes.marketplaces.catalog import catalog_of
from daiyun.sandboxes.marketplaces.server import running_sandbox
from daiyun.sandboxes.marketplaces.state import SandboxState
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.tasks import relay
from tests.conftest import World
from tests.core.tasks_fixtures import result_of, running_worker, wait_for
from tests.platform.storefront.listing_helpers import SHOP_NAMES, catalog, connect

API = "/api/v1/tenants"


def test_a_publish_is_pushed_by_a_worker(engine: Engine, tmp_path: Path, app: FastAPI) -> None:
    with (
        running_sandbox(SandboxState(seed=17)) as sandbox,
        running_worker(engine, tmp_path),
        TestClient(app) as client,
    ):
        world = World(client)
        tenant = world.tenant()
        manager = world.actor(Role.account_manager, tenant)
        sku = catalog(tenant.id, count=1).skus[0]
        shop_id = connect(sandbox, tenant.id, "woocommerce")
        base = f"{API}/{tenant.slug}/listings"
        body = {"sku_id": str(sku), "shop_id": str(shop_id), "list_price_minor": 28_00}
        listing = client.post(base, json=body, headers=manager.headers).json()
        published = client.post(f"{base}/{listing['id']}/publish", headers=manager.headers)
        assert published.json()["sync_status"] == "pending"

        result_of(relay.apply_async(ignore_result=False))

        def pushed() -> dict[str, object] | None:
            found = client.get(f"{base}/{listing['id']}", headers=manager.headers).json()
            return found if found["sync_status"] == "synced" else None

        synced = wait_for(pushed, "the listing to be pushed")
    forget_rate_limits()
    assert synced["state"] == "published"
    [product] = (
        catalog_of(sandbox.state).shop("woocommerce", SHOP_NAMES["woocommerce"]).products.values()
    )
    assert (product.sku, product.price) == ("TEA-0", 28_00)
    assert synced["external_product_id"] == product.id
