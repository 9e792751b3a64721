"""Paused shops and suspended tenants stay still, and lose nothing (issue 13 items 5 and 6).

A paused shop's pushes, and a suspended tenant's, are stored and held, not applied; resuming the
shop or reactivating the tenant hands them on, and each is applied exactly once. A suspended or
offboarded tenant's shops do not pull (beat skips them, a manual start is 409) and call no
marketplace. An offboarded tenant's webhook addresses answer 404 and store nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from daiyun.connectors import push, repository, sync, tasks, webhooks
from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import PUSH_CONSUMERS
from daiyun.connectors.models import DeliveryStatus, Shop, ShopStatus, SyncRun, WebhookDelivery
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.orders.models import Order, OrderEvent
from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import SandboxState
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import TenantStatus
from tests import factories
from tests.conftest import World
from tests.connectors import payloads

pytestmark = pytest.mark.usefixtures("broker")
API = "/api/v1/tenants"


@pytest.fixture(autouse=True)
def cold_endpoint_cache() -> Iterator[None]:
    webhooks.endpoints.clear()
    yield
    webhooks.endpoints.clear()


def _push(client: TestClient, shop: Shop, order_id: int = 450789469) -> int:
    body = payloads.encode(payloads.shopify_order(order_id))
    return client.post(
        f"/webhooks/shopify/{shop.webhook_key}",
        content=body,
        headers=payloads.shopify_headers(body),
    ).status_code


def _relay_and_process(tenant_id: uuid.UUID) -> list[DeliveryStatus | None]:
    """What the webhooks workers do: the relay queues what is stored, a task applies each."""
    tasks.relay_deliveries(tenant_id)
    with unit_of_work(tenant_id) as session:
        ids = list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status.in_(repository.PENDING_DELIVERY))
                .order_by(WebhookDelivery.id)
            )
        )
    outcomes = []
    for delivery_id in ids:
        with unit_of_work(tenant_id) as session:
            outcomes.append(webhooks.process(session, delivery_id))
    return outcomes


def _statuses(tenant_id: uuid.UUID) -> list[DeliveryStatus]:
    with unit_of_work(tenant_id) as session:
        return list(session.scalars(select(WebhookDelivery.status).order_by(WebhookDelivery.id)))


def _orders(tenant_id: uuid.UUID) -> tuple[int, int]:
    """(orders, order events) in the tenant's order book."""
    with unit_of_work(tenant_id) as session:
        orders = session.scalar(select(func.count()).select_from(Order))
        events = session.scalar(select(func.count()).select_from(OrderEvent))
        return int(orders or 0), int(events or 0)


def _set_status(tenant_id: uuid.UUID, status: TenantStatus) -> None:
    with unit_of_work() as session:
        tenant = tenant_service.get_tenant(session, tenant_id)
        assert tenant is not None
        tenant.status = status


# --- paused shops -----------------------------------------------------------------------------


