"""Pull sync against the sandbox marketplaces over real HTTP on loopback.

Every order is imported once whatever the windows, pages, throttling or failures; a run killed
mid-way and picked up again ends with the same orders as an uninterrupted one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from daiyun.connectors import repository, sync
from daiyun.connectors import service as shop_service
from daiyun.connectors.http import forget_rate_limits
from daiyun.connectors.models import ShopStatus, SyncRun
from daiyun.connectors.tasks import run_sync
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.core.ids import utcnow
from daiyun.platform.orders.models import Order
from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import Faults, SandboxState
from tests import factories
from tests.conftest import TestDatabase, World
from tests.core.tasks_fixtures import new_tenant_id, running_worker, wait_for

# Sandbox limits high enough that the tests measure correctness, not the marketplaces' pace.
FAST: dict[str, dict[str, float] | None] = {
    "shopify": {"leak_per_second": 500.0},
    "woocommerce": None,
    "amazon": {"rate": 500.0, "burst": 500.0},
}
SHOP_NAMES = {
    "shopify": "lotus.myshopify.com",
    "woocommerce": "lotus-store",
    "amazon": "A1SELLER",
}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=7)) as served:
        yield served
    forget_rate_limits()


def _connect(sandbox: Sandbox, tenant_id: uuid.UUID, channel: str) -> uuid.UUID:
    """The same shop on the sandbox and in Daiyun; returns the Daiyun shop id."""
    credentials = factories.CREDENTIALS[channel]
    name = SHOP_NAMES[channel]
    sandbox.state.register_shop(
        channel, name, dict(credentials), currency="USD", rate=FAST[channel]
    )
    shop = factories.shop(
        tenant_id, channel, name, api_base_url=sandbox.api_base_url(channel, name)
    )
    return shop.id


def _orders(sandbox: Sandbox, channel: str, count: int, start: datetime, end: datetime) -> None:
    sandbox.state.create_orders(channel, SHOP_NAMES[channel], count, start=start, end=end)


def _sync(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None = None,
) -> SyncRun:
    with unit_of_work(tenant_id) as session:
        shop = shop_service.get(session, shop_id, lock=True)
        run_id = sync.plan(session, shop, "backfill" if since else "manual", since, until).id
    sync.execute(tenant_id, run_id)
    with unit_of_work(tenant_id) as session:
        run = repository.run(session, run_id)
        assert run is not None
        return run


def _book(tenant_id: uuid.UUID) -> dict[str, tuple[int, str, datetime]]:
    """external id -> (total, currency, source update time) of every order in Daiyun."""
    with unit_of_work(tenant_id) as session:
        return {
            o.external_id: (o.total_minor, o.currency, o.source_updated_at)
            for o in session.scalars(select(Order))
        }


def _truth(sandbox: Sandbox, channel: str) -> dict[str, tuple[int, str, datetime]]:
    shop = sandbox.state.require_shop(channel, SHOP_NAMES[channel])
    with sandbox.state.lock:
        return {
            o.external_id: (o.total, o.currency, o.updated_at.replace(microsecond=0))
            for o in shop.orders.values()
        }


def _normal(book: dict[str, tuple[int, str, datetime]]) -> dict[str, tuple[int, str, datetime]]:
    return {k: (t, c, u.replace(microsecond=0)) for k, (t, c, u) in book.items()}


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "amazon"])
def test_a_pull_imports_every_order_exactly_once(
    world: World, sandbox: Sandbox, channel: str
) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, channel)
    now = utcnow()
    # Three days in one-day windows, with orders at the window edges too.
    since = now - timedelta(days=3)
    _orders(sandbox, channel, 260, since, now - timedelta(minutes=10))
    for day in (1, 2):
        edge = since + timedelta(days=day)
        _orders(sandbox, channel, 1, edge, edge)
    run = _sync(tenant.id, shop_id, since)
    assert run.status == "succeeded", run.error
    assert run.pages >= 3
    assert run.orders_created == 262
    assert _normal(_book(tenant.id)) == _truth(sandbox, channel)

    again = _sync(tenant.id, shop_id, None)  # the scheduled pull: from the cursor, overlapping
    assert (again.status, again.orders_created, again.orders_updated) == ("succeeded", 0, 0)
    with unit_of_work(tenant.id) as session:
        shop = shop_service.get(session, shop_id)
        assert shop.sync_cursor is not None and shop.sync_cursor > now - timedelta(minutes=10)
        assert shop.last_success_at is not None and shop.consecutive_failures == 0


def test_changes_made_on_the_marketplace_arrive_with_the_next_pull(
    world: World, sandbox: Sandbox
) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, "shopify")
    now = utcnow()
    _orders(sandbox, "shopify", 30, now - timedelta(hours=5), now - timedelta(hours=4))
    first = _sync(tenant.id, shop_id, now - timedelta(hours=6), now - timedelta(hours=3))
    assert first.orders_created == 30
    target = next(iter(_truth(sandbox, "shopify")))
    sandbox.state.apply_event(
        "shopify", SHOP_NAMES["shopify"], target, "cancel", at=now - timedelta(hours=2)
    )
    run = _sync(tenant.id, shop_id, None)
    assert (run.orders_created, run.orders_updated) == (0, 1)
    with unit_of_work(tenant.id) as session:
        order = session.scalar(select(Order).where(Order.external_id == target))
        assert order is not None and order.status.value == "cancelled"


def test_a_429_storm_is_survived_without_exceeding_the_advertised_rate(
    world: World, sandbox: Sandbox
) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, "shopify")
    now = utcnow()
    _orders(sandbox, "shopify", 600, now - timedelta(hours=10), now - timedelta(hours=1))
    sandbox.state.set_faults(Faults(throttle_next=4, retry_after=0.4))
    run = _sync(tenant.id, shop_id, now - timedelta(hours=11))
    assert run.status == "succeeded", run.error
    assert len(_book(tenant.id)) == 600
    stats = sandbox.state.stats()
    assert stats["throttled"] == 4
    assert stats["violations"] == 0


def test_server_errors_are_retried_and_then_recorded(world: World, sandbox: Sandbox) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, "woocommerce")
    now = utcnow()
    _orders(sandbox, "woocommerce", 20, now - timedelta(hours=2), now - timedelta(hours=1))
    sandbox.state.set_faults(Faults(fail_next=2))
    run = _sync(tenant.id, shop_id, now - timedelta(hours=3))
    assert run.status == "succeeded", run.error
    assert len(_book(tenant.id)) == 20


def test_refused_credentials_mark_the_shop_for_reauthorisation(
    world: World, sandbox: Sandbox
) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, "shopify")
    sandbox.state.register_shop(
        "shopify",
        SHOP_NAMES["shopify"],
        {**factories.CREDENTIALS["shopify"], "access_token": "rotated-by-merchant"},
        rate={"leak_per_second": 500.0},
    )
    run = _sync(tenant.id, shop_id, utcnow() - timedelta(hours=3))
    assert run.status == "failed"
    assert run.error
    with unit_of_work(tenant.id) as session:
        shop = shop_service.get(session, shop_id)
        assert shop.status == ShopStatus.reauthorization_needed
        assert shop.consecutive_failures == 1
        assert shop.sync_cursor is None  # nothing was committed as pulled
        assert "rotated-by-merchant" not in (shop.last_error or "")


def test_an_amazon_token_dying_mid_sync_is_refreshed(world: World, sandbox: Sandbox) -> None:
    tenant = world.tenant()
    shop_id = _connect(sandbox, tenant.id, "amazon")
    now = utcnow()
    _orders(sandbox, "amazon", 150, now - timedelta(hours=5), now - timedelta(hours=1))
    sandbox.state.set_faults(Faults(slow_ms=5))
    label = sandbox.state.require_shop("amazon", SHOP_NAMES["amazon"]).label

    def expire_after_some_calls() -> None:
        wait_for(lambda: sandbox.state.stats()["requests"].get(label, 0) > 40, "calls")
        sandbox.state.set_faults(Faults(slow_ms=5, expire_tokens=True))

    killer = threading.Thread(target=expire_after_some_calls)
    killer.start()
    run = _sync(tenant.id, shop_id, now - timedelta(hours=6))
    killer.join()
    assert run.status == "succeeded", run.error
    assert _normal(_book(tenant.id)) == _truth(sandbox, "amazon")


# --- a worker killed mid-sync ----------------------------------------------------------------


def _start_sync_process(database: TestDatabase, tenant_id: uuid.UUID, run_id: uuid.UUID) -> Any:
    code = (
        "import sys, uuid\n"
        "from daiyun import departments\n"
        "departments.load_models()\n"
        "from daiyun.connectors import sync\n"
        "sync.execute(uuid.UUID(sys.argv[1]), uuid.UUID(sys.argv[2]))\n"
    )
    env = {
        **os.environ,
        "DAIYUN_DATABASE_URL": database.app_url,
        "DAIYUN_SECRET_KEY": get_settings().secret_key,
        "DAIYUN_ENCRYPTION_KEYS": get_settings().encryption_keys,
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", code, str(tenant_id), str(run_id)], env=env
    )


def test_a_sync_killed_mid_way_and_picked_up_again_loses_and_doubles_nothing(
    engine: Engine,
    test_database: TestDatabase,
    tmp_path: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_worker(engine, tmp_path):
        killed, whole = new_tenant_id(), new_tenant_id()
        now = utcnow()
        since = now - timedelta(days=3)
        killed_shop = _connect(sandbox, killed, "shopify")
        _orders(sandbox, "shopify", 900, since, now - timedelta(minutes=5))
        whole_shop = factories.shop(
            whole,
            "shopify",
            SHOP_NAMES["shopify"],
            api_base_url=sandbox.api_base_url("shopify", SHOP_NAMES["shopify"]),
        ).id
        sandbox.state.set_faults(Faults(slow_ms=150))
        with unit_of_work(killed) as session:
            shop = shop_service.get(session, killed_shop, lock=True)
            run_id = sync.plan(session, shop, "backfill", since).id
        process = _start_sync_process(test_database, killed, run_id)

        def pages_done() -> int:
            with unit_of_work(killed) as session:
                run = repository.run(session, run_id)
                return run.pages if run is not None else 0

        try:
            wait_for(lambda: pages_done() >= 2, "two committed pages", timeout=60)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        partial = len(_book(killed))
        assert 0 < partial < 900

        # Past the lease without a heartbeat, the beat counts the run as stalled and queues it
        # again (as a broker redelivers an unacknowledged task): the worker carries it on.
        sandbox.state.set_faults(Faults())
        monkeypatch.setattr(get_settings(), "sync_lease_seconds", 0.5)
        killed_at = utcnow()
        wait_for(lambda: utcnow() > killed_at + timedelta(seconds=1), "the lease to lapse")
        with unit_of_work(killed) as session:
            lapsed = utcnow() - timedelta(seconds=get_settings().sync_lease_seconds)
            assert [r.id for r in repository.stalled_runs(session, lapsed)] == [run_id]
        run_sync.delay(str(killed), str(run_id))

        def finished() -> str | None:
            with unit_of_work(killed) as session:
                run = repository.run(session, run_id)
                return run.status if run and run.status not in ("queued", "running") else None

        assert wait_for(finished, "the resumed run", timeout=120) == "succeeded"
        uninterrupted = _sync(whole, whole_shop, since)
        assert uninterrupted.status == "succeeded"
        assert _book(killed) == _book(whole)
        assert len(_book(killed)) == 900
        for tenant_id in (killed, whole):
            # Nothing subscribes to these orders' events here: spare the worker's final relay
            # (which publishes every pending event of the database) thousands of no-ops.
            with unit_of_work(tenant_id) as session:
                session.execute(update(OutboxEvent).values(delivered_at=utcnow()))
