"""Webhook ingress (ARCHITECTURE.md rule 4): verified, stored once, processed in order of truth.

Deliveries go through the app over HTTP; processing runs the task body in-process, except the
end-to-end test, which goes through a real broker and worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from daiyun.connectors import webhooks
from daiyun.connectors.models import DeliveryStatus, Shop, WebhookDelivery
from daiyun.platform import db
from daiyun.platform.auth.permissions import Role
from daiyun.platform.config import get_settings
from daiyun.platform.orders.models import Order
from daiyun.platform.orders.normalized import OrderStatus
from tests import factories
from tests.conftest import World
from tests.connectors import payloads
from tests.platform.tasks_fixtures import running_worker, wait_for

pytestmark = pytest.mark.usefixtures("broker")


def _url(shop: Shop) -> str:
    return f"/webhooks/{shop.channel}/{shop.webhook_key}"


def _counts(tenant_id: uuid.UUID) -> tuple[int, int]:
    with db.unit_of_work(tenant_id) as session:
        deliveries = session.scalar(select(func.count()).select_from(WebhookDelivery))
        orders = session.scalar(select(func.count()).select_from(Order))
        return int(deliveries or 0), int(orders or 0)


def _process_all(tenant_id: uuid.UUID) -> list[DeliveryStatus | None]:
    """Run the processing task's body for every delivery waiting, oldest first."""
    with db.unit_of_work(tenant_id) as session:
        ids = list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == DeliveryStatus.received)
                .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
            )
        )
    outcomes = []
    for delivery_id in ids:
        with db.unit_of_work(tenant_id) as session:
            outcomes.append(webhooks.process(session, delivery_id))
    return outcomes


def _order(tenant_id: uuid.UUID) -> Order:
    with db.unit_of_work(tenant_id) as session:
        order = session.scalar(select(Order))
        assert order is not None
        return order


