"""The order book: one order per (shop, external id), newest wins, review holds, staff decide."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.core.audit.models import AuditEntry
from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.platform.orders import service
from daiyun.platform.orders.models import Order, OrderLine, ReviewState
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from daiyun.platform.orders.service import Outcome
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.factories import T0

API = "/api/v1/tenants"


def _ingest(tenant_id: uuid.UUID, shop_id: uuid.UUID, *orders: object) -> list[Outcome]:
    with unit_of_work(tenant_id) as session:
        return [o for o, _ in service.ingest(session, shop_id, "shopify", list(orders))]  # type: ignore[arg-type]


def _topics(tenant_id: uuid.UUID) -> list[str]:
    with unit_of_work(tenant_id) as session:
        return list(session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))


def _stored(tenant_id: uuid.UUID, external_id: str = "1001") -> Order:
    with unit_of_work(tenant_id) as session:
        order = session.scalar(select(Order).where(Order.external_id == external_id))
        assert order is not None
        _ = order.lines, order.refunds
        return order


def test_an_order_is_created_once_and_redelivery_changes_nothing(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    first = factories.order()
    assert _ingest(tenant.id, shop.id, first) == [Outcome.created]
    assert _ingest(tenant.id, shop.id, factories.order()) == [Outcome.unchanged]
    stored = _stored(tenant.id)
    assert stored.status == OrderStatus.paid
    assert stored.total_minor == 5998
    assert stored.item_count == 2
    assert [(line.sku, line.quantity, line.unit_price_minor) for line in stored.lines] == [
        ("TEA-001", 2, 2999)
    ]
    assert _topics(tenant.id) == ["order.created"]


def test_an_older_update_never_overwrites_a_newer_one(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    newer = factories.order(updated=T0 + timedelta(hours=2), status=OrderStatus.shipped)
    older = factories.order(updated=T0 + timedelta(hours=1), status=OrderStatus.cancelled)
    assert _ingest(tenant.id, shop.id, factories.order()) == [Outcome.created]
    assert _ingest(tenant.id, shop.id, newer) == [Outcome.updated]
    assert _ingest(tenant.id, shop.id, older) == [Outcome.stale]
    stored = _stored(tenant.id)
    assert stored.status == OrderStatus.shipped
    assert stored.source_updated_at == T0 + timedelta(hours=2)
    assert _topics(tenant.id) == ["order.created", "order.updated"]


def test_one_batch_holding_an_order_twice_keeps_its_newest_version(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    old = factories.order(updated=T0)
    new = factories.order(updated=T0 + timedelta(minutes=5), status=OrderStatus.fulfilled)
    assert _ingest(tenant.id, shop.id, new, old) == [Outcome.created]
    assert _stored(tenant.id).status == OrderStatus.fulfilled


def test_an_update_replaces_lines_and_a_refund_emits_order_refunded(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _ingest(tenant.id, shop.id, factories.order(quantity=2))
    refund = NormalizedRefund("r1", 2999, T0 + timedelta(hours=3), "broken tin")
    changed = factories.order(
        updated=T0 + timedelta(hours=3),
        status=OrderStatus.partially_refunded,
        quantity=1,
        total_minor=2999,
        refunds=[refund],
    )
    assert _ingest(tenant.id, shop.id, changed) == [Outcome.updated]
    stored = _stored(tenant.id)
    assert [line.quantity for line in stored.lines] == [1]
    assert stored.refunded_minor == 2999
    assert [(r.external_id, r.amount_minor, r.reason) for r in stored.refunds] == [
        ("r1", 2999, "broken tin")
    ]
    with unit_of_work(tenant.id) as session:
        assert session.scalar(select(OrderLine.id).where(OrderLine.quantity == 2)) is None
    assert _topics(tenant.id) == ["order.created", "order.updated", "order.refunded"]


def test_a_malformed_phone_holds_the_order_and_staff_release_it(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _ingest(tenant.id, shop.id, factories.order(phone="+86 12"))
    held = _stored(tenant.id)
    assert held.status == OrderStatus.on_hold
    assert held.source_status == OrderStatus.paid
    assert [r["code"] for r in held.hold_reasons] == ["phone_invalid"]

    cs = world.actor(Role.cs_agent, tenant)
    url = f"{API}/{tenant.slug}/orders/{held.id}"
    answer = client.post(f"{url}/release", json={"note": "called the buyer"}, headers=cs.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "paid"
    assert answer.json()["review_state"] == "released"
    assert [e["kind"] for e in answer.json()["history"]] == ["created", "held", "released"]
    again = client.post(f"{url}/release", json={}, headers=cs.headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/not-on-hold")
    with unit_of_work(tenant.id) as session:
        actions = session.scalars(select(AuditEntry.action))
        assert "order.released" in list(actions)


def test_staff_cancel_a_held_order_with_a_reason(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _ingest(tenant.id, shop.id, factories.order(phone="not a phone"))
    held = _stored(tenant.id)
    manager = world.actor(Role.account_manager, tenant)
    url = f"{API}/{tenant.slug}/orders/{held.id}/cancel"
    missing = client.post(url, json={}, headers=manager.headers)
    assert missing.status_code == 422
    answer = client.post(url, json={"reason": "fraud suspected"}, headers=manager.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    assert _topics(tenant.id)[-1] == "order.cancelled"


def test_the_channel_cancelling_a_held_order_ends_the_hold(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _ingest(tenant.id, shop.id, factories.order(phone="bad"))
    cancelled = factories.order(
        phone="bad", updated=T0 + timedelta(hours=1), status=OrderStatus.cancelled
    )
    _ingest(tenant.id, shop.id, cancelled)
    stored = _stored(tenant.id)
    assert stored.status == OrderStatus.cancelled
    assert stored.review_state == ReviewState.cancelled


def test_a_repeat_order_from_the_same_buyer_is_held_as_a_likely_duplicate(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _ingest(tenant.id, shop.id, factories.order("1001"))
    _ingest(tenant.id, shop.id, factories.order("1002", placed=T0))
    second = _stored(tenant.id, "1002")
    assert [r["code"] for r in second.hold_reasons] == ["duplicate_suspected"]


def test_review_policy_blocklist_and_auto_approve(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    manager = world.actor(Role.account_manager, tenant)
    url = f"{API}/{tenant.slug}/review-policy"
    bad = client.put(url, json={"duplicate_window_hours": 0}, headers=manager.headers)
    assert bad.status_code == 422
    put = client.put(
        url, json={"blocked_buyers": ["XiaoMing@Example.com"]}, headers=manager.headers
    )
    assert put.status_code == 200, put.text
    assert client.get(url, headers=manager.headers).json()["blocked_buyers"] == [
        "XiaoMing@Example.com"
    ]
    _ingest(tenant.id, shop.id, factories.order("2001"))
    assert [r["code"] for r in _stored(tenant.id, "2001").hold_reasons] == ["blocklisted"]

    put = client.put(url, json={"auto_approve_shops": [str(shop.id)]}, headers=manager.headers)
    _ingest(tenant.id, shop.id, factories.order("2002", phone="bad", email="x@example.com"))
    approved = _stored(tenant.id, "2002")
    assert approved.status == OrderStatus.paid
    assert approved.review_state == ReviewState.auto_approved


def test_list_filters_and_search(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _ingest(
        tenant.id,
        shop.id,
        factories.order("A-1", buyer="Alice Smith", email="alice@example.com", sku="A"),
        factories.order("B-2", status=OrderStatus.shipped, placed=T0 + timedelta(days=2), sku="B"),
    )
    cs = world.actor(Role.cs_agent, tenant)

    def ids(**params: str) -> list[str]:
        answer = client.get(f"{API}/{tenant.slug}/orders", params=params, headers=cs.headers)
        assert answer.status_code == 200, answer.text
        return [o["external_id"] for o in answer.json()["items"]]

    assert ids() == ["A-1", "B-2"]
    assert ids(status="shipped") == ["B-2"]
    assert ids(q="alice") == ["A-1"]
    assert ids(q="b-2") == ["B-2"]
    assert ids(placed_from=(T0 + timedelta(days=1)).isoformat()) == ["B-2"]
    assert ids(channel="woocommerce") == []
    assert ids(shop_id=str(shop.id)) == ["A-1", "B-2"]
    naive = client.get(
        f"{API}/{tenant.slug}/orders",
        params={"placed_from": "2026-10-01T00:00:00"},
        headers=cs.headers,
    )
    assert naive.status_code == 400
    assert naive.headers["content-type"] == "application/problem+json"
    assert (
        client.get(
            f"{API}/{tenant.slug}/orders", params={"status": "lost"}, headers=cs.headers
        ).status_code
        == 422
    )


def test_buyer_details_are_masked_for_roles_without_buyers_read(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    _ingest(tenant.id, shop.id, factories.order())
    order_id = _stored(tenant.id).id
    url = f"{API}/{tenant.slug}/orders/{order_id}"
    viewer = world.actor(Role.merchant_viewer, tenant)
    masked = client.get(url, headers=viewer.headers).json()
    assert masked["buyer_name"] == "王**"
    assert masked["buyer_email"] == "x***@example.com"
    assert masked["buyer_phone"] == "***5678"
    assert masked["shipping_address"]["city"] == "杭州市"
    assert masked["shipping_address"]["address1"] is None
    owner = world.actor(Role.merchant_owner, tenant)
    full = client.get(url, headers=owner.headers).json()
    assert full["buyer_phone"] == "+8613812345678"
    assert full["shipping_address"]["address1"] == "文三路 100 号 5 幢 302 室"
    assert full["lines"][0]["sku"] == "TEA-001"
    assert [e["kind"] for e in full["history"]] == ["created"]


def test_another_tenants_order_is_not_found(world: World, client: TestClient) -> None:
    mine, theirs = world.tenant(), world.tenant()
    their_shop = factories.shop(theirs.id)
    _ingest(theirs.id, their_shop.id, factories.order(phone="bad"))
    their_order = _stored(theirs.id)
    admin_of_mine = world.actor(Role.account_manager, mine)
    base = f"{API}/{mine.slug}/orders/{their_order.id}"
    assert client.get(base, headers=admin_of_mine.headers).status_code == 404
    assert client.post(f"{base}/release", json={}, headers=admin_of_mine.headers).status_code == 404
    assert _stored(theirs.id).status == OrderStatus.on_hold
