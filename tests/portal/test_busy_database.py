"""A busy database: writers on the embedded SQLite wait for the lock instead of failing, a portal
action that meets a transient database error runs once more, and a second failure is told in
words (with the menu kept) while nothing of the action is kept."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from daiyun.core import db
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.portal.console import orders as console_orders
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.portal.conftest import csrf_of, sign_in_portal
from tests.portal.test_console_pages import held_order, status_of
from tests.portal.test_role_navigation import menu

PORTAL = "/portal"


def test_sqlite_writers_wait_for_the_lock_instead_of_failing(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'busy.sqlite'}")
    with engine.begin() as setup:
        setup.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        assert setup.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert int(setup.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000
    holding = threading.Event()

    def hold_the_lock() -> None:
        with engine.begin() as writer:
            writer.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            time.sleep(0.7)  # a slow writer, as a release clicked during a load

    other = threading.Thread(target=hold_the_lock)
    other.start()
    assert holding.wait(5)
    started = time.monotonic()
    with engine.begin() as second:  # waits for the first, then writes: no "database is locked"
        second.execute(text("INSERT INTO t VALUES (2)"))
    waited = time.monotonic() - started
    other.join()
    with engine.connect() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 2
    assert waited > 0.3
    engine.dispose()


def _held_order(world: World, app: FastAPI) -> tuple[TestClient, Tenant, uuid.UUID]:
    """A customer-service agent signed in, and an order of theirs held by review."""
    tenant = world.tenant()
    shop = factories.shop(tenant.id, "shopify")
    order_id = held_order(tenant, shop.id, "H-1")
    browser = TestClient(app, raise_server_exceptions=False)
    sign_in_portal(browser, world.user(Role.cs_agent, tenant))
    return browser, tenant, order_id


def _release(browser: TestClient, tenant: Tenant, order_id: uuid.UUID) -> Any:
    token = csrf_of(browser.get(f"{PORTAL}/console/review").text)
    return browser.post(
        f"{PORTAL}/t/{tenant.slug}/orders/{order_id}/release",
        data={"csrf_token": token, "next": f"{PORTAL}/console/review"},
        follow_redirects=False,
    )


def _failing(times: int) -> Any:
    """``decide`` that does its work, then fails as a busy database would, ``times`` times."""
    real = console_orders.decide
    calls = {"n": 0}

    def decide(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        done = real(*args, **kwargs)
        if calls["n"] <= times:
            raise OperationalError("UPDATE orders", {}, Exception("database is locked"))
        return done

    return decide, calls


def test_a_transient_database_error_is_retried_once(
    world: World, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, tenant, order_id = _held_order(world, app)
    decide, calls = _failing(1)
    monkeypatch.setattr(console_orders, "decide", decide)
    answer = _release(browser, tenant, order_id)
    assert answer.status_code == 303, answer.text
    # The first attempt was rolled back whole: the second found the order still held.
    assert answer.headers["location"].endswith("notice=released")
    assert calls["n"] == 2
    assert status_of(tenant, order_id) == OrderStatus.paid


def test_a_second_failure_says_so_in_words_and_keeps_nothing(
    world: World, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, tenant, order_id = _held_order(world, app)
    decide, calls = _failing(2)
    monkeypatch.setattr(console_orders, "decide", decide)
    answer = _release(browser, tenant, order_id)
    assert answer.status_code == 503
    assert "<h1>The database is busy</h1>" in answer.text
    assert "Nothing was saved" in answer.text
    assert "service-unavailable" not in answer.text
    assert 'action="/portal/logout"' in answer.text and menu(answer.text)
    assert calls["n"] == 2
    assert status_of(tenant, order_id) == OrderStatus.on_hold
