"""The Stripe sandbox's account: API keys, objects, idempotency, the request log and events.

One re-entrant lock guards everything; an API request holds it from the idempotency look-up to
saving its answer, so two requests with the same key never both run (the second replays the
first). Operations validate their parameters before they change anything, so a refused request
leaves no trace but its entry in the request log.

Idempotency follows Stripe's documented rules: keys are scoped to the API key that sent them and
kept for 24 hours; the first answer to a ``POST`` (its status and body, an error or a 500 as
much as a success) is replayed for the same key, with ``Idempotent-Replayed: true``; the same
key on another endpoint or with other parameters is a 400 ``idempotency_error``; a request whose
parameters failed validation saves nothing, so the key may be used again.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from daiyun.sandboxes.stripe import operations
from daiyun.sandboxes.stripe.forms import ParamError, StripeError, decode_params
from daiyun.sandboxes.stripe.objects import (
    Customer,
    Invoice,
    InvoiceItem,
    new_id,
    render_invoice,
    unix_now,
)
from daiyun.sandboxes.stripe.webhooks import (
    Event,
    Faults,
    WebhookDispatcher,
    WebhookEndpoint,
)

# The API version the sandbox's account is pinned to: the one stripe-python 16 sends.
API_VERSION = "2026-10-28.endive"
IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_TTL = 24 * 3600
_INVOICE_EVENTS = (
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
)

Operation = Callable[["StripeSandboxState", dict[str, Any]], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Answer:
    """What the API answers: status, JSON body and the headers Stripe adds."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class _Saved:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]
    request_id: str
    saved_at: float


def mask_key(api_key: str) -> str:
    """``sk_test_****...1234``: enough to tell keys apart, never the key itself."""
    if len(api_key) <= 12:
        return "*" * len(api_key)
    return api_key[:8] + "*" * (len(api_key) - 12) + api_key[-4:]


