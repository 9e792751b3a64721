"""The HTTP client every connector talks through: one per shop, polite to the marketplace.

Marketplaces throttle per shop, and a worker syncs one shop many times, so the rate-limit state
(a token bucket plus a "not before" deadline) lives in a process-wide registry keyed by the
shop, not in the client: the next sync run of the same shop picks up where the last one left off.

The client reads the throttle signals the marketplaces send (Shopify's call-limit header,
Amazon's rate header, ``429`` with ``Retry-After``), retries ``5xx`` answers and transport errors
with bounded exponential backoff, and hands every other answer back to the connector, which
knows what a ``401`` or a ``404`` means for its marketplace. Neither credentials nor bodies are
ever logged: only the method, the path, the status and the delays. Nor is any request sent to a
host the shop may not call (:mod:`daiyun.connectors.hosts`): the connector given the client
names the shop's hosts, and a client no connector has claimed reaches the allowlist alone.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal

import httpx
import structlog

from daiyun.connectors.errors import RetriesExhausted
from daiyun.connectors.hosts import HostPolicy, allowlist_only

log = structlog.get_logger("daiyun.connectors.http")

SHOPIFY_CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
AMAZON_RATE_HEADER = "x-amzn-RateLimit-Limit"
# The call-limit header tells how full Shopify's leaky bucket is, not how fast it leaks; standard
# plans leak 2 calls/s (Plus 20/s), so assume the slower one.
SHOPIFY_LEAK_PER_SECOND = 2.0
# Start pacing when the bucket is this full, leaving room for other apps of the same shop.
SHOPIFY_HEADROOM = 0.8

# Until a marketplace says otherwise, a shop gets this many requests per second, in bursts of
# up to DEFAULT_BURST.
DEFAULT_RATE = 10.0
DEFAULT_BURST = 10.0
# First backoff step of the exponential backoff (doubled per attempt, capped by max_backoff).
BACKOFF_BASE = 0.5
# Added to every Retry-After wait: clocks and timers on both sides are not exact, and shops
# released at the same instant should not all come back at once.
RETRY_AFTER_JITTER = (0.05, 0.25)

# Jitter exists to spread retries apart: a generator seeded by the OS, unlike one copied into
# forked workers, keeps them apart across processes too.
_random = random.SystemRandom()


@dataclass
class RateBucket:
    """Rate-limit state of one shop, shared by every client of that shop in this process."""

    rate: float = DEFAULT_RATE
    burst: float = DEFAULT_BURST
    tokens: float = DEFAULT_BURST
    stamp: float | None = None
    # No request to the shop before this clock reading (a 429's Retry-After, a nearly full bucket).
    not_before: float = -math.inf
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _refill(self, now: float) -> None:
        if self.stamp is not None and now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        if self.stamp is None or now > self.stamp:
            self.stamp = now

    def take(self, now: float) -> tuple[float, Literal["deferred", "paced", "go"]]:
        """Take a token now (``(0, "go")``), or say how long to wait and why."""
        with self.lock:
            if now < self.not_before:
                return self.not_before - now, "deferred"
            self._refill(now)
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0, "go"
            return (1.0 - self.tokens) / self.rate, "paced"

    def defer(self, until: float) -> None:
        with self.lock:
            self.not_before = max(self.not_before, until)

    def set_rate(self, rate: float, now: float) -> None:
        with self.lock:
            # Tokens earned so far were earned at the old rate.
            self._refill(now)
            self.rate = rate


_BUCKETS: dict[str, RateBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def rate_bucket(key: str) -> RateBucket:
    """The shared bucket of a shop key, created on first use."""
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = RateBucket()
        return bucket


def forget_rate_limits(key: str | None = None) -> None:
    """Drop one shop's rate-limit state (or all of it): after a credential change, in tests."""
    with _BUCKETS_LOCK:
        if key is None:
            _BUCKETS.clear()
        else:
            _BUCKETS.pop(key, None)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _retryable(status: int) -> bool:
    return status == 429 or 500 <= status < 600


def parse_call_limit(value: str | None) -> tuple[int, int] | None:
    """``"32/40"`` as ``(32, 40)``; anything else as None."""
    if not value or "/" not in value:
        return None
    used, _, cap = value.partition("/")
    try:
        pair = int(used.strip()), int(cap.strip())
    except ValueError:
        return None
    return pair if pair[1] > 0 else None


