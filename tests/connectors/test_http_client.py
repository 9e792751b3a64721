"""ShopHttp over real HTTP on loopback: pacing, Retry-After, backoff and the throttle headers.

A scripted FastAPI app served by uvicorn in a thread plays the marketplace; the client's clock and
sleep are fakes where a test checks how long it waited, so no test depends on wall-clock speed.
The one test that really sleeps checks a lower bound (a Retry-After never cut short) on the
server's own arrival times.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from daiyun.connectors.errors import RetriesExhausted
from daiyun.connectors.http import (
    ShopHttp,
    forget_rate_limits,
    parse_call_limit,
    parse_retry_after,
)


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


Answer = tuple[int, dict[str, str], Any]
Script = Answer | Callable[[Seen], Answer]


@dataclass
class Scripted:
    """A marketplace stand-in: each path answers from a queue, then with its default."""

    answers: dict[str, deque[Script]] = field(default_factory=lambda: defaultdict(deque))
    defaults: dict[str, Script] = field(default_factory=dict)
    seen: dict[str, list[Seen]] = field(default_factory=lambda: defaultdict(list))

    def script(self, path: str, *answers: Script, default: Script | None = None) -> None:
        self.answers[path].extend(answers)
        if default is not None:
            self.defaults[path] = default

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def answer(path: str, request: Request) -> Response:
            seen = Seen(
                method=request.method,
                path="/" + path,
                params={k: request.query_params.getlist(k) for k in request.query_params},
                headers={k.lower(): v for k, v in request.headers.items()},
                body=await request.body(),
                at=time.monotonic(),
            )
            self.seen[seen.path].append(seen)
            queue = self.answers.get(seen.path)
            script = queue.popleft() if queue else self.defaults.get(seen.path)
            if script is None:
                return Response(status_code=404, content=b'{"errors":"not scripted"}')
            status, headers, body = script(seen) if callable(script) else script
            content = body if isinstance(body, bytes) else httpx.Response(200, json=body).content
            return Response(
                status_code=status,
                content=content,
                headers=headers,
                media_type="application/json",
            )

        return app


class LoopbackServer:
    """uvicorn serving an app on an ephemeral loopback port, in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("loopback server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def marketplace() -> Iterator[tuple[Scripted, str]]:
    scripted = Scripted()
    with LoopbackServer(scripted.app()) as server:
        yield scripted, server.base_url


@pytest.fixture
def key() -> Iterator[str]:
    name = f"test:{uuid.uuid4()}"
    yield name
    forget_rate_limits(name)


def _path() -> str:
    return f"/p/{uuid.uuid4().hex}"


OK: Answer = (200, {}, {"ok": True})


def test_retry_after_is_waited_out_on_the_servers_clock(
    marketplace: tuple[Scripted, str], key: str
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, (429, {"Retry-After": "0.3"}, {"errors": "Exceeded"}), OK)
    with ShopHttp(key) as http:
        response = http.request("GET", base + path)
    assert response.status_code == 200
    first, second = scripted.seen[path]
    assert second.at - first.at >= 0.3
    assert http.calls == 2
    assert http.waited >= 0.3


def test_retry_after_holds_every_client_of_the_same_shop(
    marketplace: tuple[Scripted, str], key: str
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, (429, {"Retry-After": "5"}, {"errors": "Exceeded"}), default=OK)
    fake = FakeTime()
    with (
        ShopHttp(key, max_attempts=1, sleep=fake.sleep, clock=fake.clock) as first,
        pytest.raises(RetriesExhausted, match="HTTP 429"),
    ):
        first.request("GET", base + path)
    throttled_at = fake.now
    # A later sync run of the same shop in the same worker.
    with ShopHttp(key, sleep=fake.sleep, clock=fake.clock) as second:
        assert second.request("GET", base + path).status_code == 200
    assert fake.now - throttled_at >= 5.0
    assert 5.0 <= second.waited <= 5.0 + 0.25
    assert len(scripted.seen[path]) == 2


def test_other_shops_are_not_held_by_a_throttled_shop(
    marketplace: tuple[Scripted, str], key: str
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, (429, {"Retry-After": "5"}, {}), default=OK)
    fake = FakeTime()
    with (
        ShopHttp(key, max_attempts=1, sleep=fake.sleep, clock=fake.clock) as throttled,
        pytest.raises(RetriesExhausted),
    ):
        throttled.request("GET", base + path)
    other = f"{key}:other"
    try:
        with ShopHttp(other, sleep=fake.sleep, clock=fake.clock) as http:
            assert http.request("GET", base + path).status_code == 200
        assert fake.sleeps == []
    finally:
        forget_rate_limits(other)


def test_a_retry_after_longer_than_max_backoff_gives_up_without_sending_early(
    marketplace: tuple[Scripted, str], key: str
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, (429, {"Retry-After": "120"}, {}), default=OK)
    fake = FakeTime()
    with (
        ShopHttp(key, max_backoff=30, sleep=fake.sleep, clock=fake.clock) as http,
        pytest.raises(RetriesExhausted, match="HTTP 429"),
    ):
        http.request("GET", base + path)
    assert len(scripted.seen[path]) == 1
    assert fake.sleeps == []


def test_server_errors_back_off_then_give_up_naming_the_status(
    marketplace: tuple[Scripted, str], key: str
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, default=(503, {}, {"errors": "unavailable"}))
    fake = FakeTime()
    with (
        ShopHttp(key, max_attempts=4, sleep=fake.sleep, clock=fake.clock) as http,
        pytest.raises(RetriesExhausted, match="HTTP 503") as info,
    ):
        http.request("GET", base + path)
    assert "4 attempts" in str(info.value)
    assert len(scripted.seen[path]) == 4
    assert http.calls == 4
    # Full jitter: each pause within its exponential bound (0.5, 1, 2), none after the last try.
    assert len(fake.sleeps) == 3
    for attempt, pause in enumerate(fake.sleeps, start=1):
        assert 0.0 <= pause <= 0.5 * 2 ** (attempt - 1)
    assert http.waited == pytest.approx(sum(fake.sleeps))


def test_backoff_is_capped_by_max_backoff(marketplace: tuple[Scripted, str], key: str) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, default=(500, {}, {}))
    fake = FakeTime()
    with (
        ShopHttp(key, max_attempts=8, max_backoff=1.5, sleep=fake.sleep, clock=fake.clock) as h,
        pytest.raises(RetriesExhausted, match="HTTP 500"),
    ):
        h.request("GET", base + path)
    assert max(fake.sleeps) <= 1.5


