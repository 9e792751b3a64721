"""Webhook ingress (ARCHITECTURE.md rule 4): verified, stored once, processed in order of truth.

Deliveries go through the app over HTTP; processing runs the task body in-process, except the
end-to-end tests, which go through a real broker and a worker (whose relay queues what the
ingress stored).
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

from daiyun.connectors import addresses, tasks, webhooks
from daiyun.connectors import service as shop_service
from daiyun.connectors.models import DeliveryStatus, Shop, WebhookDelivery
from daiyun.connectors.schemas import ShopUpdate
from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.platform.orders.models import Order
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.connectors import payloads
from tests.core.tasks_fixtures import (
    _drop_cached_connections,
    committed_database,
    running_worker,
    wait_for,
)
from tests.factories import Clock

pytestmark = pytest.mark.usefixtures("broker")


@pytest.fixture(autouse=True)
def cold_endpoint_cache() -> Iterator[None]:
    """Every test starts with nothing remembered about webhook addresses."""
    webhooks.endpoints.clear()
    yield
    webhooks.endpoints.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(webhooks.endpoints, "clock", fake)
    return fake


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


def _statuses(tenant_id: uuid.UUID) -> list[DeliveryStatus]:
    with db.unit_of_work(tenant_id) as session:
        return list(session.scalars(select(WebhookDelivery.status).order_by(WebhookDelivery.id)))


def _post(client: TestClient, shop: Shop, *, secret: str = payloads.SHOPIFY_SECRET) -> int:
    """Push a fresh orders/updated event (its own event id) signed with ``secret``."""
    body = payloads.encode(payloads.shopify_order())
    headers = payloads.shopify_headers(body)
    headers["X-Shopify-Hmac-Sha256"] = payloads.sign(secret, body)
    return client.post(_url(shop), content=body, headers=headers).status_code


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


def test_deliveries_arriving_together_are_each_stored_once_and_answered_after_the_commit(
    world: World, client: TestClient
) -> None:
    """Concurrent pushes share commit groups: each distinct event is accepted once, each repeat
    answers duplicate with the first one's id, and every accepted id is stored."""
    from concurrent.futures import ThreadPoolExecutor

    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    events = [f"evt-{n}" for n in range(12)]
    sends = [(e, n) for e in events for n in range(3)]  # every event three times
    bodies = {
        e: payloads.encode(payloads.shopify_order(order_id=5_000 + n)) for n, e in enumerate(events)
    }

    def send(send: tuple[str, int]) -> tuple[str, dict[str, str]]:
        event, _ = send
        body = bodies[event]
        headers = payloads.shopify_headers(body, "orders/create", event_id=event)
        answer = client.post(_url(shop), content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return event, answer.json()

    # The first push alone: the address is then remembered, and the concurrent pushes touch
    # the database only through the writer (the tests' shared connection takes one at a time).
    answers = [send(sends[0])]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers += pool.map(send, sends[1:])
    by_event: dict[str, list[dict[str, str]]] = {}
    for event, answer in answers:
        by_event.setdefault(event, []).append(answer)
    for event in events:
        statuses = sorted(a["status"] for a in by_event[event])
        assert statuses == ["accepted", "duplicate", "duplicate"], event
        assert len({a["delivery_id"] for a in by_event[event]}) == 1
    with db.unit_of_work(tenant.id) as session:
        stored = set(session.scalars(select(WebhookDelivery.id)))
    assert stored == {uuid.UUID(a["delivery_id"]) for _, a in answers}
    assert len(stored) == len(events)


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


def test_a_bad_signature_stores_nothing_when_the_secret_is_cached(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    assert _post(client, shop) == 200  # the address and its secret are now remembered
    assert _post(client, shop, secret="guess") == 401
    assert _counts(tenant.id) == (1, 0)


def test_disconnecting_or_replacing_the_secret_takes_effect_at_once(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    manager = world.actor(Role.account_manager, tenant)
    url = f"/api/v1/tenants/{tenant.slug}/shops/{shop.id}"
    assert _post(client, shop) == 200
    credentials = {**factories.CREDENTIALS["shopify"], "api_secret": "rotated-secret"}
    patched = client.patch(url, json={"credentials": credentials}, headers=manager.headers)
    assert patched.status_code == 200
    assert _post(client, shop) == 401  # the old secret, remembered a moment ago
    assert _post(client, shop, secret="rotated-secret") == 200
    assert client.delete(url, headers=manager.headers).status_code == 204
    assert _post(client, shop, secret="rotated-secret") == 404
    assert _counts(tenant.id) == (2, 0)


def test_a_shop_disconnected_by_another_process_is_refused_once_the_cache_expires(
    world: World, client: TestClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    assert _post(client, shop) == 200
    # Another API process disconnects the shop: this one is not told.
    monkeypatch.setattr(addresses, "forget_shop", lambda *_: None)
    with db.unit_of_work(tenant.id) as session:
        shop_service.disconnect(session, shop.id)
    clock.now += addresses.CACHE_SECONDS - 1
    assert _post(client, shop) == 200  # still within what this process may remember
    clock.now += 1
    assert _post(client, shop) == 404
    assert _counts(tenant.id) == (2, 0)


def test_a_secret_replaced_by_another_process_is_read_again_on_a_failed_check(
    world: World, client: TestClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    assert _post(client, shop) == 200
    monkeypatch.setattr(addresses, "forget_shop", lambda *_: None)
    credentials = {**factories.CREDENTIALS["shopify"], "api_secret": "rotated-secret"}
    with db.unit_of_work(tenant.id) as session:
        shop_service.update(session, shop.id, ShopUpdate(credentials=credentials))
    # Within a second of the last read, a failed check does not go back to the database.
    assert _post(client, shop, secret="rotated-secret") == 401
    clock.now += webhooks.RELOAD_SECONDS
    assert _post(client, shop, secret="rotated-secret") == 200
    assert _post(client, shop) == 401  # the old secret no longer works anywhere
    assert _counts(tenant.id) == (2, 0)


def test_the_relay_queues_each_stored_delivery_once(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    for _ in range(3):
        assert _post(client, shop) == 200
    assert _statuses(tenant.id) == [DeliveryStatus.received] * 3
    assert tasks.relay_deliveries(tenant.id) == 3
    assert _statuses(tenant.id) == [DeliveryStatus.queued] * 3
    assert tasks.relay_deliveries(tenant.id) == 0
    # A queued delivery is applied by its task like a received one, once.
    assert _process_queued(tenant.id) == [DeliveryStatus.processed] * 3
    assert _process_queued(tenant.id) == []


def _process_queued(tenant_id: uuid.UUID) -> list[DeliveryStatus | None]:
    with db.unit_of_work(tenant_id) as session:
        ids = list(
            session.scalars(
                select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.queued)
            )
        )
    outcomes = []
    for delivery_id in ids:
        with db.unit_of_work(tenant_id) as session:
            outcomes.append(webhooks.process(session, delivery_id))
    return outcomes


def test_a_delivery_stored_while_the_broker_is_down_is_processed_later(
    engine: Engine, tmp_path: Path, app: FastAPI
) -> None:
    from daiyun.core.tasks import celery_app

    with committed_database(engine), TestClient(app) as client:
        tenant = World(client).tenant()
        shop = factories.shop(tenant.id)
        saved = celery_app.conf.broker_url
        _drop_cached_connections()
        celery_app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens there
        try:
            body = payloads.encode(payloads.shopify_order(order_id=9002))
            answer = client.post(
                _url(shop), content=body, headers=payloads.shopify_headers(body, "orders/create")
            )
        finally:
            _drop_cached_connections()
            celery_app.conf.broker_url = saved
        assert answer.status_code == 200
        assert answer.json()["status"] == "accepted"
        assert _counts(tenant.id) == (1, 0)
    # The broker (and a worker) come back: the relay queues what was stored.
    with running_worker(engine, tmp_path):
        wait_for(lambda: _counts(tenant.id)[1] == 1, "the order stored while the broker was down")
    assert _statuses(tenant.id) == [DeliveryStatus.processed]
