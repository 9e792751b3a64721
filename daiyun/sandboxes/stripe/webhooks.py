"""Signed event delivery from the Stripe sandbox to registered webhook endpoints.

Each event's body is rendered once, when the event happens, and every delivery of it (a
duplicate, a resend) carries the same bytes; the ``Stripe-Signature`` header is computed at the
moment of sending, as Stripe does: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.

One daemon thread delivers the queue in order, so the order a test arranges is the order the
receiver sees. Faults shape what is queued: every event sent ``duplicate`` times with the same
event id, events held back until a flush (``hold``), a released batch delivered newest first
(``reverse``), a pause before each delivery (``delay_ms``). A delivery that fails is recorded and
not retried on its own; ``resend`` is the retry, as the Dashboard's "Resend" is.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

# Stripe waits a few seconds for an answer before counting the delivery as failed.
_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where events go: a URL, its signing secret and the event types it wants (``*``: all)."""

    id: str
    url: str
    secret: str
    enabled_events: tuple[str, ...] = ("*",)

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "webhook_endpoint",
            "url": self.url,
            "secret": self.secret,
            "enabled_events": list(self.enabled_events),
        }


@dataclass(frozen=True)
class Faults:
    """How deliveries misbehave; the defaults deliver each event once, in order, at once."""

    duplicate: int = 1
    reverse: bool = False
    hold: bool = False
    delay_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Event:
    """An event as sent: its id and type, and the exact bytes of its JSON body."""

    id: str
    type: str
    created: int
    body: bytes


@dataclass(frozen=True)
class Delivery:
    event: Event
    endpoint: WebhookEndpoint


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt: which event went where, when, and what the receiver answered."""

    event_id: str
    type: str
    endpoint: str
    url: str
    attempted_at: int
    status: int | None
    delivered: bool
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """``Stripe-Signature`` for ``body`` sent at ``timestamp`` (seconds since the epoch)."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class _Queue:
    pending: deque[Delivery] = field(default_factory=deque)
    held: list[Delivery] = field(default_factory=list)
    records: list[DeliveryRecord] = field(default_factory=list)
    busy: int = 0


class WebhookDispatcher:
    """The outgoing queue, the held-back buffer, the delivery log and the delivering thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue = _Queue()
        self._faults = Faults()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        with self._cond:
            return self._faults

    def set_faults(self, faults: Faults) -> Faults:
        with self._cond:
            self._faults = faults
            return faults

    def publish(self, events: list[Event], endpoints: list[WebhookEndpoint]) -> None:
        """Queue the events one API call raised, shaped by the faults in force."""
        with self._cond:
            faults = self._faults
            batch = [
                Delivery(event, endpoint)
                for event in events
                for endpoint in endpoints
                if endpoint.wants(event.type)
                for _ in range(max(1, faults.duplicate))
            ]
            if faults.hold:
                self._queue.held.extend(batch)
                return
            if faults.reverse:
                batch.reverse()
            self._enqueue(batch)

    def resend(self, event: Event, endpoints: list[WebhookEndpoint]) -> int:
        """Deliver an event again, once per endpoint, whatever the faults say."""
        with self._cond:
            batch = [Delivery(event, endpoint) for endpoint in endpoints]
            self._enqueue(batch)
            return len(batch)

    def flush(self, *, reverse: bool | None = None) -> int:
        """Release the held deliveries (newest first when ``reverse``, by default the fault's)."""
        with self._cond:
            batch, self._queue.held = self._queue.held, []
            if self._faults.reverse if reverse is None else reverse:
                batch.reverse()
            self._enqueue(batch)
            return len(batch)

    def held_count(self) -> int:
        with self._cond:
            return len(self._queue.held)

    def records(self) -> list[DeliveryRecord]:
        with self._cond:
            return list(self._queue.records)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Whether everything queued was attempted within ``timeout`` seconds (held excluded)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue.pending or self._queue.busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._queue.pending.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._cond:
            self._thread = None
            self._stopping = False
            self._cond.notify_all()

    def _enqueue(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        self._queue.pending.extend(batch)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="stripe-sandbox-webhooks", daemon=True
            )
            self._thread.start()
        self._cond.notify_all()

    def _run(self) -> None:
        with httpx.Client(timeout=_TIMEOUT, trust_env=False) as client:
            while True:
                with self._cond:
                    while not self._queue.pending and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        return
                    delivery = self._queue.pending.popleft()
                    self._queue.busy += 1
                    delay = self._faults.delay_ms
                record: DeliveryRecord | None = None
                try:
                    if delay > 0:
                        time.sleep(delay / 1000)
                    record = self._deliver(client, delivery)
                finally:
                    with self._cond:
                        self._queue.busy -= 1
                        if record is not None:
                            self._queue.records.append(record)
                        self._cond.notify_all()

    @staticmethod
    def _deliver(client: httpx.Client, delivery: Delivery) -> DeliveryRecord:
        sent_at = int(time.time())
        endpoint, event = delivery.endpoint, delivery.event
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": _USER_AGENT,
            "Stripe-Signature": signature_header(endpoint.secret, event.body, sent_at),
        }
        status: int | None = None
        error: str | None = None
        try:
            response = client.post(endpoint.url, content=event.body, headers=headers)
            status = response.status_code
        except Exception as exc:
            # Whatever the receiver does (refuses, hangs, resets) the sandbox carries on.
            error = f"{type(exc).__name__}: {exc}"
        return DeliveryRecord(
            event_id=event.id,
            type=event.type,
            endpoint=endpoint.id,
            url=endpoint.url,
            attempted_at=sent_at,
            status=status,
            delivered=status is not None and 200 <= status < 300,
            error=error,
        )