def test_a_server_error_then_success_returns_the_answer(
    marketplace: tuple[Scripted, str], key: str
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, (502, {}, {}), (200, {}, {"orders": []}))
    fake = FakeTime()
    with ShopHttp(key, sleep=fake.sleep, clock=fake.clock) as http:
        response = http.request("GET", base + path)
    assert response.json() == {"orders": []}
    assert http.calls == 2


@pytest.mark.parametrize("status", [201, 302, 400, 401, 403, 404])
def test_answers_that_are_not_retryable_are_returned_at_once(
    marketplace: tuple[Scripted, str], key: str, status: int
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, (status, {"Location": "/elsewhere"}, {"errors": "no"}), default=OK)
    fake = FakeTime()
    with ShopHttp(key, sleep=fake.sleep, clock=fake.clock) as http:
        response = http.request("GET", base + path)
    assert response.status_code == status
    assert len(scripted.seen[path]) == 1
    assert fake.sleeps == []


def test_transport_errors_are_retried_then_reported(key: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    fake = FakeTime()
    with (
        ShopHttp(key, max_attempts=3, timeout=2.0, sleep=fake.sleep, clock=fake.clock) as http,
        pytest.raises(RetriesExhausted, match="ConnectError"),
    ):
        http.request("GET", f"http://127.0.0.1:{closed_port}/orders")
    assert http.calls == 3
    assert len(fake.sleeps) == 2


def test_shopify_call_limit_near_full_slows_the_next_call(
    marketplace: tuple[Scripted, str], key: str
) -> None:
    scripted, base = marketplace
    path = _path()
    header = "X-Shopify-Shop-Api-Call-Limit"
    scripted.script(
        path,
        (200, {header: "39/40"}, {"orders": []}),
        (200, {header: "31/40"}, {"orders": []}),
        (200, {header: "12/40"}, {"orders": []}),
    )
    fake = FakeTime()
    with ShopHttp(key, sleep=fake.sleep, clock=fake.clock) as http:
        http.request("GET", base + path)
        assert fake.sleeps == []
        http.request("GET", base + path)
        # 39 used, pacing from 32: leak 8 calls at 2/s before the next one.
        assert fake.sleeps == [pytest.approx(4.0)]
        http.request("GET", base + path)
        http.request("GET", base + path + "-unscripted")
    # Under the threshold, no further pause.
    assert fake.sleeps == [pytest.approx(4.0)]
    assert http.waited == pytest.approx(4.0)


def test_amazon_rate_header_sets_the_shops_rate(
    marketplace: tuple[Scripted, str], key: str
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, default=(200, {"x-amzn-RateLimit-Limit": "0.5"}, {"payload": {}}))
    fake = FakeTime()
    with ShopHttp(key, sleep=fake.sleep, clock=fake.clock) as http:
        assert http.rate == 10.0
        http.request("GET", base + path)
        assert http.rate == 0.5
        # The burst left from the default bucket goes first, then one call per 2 s.
        for _ in range(9):
            http.request("GET", base + path)
        assert fake.sleeps == []
        http.request("GET", base + path)
        http.request("GET", base + path)
    assert fake.sleeps == [pytest.approx(2.0), pytest.approx(2.0)]
    with ShopHttp(key, sleep=fake.sleep, clock=fake.clock) as again:
        assert again.rate == 0.5


def test_credentials_and_bodies_are_sent_but_not_logged(
    marketplace: tuple[Scripted, str], key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted, base = marketplace
    path = _path()
    scripted.script(path, (500, {}, {"secret": "body-secret"}), OK)
    fake = FakeTime()
    with ShopHttp(key, sleep=fake.sleep, clock=fake.clock) as http:
        http.request(
            "POST", base + path, headers={"X-Shopify-Access-Token": "shpat_hidden"}, data={"a": 1}
        )
    assert scripted.seen[path][0].headers["x-shopify-access-token"] == "shpat_hidden"
    output = capsys.readouterr()
    assert "shpat_hidden" not in output.out + output.err
    assert "body-secret" not in output.out + output.err


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert parse_retry_after("2.0") == 2.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_parse_call_limit() -> None:
    assert parse_call_limit("32/40") == (32, 40)
    assert parse_call_limit("nonsense") is None
    assert parse_call_limit("3/0") is None