class StripeSandboxState:
    """Everything one sandboxed Stripe account holds, in memory."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        default_currency: str = "usd",
        api_version: str = API_VERSION,
    ) -> None:
        self.lock = threading.RLock()
        self.api_key = api_key or new_id("sk_test_", 32)
        if not self.api_key.startswith("sk_test_"):
            raise ValueError("the sandbox is a test-mode account: its keys start with sk_test_")
        self.api_keys: set[str] = {self.api_key}
        self.default_currency = default_currency.lower()
        self.api_version = api_version
        self.customers: dict[str, Customer] = {}
        self.invoices: dict[str, Invoice] = {}
        self.invoice_items: dict[str, InvoiceItem] = {}
        self.events: dict[str, Event] = {}
        self.endpoints: dict[str, WebhookEndpoint] = {}
        self.request_log: list[dict[str, Any]] = []
        self.webhooks = WebhookDispatcher()
        self._saved: dict[tuple[str, str], _Saved] = {}
        self._current: tuple[str, str | None] | None = None
        self._outbox: list[Event] = []

    # -- keys --------------------------------------------------------------------------------

    def add_api_key(self) -> str:
        """Another secret key of the same account (each key has its own idempotency keys)."""
        key = new_id("sk_test_", 32)
        with self.lock:
            self.api_keys.add(key)
        return key

    def _authenticate(self, authorization: str | None) -> str:
        if not authorization or not authorization.strip():
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() == "basic":
            # Stripe's curl examples send the key as the Basic user name (``-u sk_test_...:``).
            try:
                key = base64.b64decode(key, validate=True).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if not key:
            raise StripeError(
                401,
                "Invalid Authorization header: use Bearer auth "
                "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if key not in self.api_keys:
            raise StripeError(401, f"Invalid API Key provided: {mask_key(key)}")
        return key

    # -- requests ----------------------------------------------------------------------------

    def execute(
        self,
        *,
        method: str,
        path: str,
        raw_params: str,
        authorization: str | None,
        idempotency_key: str | None,
        stripe_version: str | None,
        operation: Operation,
    ) -> Answer:
        """Authenticate, apply idempotency, run the operation, log it, and release its events."""
        request_id = new_id("req_", 14)
        headers = {"Request-Id": request_id, "Stripe-Version": stripe_version or self.api_version}
        if method != "POST":
            idempotency_key = None  # GET is idempotent by nature; Stripe ignores the header
        with self.lock:
            api_key: str | None = None
            params: dict[str, Any] = {}
            replayed = False
            try:
                api_key = self._authenticate(authorization)
                params = decode_params(raw_params)
                if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
                    raise ParamError(
                        f"Keys for idempotent requests can only be up to {IDEMPOTENCY_KEY_MAX} "
                        "characters long."
                    )
                saved = self._saved_answer(api_key, idempotency_key, method, path, params)
                if saved is not None:
                    status, body, replayed = saved.status, saved.body, True
                    headers["Idempotent-Replayed"] = "true"
                    headers["Original-Request"] = saved.request_id
                else:
                    status, body = self._run(
                        operation, params, request_id, idempotency_key, api_key, method, path
                    )
            except StripeError as exc:
                status, body = exc.status, exc.body()
            self.request_log.append(
                {
                    "id": request_id,
                    "method": method,
                    "path": path,
                    "idempotency_key": idempotency_key,
                    "api_key": mask_key(api_key) if api_key else None,
                    "params": params,
                    "status": status,
                    "replayed": replayed,
                    "stripe_version": stripe_version,
                    "created": unix_now(),
                }
            )
            self._release_events()
        return Answer(status, body, headers)

    def _saved_answer(
        self, api_key: str, key: str | None, method: str, path: str, params: dict[str, Any]
    ) -> _Saved | None:
        if key is None:
            return None
        saved = self._saved.get((api_key, key))
        if saved is None:
            return None
        if time.monotonic() - saved.saved_at > IDEMPOTENCY_TTL:
            del self._saved[(api_key, key)]
            return None
        if (saved.method, saved.path) != (method, path):
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{saved.method} {saved.path}' vs '{method} {path}'). Try "
                f"using a key other than '{key}' if you meant to execute a different request.",
                error_type="idempotency_error",
            )
        if saved.params != params:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                error_type="idempotency_error",
            )
        return saved

    def _run(
        self,
        operation: Operation,
        params: dict[str, Any],
        request_id: str,
        key: str | None,
        api_key: str,
        method: str,
        path: str,
    ) -> tuple[int, dict[str, Any]]:
        self._current = (request_id, key)
        save = True
        try:
            status, body = operation(self, params)
        except StripeError as exc:
            # Parameters that failed validation save nothing; a refusal past that point does.
            save = not isinstance(exc, ParamError)
            status, body = exc.status, exc.body()
            self._outbox.clear()
        except Exception:
            # A bug in the sandbox answers as Stripe's 500 does, and is replayed like one.
            status = 500
            body = StripeError(500, "An unknown error occurred", error_type="api_error").body()
            self._outbox.clear()
        finally:
            self._current = None
        if key is not None and save:
            self._saved[(api_key, key)] = _Saved(
                method, path, params, status, body, request_id, time.monotonic()
            )
        return status, body

    # -- events ------------------------------------------------------------------------------

    def emit(self, event_type: str, invoice: Invoice) -> Event:
        """Record an event about ``invoice`` as it is now; it is sent when the request ends."""
        if event_type not in _INVOICE_EVENTS:
            raise ValueError(f"unknown event type {event_type!r}")
        request_id, key = self._current if self._current is not None else (None, None)
        event_id = new_id("evt_")
        created = unix_now()
        document = {
            "id": event_id,
            "object": "event",
            "api_version": self.api_version,
            "created": created,
            "data": {
                "object": render_invoice(
                    invoice, self.customers[invoice.customer], self.invoice_items
                )
            },
            "livemode": False,
            "pending_webhooks": sum(1 for e in self.endpoints.values() if e.wants(event_type)),
            "request": {"id": request_id, "idempotency_key": key},
            "type": event_type,
        }
        # Pretty-printed like Stripe's: a receiver that re-serializes before verifying fails.
        body = json.dumps(document, indent=2, ensure_ascii=False).encode()
        event = Event(event_id, event_type, created, body)
        self.events[event_id] = event
        self._outbox.append(event)
        return event

    def _release_events(self) -> None:
        if self._outbox:
            events, self._outbox = self._outbox, []
            self.webhooks.publish(events, list(self.endpoints.values()))

    def add_endpoint(
        self, url: str, secret: str | None = None, enabled_events: tuple[str, ...] = ("*",)
    ) -> WebhookEndpoint:
        unknown = [e for e in enabled_events if e != "*" and e not in _INVOICE_EVENTS]
        if unknown:
            raise ValueError(f"unknown event types: {', '.join(unknown)}")
        endpoint = WebhookEndpoint(
            id=new_id("we_"),
            url=url,
            secret=secret or new_id("whsec_", 32),
            enabled_events=enabled_events,
        )
        with self.lock:
            self.endpoints[endpoint.id] = endpoint
        return endpoint

    def remove_endpoint(self, endpoint_id: str) -> None:
        with self.lock:
            if self.endpoints.pop(endpoint_id, None) is None:
                raise LookupError(f"no webhook endpoint {endpoint_id}")

    def resend(self, event_id: str, endpoint_id: str | None = None) -> int:
        """Deliver a recorded event again to every endpoint that wants it (or to one)."""
        with self.lock:
            event = self.events.get(event_id)
            if event is None:
                raise LookupError(f"no event {event_id}")
            endpoints = [
                e
                for e in self.endpoints.values()
                if e.wants(event.type) and endpoint_id in (None, e.id)
            ]
            if endpoint_id is not None and not endpoints:
                raise LookupError(f"no webhook endpoint {endpoint_id} for {event.type}")
            return self.webhooks.resend(event, endpoints)

    def set_faults(self, faults: Faults) -> Faults:
        return self.webhooks.set_faults(faults)

    def flush_webhooks(self, *, reverse: bool | None = None) -> int:
        return self.webhooks.flush(reverse=reverse)

    # -- control actions (not part of Stripe's API) ------------------------------------------

    def fail_payment(self, invoice_id: str) -> dict[str, Any]:
        """A payment attempt on an open invoice fails: ``invoice.payment_failed``."""
        with self.lock:
            invoice = self.invoices.get(invoice_id)
            if invoice is None:
                raise LookupError(f"no invoice {invoice_id}")
            if invoice.status != "open":
                raise ValueError(
                    f"only an open invoice can fail a payment (it is {invoice.status})"
                )
            operations.record_failed_attempt(self, invoice)
            self._release_events()
            return self.render_invoice(invoice)

    def render_invoice(self, invoice: Invoice) -> dict[str, Any]:
        return render_invoice(invoice, self.customers[invoice.customer], self.invoice_items)

    def all_invoices(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.render_invoice(invoice) for invoice in self.invoices.values()]

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(entry) for entry in self.request_log]

    def event_documents(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(event.body) for event in self.events.values()]

    def close(self) -> None:
        self.webhooks.stop()
