"""The Stripe webhook endpoint: each answer it gives, what it stores, and what it queues (only
once the request's unit of work has committed)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from daiyun.billing.models import StripeEvent
from daiyun.billing.tasks import process_stripe_event
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.sandboxes.stripe.webhooks import signature_header

SECRET = "whsec_test_webhook"
URL = "/webhooks/stripe"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Stripe webhooks configured; the tasks sent to the broker, recorded instead."""
    monkeypatch.setattr(get_settings(), "stripe_webhook_secret", SECRET)
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(process_stripe_event, "delay", lambda *args: sent.append(args))
    return sent


def _event(tenant_id: uuid.UUID | None, **changes: Any) -> dict[str, Any]:
    metadata = {"tenant_id": str(tenant_id)} if tenant_id else {}
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "invoice.paid",
        "created": int(time.time()),
        "data": {"object": {"id": f"in_{uuid.uuid4().hex[:12]}", "metadata": metadata}},
    }
    return event | changes


def _send(client: TestClient, event: dict[str, Any], secret: str = SECRET) -> Any:
    body = json.dumps(event).encode()
    return client.post(
        URL,
        content=body,
        headers={
            "Stripe-Signature": signature_header(secret, body, int(time.time())),
            "Content-Type": "application/json",
        },
    )


def _stored(event_id: str) -> StripeEvent | None:
    with unit_of_work() as session:
        return session.get(StripeEvent, event_id)


def test_an_event_is_stored_once_and_queued_once(
    client: TestClient, queued: list[tuple[Any, ...]]
) -> None:
    tenant_id = uuid.uuid4()
    event = _event(tenant_id)
    answer = _send(client, event)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "accepted", "event_id": event["id"]}
    assert queued == [(str(tenant_id), event["id"])]
    stored = _stored(event["id"])
    assert stored is not None
    assert (stored.type, stored.processed_at, stored.outcome) == ("invoice.paid", None, None)
    assert stored.invoice_id == event["data"]["object"]["id"]
    again = _send(client, event)
    assert again.status_code == 200, again.text
    assert again.json() == {"status": "duplicate", "event_id": event["id"]}
    assert queued == [(str(tenant_id), event["id"])]  # no second task


def test_an_event_without_a_tenant_is_recorded_with_its_outcome(
    client: TestClient, queued: list[tuple[Any, ...]]
) -> None:
    event = _event(None)
    answer = _send(client, event)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"
    assert queued == []
    stored = _stored(event["id"])
    assert stored is not None
    assert stored.outcome == "no tenant in the invoice metadata"
    assert stored.processed_at is not None


def test_the_event_is_acknowledged_when_the_broker_is_down(
    client: TestClient, queued: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(process_stripe_event, "delay", refuse)
    event = _event(uuid.uuid4())
    answer = _send(client, event)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "accepted", "event_id": event["id"]}
    assert _stored(event["id"]) is not None  # the relay's sweep finds it unprocessed


def test_refusals_store_and_queue_nothing(
    client: TestClient, queued: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = _event(uuid.uuid4())
    answer = _send(client, forged, secret="whsec_someone_else")
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("invalid-signature")
    unsigned = client.post(URL, content=json.dumps(forged).encode())
    assert unsigned.status_code == 401
    not_invoice = _event(uuid.uuid4(), data={"object": "not an invoice"})
    assert _send(client, not_invoice).status_code == 400
    no_id = {k: v for k, v in _event(uuid.uuid4()).items() if k != "id"}
    malformed = _send(client, no_id)
    assert malformed.status_code == 400
    assert malformed.json()["type"].endswith("malformed-event")
    monkeypatch.setattr(get_settings(), "stripe_webhook_secret", None)
    unconfigured = _event(uuid.uuid4())
    answer = _send(client, unconfigured)
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("not-configured")
    assert queued == []
    for event in (forged, not_invoice, unconfigured):
        assert _stored(event["id"]) is None