def test_a_push_received_while_paused_is_applied_once_after_resume(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    shop = factories.shop(tenant.id)
    url = f"{API}/{tenant.slug}/shops/{shop.id}"
    assert client.patch(url, json={"status": "paused"}, headers=manager.headers).status_code == 200

    assert _push(client, shop) == 200
    assert _relay_and_process(tenant.id) == [DeliveryStatus.held]
    assert _statuses(tenant.id) == [DeliveryStatus.held]
    assert _orders(tenant.id) == (0, 0)
    # Held is not pending: neither the relay nor the sweep hands it on while paused.
    assert _relay_and_process(tenant.id) == []
    with unit_of_work(tenant.id) as session:
        assert repository.unprocessed_deliveries(session, utcnow() + timedelta(days=1)) == []

    resumed = client.patch(url, json={"status": "active"}, headers=manager.headers)
    assert resumed.status_code == 200, resumed.text
    assert _statuses(tenant.id) == [DeliveryStatus.received]
    assert _relay_and_process(tenant.id) == [DeliveryStatus.processed]
    orders, history = _orders(tenant.id)
    assert orders == 1
    # Applied exactly once: later passes, a replayed message and the beat change nothing.
    assert _relay_and_process(tenant.id) == []
    with unit_of_work(tenant.id) as session:
        delivery_id = session.scalar(select(WebhookDelivery.id))
        assert delivery_id is not None
        assert webhooks.process(session, delivery_id) is None
    tasks.schedule()
    assert _relay_and_process(tenant.id) == []
    assert _orders(tenant.id) == (orders, history)


def test_pausing_again_before_the_relay_ran_holds_the_delivery_again(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    admin = world.actor(Role.agency_admin)
    url = f"{API}/{tenant.slug}/shops/{shop.id}"
    client.patch(url, json={"status": "paused"}, headers=admin.headers)
    assert _push(client, shop) == 200
    assert _relay_and_process(tenant.id) == [DeliveryStatus.held]
    client.patch(url, json={"status": "active"}, headers=admin.headers)
    client.patch(url, json={"status": "paused"}, headers=admin.headers)
    assert _relay_and_process(tenant.id) == [DeliveryStatus.held]
    assert _orders(tenant.id) == (0, 0)
    client.patch(url, json={"status": "active"}, headers=admin.headers)
    assert _relay_and_process(tenant.id) == [DeliveryStatus.processed]
    assert _orders(tenant.id)[0] == 1


# --- suspended and offboarded tenants -----------------------------------------------------------


def test_a_suspended_tenants_pushes_are_kept_and_applied_on_reactivation(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _set_status(tenant.id, TenantStatus.suspended)

    assert _push(client, shop, 1001) == 200
    assert _push(client, shop, 1002) == 200
    assert _relay_and_process(tenant.id) == [DeliveryStatus.held] * 2
    assert _orders(tenant.id) == (0, 0)
    tasks.schedule()  # beat leaves a suspended tenant alone
    assert _statuses(tenant.id) == [DeliveryStatus.held] * 2

    _set_status(tenant.id, TenantStatus.active)
    tasks.schedule()  # the next beat hands the held pushes on
    assert _relay_and_process(tenant.id) == [DeliveryStatus.processed] * 2
    assert _orders(tenant.id)[0] == 2
    assert _relay_and_process(tenant.id) == []


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=3)) as served:
        yield served


SHOP_NAME = "lotus.myshopify.com"


def _sandbox_shop(sandbox: Sandbox, tenant_id: uuid.UUID) -> uuid.UUID:
    name = SHOP_NAME
    sandbox.state.register_shop(
        "shopify", name, dict(factories.CREDENTIALS["shopify"]), currency="USD"
    )
    shop = factories.shop(
        tenant_id, "shopify", name, api_base_url=sandbox.api_base_url("shopify", name)
    )
    return shop.id


def _runs(tenant_id: uuid.UUID) -> list[SyncRun]:
    with unit_of_work(tenant_id) as session:
        return list(session.scalars(select(SyncRun)))


@pytest.mark.parametrize("status", [TenantStatus.suspended, TenantStatus.offboarded])
def test_a_dormant_tenants_shops_do_not_sync_and_call_nothing(
    world: World,
    client: TestClient,
    sandbox: Sandbox,
    status: TenantStatus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "sync_interval_seconds", 0.001)  # every shop is due
    tenant = world.tenant()
    shop_id = _sandbox_shop(sandbox, tenant.id)
    # A run planned before the tenant was suspended finds it so when it starts.
    with unit_of_work(tenant.id) as session:
        shop = shop_service.get(session, shop_id, lock=True)
        run_id = sync.plan(session, shop, "manual", utcnow() - timedelta(hours=2)).id
    _set_status(tenant.id, status)

    assert sync.execute(tenant.id, run_id) == "cancelled"
    label = sandbox.state.require_shop("shopify", SHOP_NAME).label
    assert sandbox.state.stats()["requests"].get(label, 0) == 0  # no marketplace was called
    with unit_of_work(tenant.id) as session:
        run = repository.run(session, run_id)
        assert run is not None and run.status == "cancelled"
        assert shop_service.get(session, shop_id).consecutive_failures == 0

    # Beat plans nothing for it, even with every shop overdue.
    tasks.schedule()
    assert [r.id for r in _runs(tenant.id)] == [run_id]

    # A manual start is refused, for the agency admin too (staff are refused earlier).
    admin = world.actor(Role.agency_admin)
    refused = client.post(
        f"{API}/{tenant.slug}/shops/{shop_id}/sync", json={}, headers=admin.headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith(f"/tenant-{status.value}")
    assert [r.id for r in _runs(tenant.id)] == [run_id]

    # Push consumers hold no connection open for it (any consumer stands in for Shopify's).
    pushing = {"shopify": PUSH_CONSUMERS["taobao"]}
    assert shop_id not in push._active_push_shops(pushing)

    # Made active again, it syncs (and listens) as before.
    _set_status(tenant.id, TenantStatus.active)
    tasks.schedule()
    assert len(_runs(tenant.id)) == 2
    assert shop_id in push._active_push_shops(pushing)


def test_an_offboarded_tenants_webhook_address_answers_404_and_stores_nothing(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _set_status(tenant.id, TenantStatus.offboarded)
    assert _push(client, shop) == 404
    assert _statuses(tenant.id) == []
    # One stored before (or within the ingress cache's seconds) is held, never applied.
    _set_status(tenant.id, TenantStatus.active)
    assert _push(client, shop) == 200
    _set_status(tenant.id, TenantStatus.offboarded)
    assert _relay_and_process(tenant.id) == [DeliveryStatus.held]
    tasks.schedule()
    assert _statuses(tenant.id) == [DeliveryStatus.held]
    assert _orders(tenant.id) == (0, 0)


@pytest.mark.parametrize("suspended", [False, True])
def test_push_hints_for_a_paused_shop_or_suspended_tenant_call_nothing(
    world: World, sandbox: Sandbox, suspended: bool
) -> None:
    tenant = world.tenant()
    shop_id = _sandbox_shop(sandbox, tenant.id)
    if suspended:
        _set_status(tenant.id, TenantStatus.suspended)
    else:
        with unit_of_work(tenant.id) as session:
            shop_service.get(session, shop_id).status = ShopStatus.paused
    assert tasks.refetch_orders(str(tenant.id), str(shop_id), ["1"]) == 0
    label = sandbox.state.require_shop("shopify", SHOP_NAME).label
    assert sandbox.state.stats()["requests"].get(label, 0) == 0