class ShopHttp:
    """An ``httpx.Client`` for one shop that paces, backs off and retries within bounds.

    ``key`` names the shop (for instance ``"shopify:acme.myshopify.com"``); every client with the
    same key in this process shares one rate bucket. ``sleep`` and ``clock`` are injectable so a
    test can run the pacing without waiting; clients sharing a key must share a clock.
    """

    def __init__(
        self,
        key: str,
        *,
        timeout: float = 10.0,
        max_attempts: int = 6,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.key = key
        self.hosts = allowlist_only()
        self.max_attempts = max_attempts
        self.max_backoff = max_backoff
        self.clock = clock
        self._sleep = sleep
        self._bucket = rate_bucket(key)
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": "daiyun-connector/1", "Accept": "application/json"},
        )
        # For the sync-run record: requests sent and seconds spent waiting.
        self.calls = 0
        self.waited = 0.0

    @property
    def rate(self) -> float:
        """The shop's current request rate per second (adopted from the marketplace if it says)."""
        return self._bucket.rate

    def restrict(self, hosts: HostPolicy) -> None:
        """Let this client call only the hosts of ``hosts`` (a connector names its shop's)."""
        self.hosts = hosts

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request, waiting for the shop's turn and retrying what is worth retrying.

        Returns every answer that is not retryable (2xx, 3xx, 4xx other than 429); raises
        :class:`RetriesExhausted` once ``max_attempts`` requests were throttled or failed, and
        :class:`HostNotAllowed` (sending nothing) for a host the shop may not call.
        """
        # Checked before every request, never once per shop: the URL is built from stored data.
        self.hosts.check(url)
        path = httpx.URL(url).path
        last = "no answer"
        for attempt in range(1, self.max_attempts + 1):
            self._await_turn(last)
            self.calls += 1
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                last = type(exc).__name__
                log.warning(
                    "marketplace_transport_error",
                    shop=self.key,
                    method=method,
                    path=path,
                    error=last,
                    attempt=attempt,
                )
                if attempt < self.max_attempts:
                    self._pause(self._full_jitter(attempt))
                continue
            self._observe(response)
            if not _retryable(response.status_code):
                return response
            last = f"HTTP {response.status_code}"
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            log.warning(
                "marketplace_retryable_answer",
                shop=self.key,
                method=method,
                path=path,
                status=response.status_code,
                retry_after=retry_after,
                attempt=attempt,
            )
            if retry_after is not None:
                # Recorded on the shared bucket: it binds whoever talks to this shop next.
                self._bucket.defer(self.clock() + retry_after + self._jitter())
            if attempt == self.max_attempts:
                break
            if retry_after is None and response.status_code == 429:
                delay = min(self.max_backoff, BACKOFF_BASE * 2 ** (attempt - 1))
                self._bucket.defer(self.clock() + delay + self._jitter())
            elif retry_after is None:
                self._pause(self._full_jitter(attempt))
        raise RetriesExhausted(
            f"{self.key}: gave up after {self.max_attempts} attempts, last answer: {last}"
        )

    def _await_turn(self, last: str) -> None:
        limit = self.max_backoff + RETRY_AFTER_JITTER[1]
        while True:
            wait, why = self._bucket.take(self.clock())
            if why == "go":
                return
            if why == "deferred" and wait > limit:
                # Waiting this long would hold a worker hostage; sending earlier would break the
                # marketplace's rule. Give the run back to the scheduler instead.
                raise RetriesExhausted(
                    f"{self.key}: the marketplace asks to wait {wait:.1f} s, more than "
                    f"{self.max_backoff:.1f} s; last answer: {last}"
                )
            self._pause(wait)

    def _observe(self, response: httpx.Response) -> None:
        call_limit = parse_call_limit(response.headers.get(SHOPIFY_CALL_LIMIT_HEADER))
        if call_limit is not None:
            used, cap = call_limit
            threshold = math.floor(cap * SHOPIFY_HEADROOM)
            if used >= threshold:
                # Let the bucket leak back under the threshold before the next call.
                delay = (used - threshold + 1) / SHOPIFY_LEAK_PER_SECOND
                self._bucket.defer(self.clock() + delay)
        rate_header = response.headers.get(AMAZON_RATE_HEADER)
        if rate_header is not None:
            try:
                rate = float(rate_header)
            except ValueError:
                rate = 0.0
            if math.isfinite(rate) and rate > 0 and rate != self._bucket.rate:
                self._bucket.set_rate(rate, self.clock())

    def _full_jitter(self, attempt: int) -> float:
        return _random.uniform(0.0, min(self.max_backoff, BACKOFF_BASE * 2 ** (attempt - 1)))

    @staticmethod
    def _jitter() -> float:
        return _random.uniform(*RETRY_AFTER_JITTER)

    def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.waited += seconds
        self._sleep(seconds)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ShopHttp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