def test_the_same_webhook_five_times_makes_one_order(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    body = payloads.encode(payloads.shopify_order())
    headers = payloads.shopify_headers(body, "orders/create", event_id="evt-1")
    answers = [client.post(_url(shop), content=body, headers=headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["status"] for a in answers] == ["accepted"] + ["duplicate"] * 4
    assert len({a.json()["delivery_id"] for a in answers}) == 1
    assert _process_all(tenant.id) == [DeliveryStatus.processed]
    assert _counts(tenant.id) == (1, 1)
    assert _order(tenant.id).total_minor == 5998


def test_updates_delivered_out_of_order_end_at_the_newest_state(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    states = [
        ("2026-10-15T16:00:00+08:00", "paid", None),
        ("2026-10-15T18:00:00+08:00", "paid", "partial"),
        ("2026-10-15T20:00:00+08:00", "paid", "fulfilled"),
    ]
    bodies = [
        payloads.encode(payloads.shopify_order(updated_at=u, fulfillment_status=f))
        for u, _, f in states
    ]
    for body in reversed(bodies):  # newest first
        answer = client.post(_url(shop), content=body, headers=payloads.shopify_headers(body))
        assert answer.status_code == 200
    outcomes = _process_all(tenant.id)
    assert outcomes == [DeliveryStatus.processed, DeliveryStatus.stale, DeliveryStatus.stale]
    order = _order(tenant.id)
    assert order.status == OrderStatus.fulfilled
    assert order.source_updated_at.isoformat() == "2026-10-15T12:00:00+00:00"


def test_woocommerce_dedupes_on_order_and_modification_time(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id, "woocommerce")
    body = payloads.encode(payloads.woo_order())
    first = client.post(_url(shop), content=body, headers=payloads.woo_headers(body))
    # Same order and time under another Delivery-ID (WooCommerce's is not unique): a duplicate.
    again = client.post(
        _url(shop),
        content=body,
        headers={**payloads.woo_headers(body), "X-WC-Webhook-Delivery-ID": "other"},
    )
    assert (first.json()["status"], again.json()["status"]) == ("accepted", "duplicate")
    _process_all(tenant.id)
    order = _order(tenant.id)
    assert (order.status, order.total_minor, order.currency) == (OrderStatus.paid, 2500, "USD")


def test_woocommerce_ping_is_acknowledged_and_ignored(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id, "woocommerce")
    answer = client.post(
        _url(shop),
        content=b"webhook_id=12",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "ping"
    assert _counts(tenant.id) == (0, 0)


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "body changed", "no signature"],
)
def test_a_bad_signature_stores_nothing(world: World, client: TestClient, tamper: str) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    body = payloads.encode(payloads.shopify_order())
    headers = payloads.shopify_headers(body)
    if tamper == "wrong secret":
        headers["X-Shopify-Hmac-Sha256"] = payloads.sign("guess", body)
    elif tamper == "body changed":
        body = body.replace(b"59.98", b"0.01")
    else:
        del headers["X-Shopify-Hmac-Sha256"]
    answer = client.post(_url(shop), content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/invalid-signature")
    assert _counts(tenant.id) == (0, 0)


def test_malformed_json_and_oversized_bodies_get_4xx_and_store_nothing(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    broken = b'{"id": 1, "currency": '
    answer = client.post(_url(shop), content=broken, headers=payloads.shopify_headers(broken))
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/malformed-payload")
    not_an_order = payloads.encode({"id": 1})
    answer = client.post(
        _url(shop), content=not_an_order, headers=payloads.shopify_headers(not_an_order)
    )
    assert answer.status_code == 400
    huge = b'{"pad": "' + b"x" * (get_settings().max_body_bytes + 1) + b'"}'
    answer = client.post(_url(shop), content=huge, headers=payloads.shopify_headers(huge))
    assert answer.status_code == 413
    assert _counts(tenant.id) == (0, 0)


def test_unknown_addresses_and_wrong_channels_are_not_found(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    body = payloads.encode(payloads.shopify_order())
    headers = payloads.shopify_headers(body)
    assert client.post("/webhooks/shopify/nope", content=body, headers=headers).status_code == 404
    wrong = f"/webhooks/woocommerce/{shop.webhook_key}"
    assert client.post(wrong, content=body, headers=headers).status_code == 404
    assert _counts(tenant.id) == (0, 0)


def test_database_down_answers_503_so_the_marketplace_retries(
    world: World, client: TestClient, engine: Engine
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    body = payloads.encode(payloads.shopify_order())
    down = db.make_engine("postgresql+psycopg://daiyun@127.0.0.1:9/none", pool_pre_ping=False)
    db.configure(down)
    try:
        answer = client.post(_url(shop), content=body, headers=payloads.shopify_headers(body))
    finally:
        down.dispose()
    assert answer.status_code == 503
    assert answer.headers["retry-after"]


def test_staff_list_and_replay_deliveries(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    body = payloads.encode(payloads.shopify_order())
    client.post(_url(shop), content=body, headers=payloads.shopify_headers(body, "orders/create"))
    _process_all(tenant.id)
    manager = world.actor(Role.account_manager, tenant)
    base = f"/api/v1/tenants/{tenant.slug}/webhook-deliveries"
    [listed] = client.get(base, headers=manager.headers).json()["items"]
    assert (listed["topic"], listed["status"]) == ("orders/create", "processed")
    replay = client.post(f"{base}/{listed['id']}/replay", headers=manager.headers)
    assert replay.status_code == 202
    assert replay.json()["status"] == "received"
    assert _process_all(tenant.id) == [DeliveryStatus.processed]
    assert _counts(tenant.id) == (1, 1)
    missing = client.post(f"{base}/{uuid.uuid4()}/replay", headers=manager.headers)
    assert missing.status_code == 404


@pytest.fixture
def worker_app(engine: Engine, tmp_path: Path, app: FastAPI) -> Iterator[TestClient]:
    with running_worker(engine, tmp_path), TestClient(app) as client:
        yield client


def test_a_webhook_reaches_the_order_book_through_the_worker(worker_app: TestClient) -> None:
    world = World(worker_app)
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    body = payloads.encode(payloads.shopify_order(order_id=9001))
    answer = worker_app.post(
        _url(shop), content=body, headers=payloads.shopify_headers(body, "orders/create")
    )
    assert answer.status_code == 200
    wait_for(lambda: _counts(tenant.id)[1] == 1, "the order from the webhook")
    assert _order(tenant.id).external_id == "9001"
