"""What the tests of the four Chinese marketplaces' connectors share.

A clock that only moves when a client sleeps, Beijing wall-clock text, the signature recipes
written out independently of the code under test, the page walks the sync engine does, and the
scripted WebSocket server the push consumers talk to.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from websockets.sync.server import Server, ServerConnection, serve

from daiyun.connectors.channels import taobao_tmc
from daiyun.connectors.channels.base import Connector, ShopAccess
from daiyun.connectors.http import ShopHttp, forget_rate_limits, rate_bucket
from daiyun.platform.orders.normalized import NormalizedOrder
from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import SandboxState

BEIJING = timezone(timedelta(hours=8))
WIRE_TIME = "%Y-%m-%d %H:%M:%S"
# The window the newest-first pulls (TOP, Pinduoduo) read: half an hour on a fixed day, Beijing
# 10:00 to 10:30.
WINDOW_START = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(minutes=30)


def beijing(moment: datetime) -> str:
    """An aware time as the marketplaces write it: Beijing wall-clock ``yyyy-MM-dd HH:mm:ss``."""
    return moment.astimezone(BEIJING).strftime(WIRE_TIME)


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def md5_signature(params: dict[str, str], secret: str, *, skip_empty: bool = False) -> str:
    """The md5 recipe (TOP, JD, Pinduoduo) as a stand-in gateway checks requests with it."""
    text = "".join(
        k + v for k, v in sorted(params.items()) if k != "sign" and (v != "" or not skip_empty)
    )
    return md5_upper(secret + text + secret)


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        # At least a microsecond: a pacing wait can be smaller than the clock's float step.
        self.now += max(seconds, 1e-6)


@contextmanager
def fake_time_http(prefix: str) -> Iterator[tuple[ShopHttp, FakeTime]]:
    """A shop client of its own (a fresh rate bucket) on a clock that only moves when it sleeps."""
    fake = FakeTime()
    key = f"{prefix}:{uuid.uuid4()}"
    with ShopHttp(key, sleep=fake.sleep, clock=fake.clock) as http:
        yield http, fake
    forget_rate_limits(key)


@contextmanager
def sandbox_shop(
    channel: str, shop: str, credentials: dict[str, str], *, seed: int, rate: int | None = None
) -> Iterator[tuple[Sandbox, httpx.Client, ShopAccess]]:
    """A running sandbox with one shop registered through its control API (allowed ``rate``
    calls a second if given), a client of that API, and the shop's access for a connector."""
    with (
        running_sandbox(SandboxState(seed=seed)) as sandbox,
        httpx.Client(base_url=sandbox.url, trust_env=False, timeout=30) as control,
    ):
        body: dict[str, Any] = {"channel": channel, "shop": shop, "credentials": credentials}
        if rate is not None:
            body["rate"] = {"rate": rate, "burst": rate}
        control.post("/_sandbox/shops", json=body).raise_for_status()
        yield sandbox, control, ShopAccess(shop, credentials, sandbox.api_base_url(channel, shop))


@contextmanager
def shop_http_at_rate(prefix: str, rate: float) -> Iterator[ShopHttp]:
    """A shop client of its own allowed ``rate`` calls a second, as the sandbox shop is."""
    key = f"{prefix}:{uuid.uuid4()}"
    rate_bucket(key).set_rate(rate, time.monotonic())
    with ShopHttp(key) as http:
        yield http
    forget_rate_limits(key)


def pull(
    connector: Connector, start: datetime = WINDOW_START, end: datetime = WINDOW_END
) -> list[NormalizedOrder]:
    """Every page of one window, as the sync engine reads it."""
    orders: list[NormalizedOrder] = []
    token: str | None = None
    for _ in range(1000):
        page = connector.fetch_page(start, end, token)
        orders.extend(page.orders)
        token = page.next_token
        if token is None:
            return orders
    raise AssertionError("the walk never ended")


def walk(connector: Connector, start: datetime, end: datetime) -> list[NormalizedOrder]:
    """What the sync engine does with a run's range: adjacent windows, every page of each."""
    fetched: list[NormalizedOrder] = []
    while start < end:
        window_end = min(start + connector.max_window, end)
        token: str | None = None
        while True:
            page = connector.fetch_page(start, window_end, token)
            fetched.extend(page.orders)
            token = page.next_token
            if token is None:
                break
        start = window_end
    return fetched


def run_windows(connector: Connector, start: datetime, end: datetime) -> list[str]:
    return [order.external_id for order in walk(connector, start, end)]


# The push consumers, against a scripted WebSocket server.


@contextmanager
def ws_server(handler: Callable[[ServerConnection], None]) -> Iterator[str]:
    server: Server = serve(handler, "127.0.0.1", 0)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, name="ws-test", daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def fast_push(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(taobao_tmc, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(taobao_tmc, "BATCH_LINGER_SECONDS", 0.05)
    monkeypatch.setattr(taobao_tmc, "RECONNECT_FIRST", 0.05)


def run_consumer(
    consumer: Any, on_hints: Callable[[list[str]], None], until: threading.Event
) -> None:
    stop = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            consumer.run(on_hints, stop)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while thread.is_alive() and not until.is_set() and time.monotonic() < deadline:
        until.wait(0.02)
    stop.set()
    thread.join(10)
    assert not thread.is_alive(), "the consumer did not stop"
    if failure:
        raise failure[0]
