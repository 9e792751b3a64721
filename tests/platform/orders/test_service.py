"""The order book's service: one order per (shop, external id), newest wins, holds, batches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.tenancy import TenantContextMissing
from daiyun.platform.orders import repository, service
from daiyun.platform.orders.models import Order, OrderEvent, OrderLine, OrderRefund, ReviewState
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from daiyun.platform.orders.service import Outcome
from tests import factories
from tests.conftest import World
from tests.factories import T0
from tests.platform.orders import book


def test_a_batch_writes_every_row_of_its_new_orders_in_the_tenant(world: World) -> None:
    tenant, other = world.tenant(), world.tenant()
    shop = factories.shop(tenant.id)
    refund = NormalizedRefund("r1", 1000, T0, "damaged", [{"sku": "B", "quantity": 1}])
    batch = [
        factories.order("1", sku="A"),
        factories.order("2", sku="B", status=OrderStatus.partially_refunded, refunds=[refund]),
        factories.order("3", sku="C", phone="bad"),
    ]
    with unit_of_work(tenant.id) as session:
        results = service.ingest(session, shop.id, "shopify", batch)
    assert [outcome for outcome, _ in results] == [Outcome.created] * 3
    returned = {order.external_id: order for _, order in results}
    assert returned["3"].status == OrderStatus.on_hold
    assert returned["2"].refunded_minor == 1000
    assert all(order.tenant_id == tenant.id for order in returned.values())

    with unit_of_work(tenant.id) as session:
        stored = {o.external_id: o for o in session.scalars(select(Order))}
        assert {k: v.id for k, v in stored.items()} == {k: v.id for k, v in returned.items()}
        assert [r["code"] for r in stored["3"].hold_reasons] == ["phone_invalid"]
        assert stored["3"].review_state == ReviewState.held
        assert stored["1"].review_state == ReviewState.passed
        assert [(line.sku, line.quantity) for line in stored["1"].lines] == [("A", 2)]
        assert [(r.external_id, r.amount_minor, r.lines) for r in stored["2"].refunds] == [
            ("r1", 1000, [{"sku": "B", "quantity": 1}])
        ]
        history = [e.kind for e in repository.history(session, stored["3"].id)]
        assert history == ["created", "held"]
        topics = session.execute(select(OutboxEvent.topic, OutboxEvent.payload)).all()
        assert [topic for topic, _ in topics] == ["order.created"] * 3
        assert {p["external_id"]: p["status"] for _, p in topics} == {
            "1": "paid",
            "2": "partially_refunded",
            "3": "on_hold",
        }
    # Every row carries the tenant: none of them is visible to another one.
    with unit_of_work(other.id) as session:
        for model in (Order, OrderLine, OrderRefund, OrderEvent, OutboxEvent):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_a_later_order_of_the_same_batch_sees_an_earlier_one_as_a_duplicate(
    world: World,
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    first = factories.order("1001")
    again = factories.order("1002", placed=T0 - timedelta(minutes=30))
    later = factories.order("1003", placed=T0 + timedelta(days=3))
    with unit_of_work(tenant.id) as session:
        results = service.ingest(session, shop.id, "shopify", [first, again, later])
    codes = {order.external_id: [r["code"] for r in order.hold_reasons] for _, order in results}
    assert codes == {"1001": [], "1002": ["duplicate_suspected"], "1003": []}


def test_a_cancelled_order_in_the_batch_no_longer_counts_as_a_duplicate(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    with unit_of_work(tenant.id) as session:
        service.ingest(session, shop.id, "shopify", [factories.order("1001")])
    cancelled = factories.order(
        "1001", updated=T0 + timedelta(hours=1), status=OrderStatus.cancelled
    )
    with unit_of_work(tenant.id) as session:
        results = service.ingest(
            session, shop.id, "shopify", [cancelled, factories.order("1002", placed=T0)]
        )
    assert [outcome for outcome, _ in results] == [Outcome.updated, Outcome.created]
    assert results[1][1].hold_reasons == []


def test_an_order_inserted_meanwhile_by_another_import_is_applied_as_an_update(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    with unit_of_work(tenant.id) as session:
        service.ingest(session, shop.id, "shopify", [factories.order("1001")])
    # The first read misses the order, as if the other import committed just after it.
    real = repository.by_external_ids
    reads: list[int] = []

    def late(*args: Any, **kwargs: Any) -> dict[str, Order]:
        reads.append(1)
        return {} if len(reads) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(repository, "by_external_ids", late)
    newer = factories.order("1001", updated=T0 + timedelta(hours=1), status=OrderStatus.shipped)
    with unit_of_work(tenant.id) as session:
        results = service.ingest(
            session, shop.id, "shopify", [newer, factories.order("1002", sku="B")]
        )
    assert len(reads) == 2
    assert [outcome for outcome, _ in results] == [Outcome.updated, Outcome.created]
    with unit_of_work(tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 2
        assert session.scalar(select(func.count()).select_from(OrderLine)) == 2
        topics = list(session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))
        assert topics == ["order.created", "order.updated", "order.created"]


def test_ingest_without_a_tenant_is_refused(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    with pytest.raises(TenantContextMissing), unit_of_work() as session:
        service.ingest(session, shop.id, "shopify", [factories.order()])


def test_an_order_is_created_once_and_redelivery_changes_nothing(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    first = factories.order()
    assert book.ingest(tenant.id, shop.id, first) == [Outcome.created]
    assert book.ingest(tenant.id, shop.id, factories.order()) == [Outcome.unchanged]
    stored = book.stored(tenant.id)
    assert stored.status == OrderStatus.paid
    assert stored.total_minor == 5998
    assert stored.item_count == 2
    assert [(line.sku, line.quantity, line.unit_price_minor) for line in stored.lines] == [
        ("TEA-001", 2, 2999)
    ]
    assert book.topics(tenant.id) == ["order.created"]


def test_an_older_update_never_overwrites_a_newer_one(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    newer = factories.order(updated=T0 + timedelta(hours=2), status=OrderStatus.shipped)
    older = factories.order(updated=T0 + timedelta(hours=1), status=OrderStatus.cancelled)
    assert book.ingest(tenant.id, shop.id, factories.order()) == [Outcome.created]
    assert book.ingest(tenant.id, shop.id, newer) == [Outcome.updated]
    assert book.ingest(tenant.id, shop.id, older) == [Outcome.stale]
    stored = book.stored(tenant.id)
    assert stored.status == OrderStatus.shipped
    assert stored.source_updated_at == T0 + timedelta(hours=2)
    assert book.topics(tenant.id) == ["order.created", "order.updated"]


def test_one_batch_holding_an_order_twice_keeps_its_newest_version(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    old = factories.order(updated=T0)
    new = factories.order(updated=T0 + timedelta(minutes=5), status=OrderStatus.fulfilled)
    assert book.ingest(tenant.id, shop.id, new, old) == [Outcome.created]
    assert book.stored(tenant.id).status == OrderStatus.fulfilled


def test_an_update_replaces_lines_and_a_refund_emits_order_refunded(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    book.ingest(tenant.id, shop.id, factories.order(quantity=2))
    refund = NormalizedRefund("r1", 2999, T0 + timedelta(hours=3), "broken tin")
    changed = factories.order(
        updated=T0 + timedelta(hours=3),
        status=OrderStatus.partially_refunded,
        quantity=1,
        total_minor=2999,
        refunds=[refund],
    )
    assert book.ingest(tenant.id, shop.id, changed) == [Outcome.updated]
    stored = book.stored(tenant.id)
    assert [line.quantity for line in stored.lines] == [1]
    assert stored.refunded_minor == 2999
    assert [(r.external_id, r.amount_minor, r.reason) for r in stored.refunds] == [
        ("r1", 2999, "broken tin")
    ]
    with unit_of_work(tenant.id) as session:
        assert session.scalar(select(OrderLine.id).where(OrderLine.quantity == 2)) is None
    assert book.topics(tenant.id) == ["order.created", "order.updated", "order.refunded"]


def test_the_channel_cancelling_a_held_order_ends_the_hold(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    book.ingest(tenant.id, shop.id, factories.order(phone="bad"))
    cancelled = factories.order(
        phone="bad", updated=T0 + timedelta(hours=1), status=OrderStatus.cancelled
    )
    book.ingest(tenant.id, shop.id, cancelled)
    stored = book.stored(tenant.id)
    assert stored.status == OrderStatus.cancelled
    assert stored.review_state == ReviewState.cancelled


def test_a_repeat_order_from_the_same_buyer_is_held_as_a_likely_duplicate(world: World) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    book.ingest(tenant.id, shop.id, factories.order("1001"))
    book.ingest(tenant.id, shop.id, factories.order("1002", placed=T0))
    second = book.stored(tenant.id, "1002")
    assert [r["code"] for r in second.hold_reasons] == ["duplicate_suspected"]


def test_a_sync_keeps_refunds_recorded_here_alone_and_counts_a_shared_key_once(
    world: World,
) -> None:
    """An after-sales refund with no marketplace request is in no marketplace document: a later
    sync of the order must not drop it from the refunded total; one the marketplace reports
    under the same key is counted once."""
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    book.ingest(tenant.id, shop.id, factories.order())
    order_id = book.stored(tenant.id).id
    with unit_of_work(tenant.id) as session:
        for key, amount in (("aftersales:here-only", 500), ("rf-shared", 700)):
            assert service.record_refund(
                session, order_id, key, amount, reason=None, lines=[], refunded_at=T0
            )
    reported = factories.order(
        updated=T0 + timedelta(hours=2),
        status=OrderStatus.partially_refunded,
        refunds=[
            NormalizedRefund("rf-shared", 700, T0),
            NormalizedRefund("rf-marketplace", 300, T0 + timedelta(hours=1)),
        ],
    )
    assert book.ingest(tenant.id, shop.id, reported) == [Outcome.updated]
    stored = book.stored(tenant.id)
    assert stored.refunded_minor == 500 + 700 + 300
    assert sorted(r.external_id for r in stored.refunds) == [
        "aftersales:here-only",
        "rf-marketplace",
        "rf-shared",
    ]
    # Only the marketplace's new refund is news: the book says it once more, for 300.
    with unit_of_work(tenant.id) as session:
        deltas = [
            p["refund_delta_minor"]
            for p in session.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.topic == "order.refunded")
            )
        ]
    assert sorted(deltas) == [300, 500, 700]
