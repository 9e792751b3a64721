"""The rollups keep up with the order book while orders arrive: one delivery counts every order
event still waiting (a backfill costs one recompute per bucket, not one per event), a reader
counts what no worker has yet (the dashboard never trails the order list), and the figures say
when they were computed and what they still lack."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import daiyun.platform.reports.tasks  # noqa: F401  (subscribes the handlers)
from daiyun.core.db import unit_of_work
from daiyun.core.events import service as events
from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.platform.orders import service as order_service
from daiyun.platform.reports import service
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.platform.reports.test_reports import (
    D1,
    D3,
    deliver_all,
    ingest,
    local,
    make_order,
    new_tenant,
    rebuild,
    rollups,
)


def backfill(tenant: Tenant, pages: int = 3, per_page: int = 4) -> uuid.UUID:
    """What a first sync does: pages of orders over several days, each page its own
    transaction, and no worker delivering the events meanwhile."""
    shop = factories.shop(tenant.id, "shopify").id
    n = 0
    for _ in range(pages):
        batch = []
        for _ in range(per_page):
            placed = local(D1 + timedelta(days=n % 3), 9 + n % 12)
            batch.append(make_order(f"B-{n:03d}", placed))
            n += 1
        ingest(tenant.id, shop, "shopify", *batch)
    return shop


def paid_orders_listed(tenant: Tenant) -> int:
    with unit_of_work(tenant.id) as session:
        return order_service.count_orders(
            session, placed_from=local(D1, 0), placed_to=local(D3 + timedelta(days=1), 0)
        )


def rollup_handler_runs(tenant: Tenant) -> int:
    with unit_of_work(tenant.id) as session:
        stmt = select(func.count()).select_from(HandledEvent)
        return int(session.scalar(stmt.where(HandledEvent.handler == service.ROLLUP_HANDLER)) or 0)


def test_the_dashboard_counts_a_backfill_no_worker_has_delivered(world: World) -> None:
    tenant = new_tenant()
    backfill(tenant)
    assert paid_orders_listed(tenant) == 12
    with unit_of_work(tenant.id) as session:
        before = service.dashboard(session, tenant, D1, D3).totals.paid_orders
    assert before == 0  # the rollups alone trail the order book: nothing was delivered
    with unit_of_work(tenant.id) as session:
        freshness = service.catch_up(session)
        board = service.dashboard(session, tenant, D1, D3)
    assert board.totals.paid_orders == 12 == board.totals.orders
    assert freshness.waiting == 0 and freshness.as_of is not None
    # What the reader counted equals a rebuild from the orders, and stays counted.
    counted = rollups(tenant.id)
    rebuild(tenant)
    assert rollups(tenant.id) == counted


def test_one_delivery_counts_every_waiting_event_and_the_rest_skip(world: World) -> None:
    tenant = new_tenant()
    backfill(tenant)
    with unit_of_work(tenant.id) as session:
        waiting = [e.id for e in events.pending(session, 1000)]
    assert len(waiting) == 12
    with unit_of_work(tenant.id) as session:
        ran = events.handle(session, waiting[-1])
    assert service.ROLLUP_HANDLER in ran
    incremental = rollups(tenant.id)
    rebuild(tenant)
    assert rollups(tenant.id) == incremental  # the first delivery counted the whole backfill
    for event_id in waiting[:-1]:
        with unit_of_work(tenant.id) as session:
            assert service.ROLLUP_HANDLER not in events.handle(session, event_id)
    assert rollup_handler_runs(tenant) == 12  # each event marked once
    with unit_of_work(tenant.id) as session:
        assert events.pending(session, 1000) == []  # every event delivered all the same


def test_a_catch_up_is_bounded_and_says_what_is_still_waiting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_tenant()
    backfill(tenant, pages=1, per_page=5)
    monkeypatch.setattr(service, "CATCH_UP_BATCH", 2)
    seen = []
    for _ in range(3):
        with unit_of_work(tenant.id) as session:
            seen.append(service.catch_up(session).waiting)
    assert seen == [3, 1, 0]
    # The worker's deliveries find nothing left for the rollups, and deliver all the same.
    assert deliver_all(tenant.id) == 5
    assert rollup_handler_runs(tenant) == 5


def test_as_of_is_when_the_rollups_were_last_recomputed(world: World) -> None:
    tenant = new_tenant()
    with unit_of_work(tenant.id) as session:
        empty = service.catch_up(session)
    assert empty.as_of is None and empty.waiting == 0
    shop = backfill(tenant, pages=1, per_page=2)
    with unit_of_work(tenant.id) as session:
        first = service.catch_up(session).as_of
        computed = session.scalar(select(func.min(OutboxEvent.created_at)))
    assert first is not None and computed is not None and first >= computed
    ingest(tenant.id, shop, "shopify", make_order("LATER", local(D3, 20)))
    with unit_of_work(tenant.id) as session:
        later = service.catch_up(session).as_of
    assert later is not None and later >= first


def test_a_catch_up_counts_only_its_own_tenant(world: World) -> None:
    mine, theirs = new_tenant(), new_tenant()
    backfill(mine, pages=1)
    backfill(theirs, pages=2)
    with unit_of_work(mine.id) as session:
        assert service.catch_up(session).waiting == 0
    with unit_of_work(theirs.id) as session:
        assert service.dashboard(session, theirs, D1, D3).totals.orders == 0
        assert service.catch_up(session).waiting == 0
        assert service.dashboard(session, theirs, D1, D3).totals.orders == 8
    with unit_of_work(mine.id) as session:
        assert service.dashboard(session, mine, D1, D3).totals.orders == 4
