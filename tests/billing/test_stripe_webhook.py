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


def _send_raw(client: TestClient, body: bytes, header: str) -> Any:
    return client.post(
        URL, content=body, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )


def _problem(answer: Any, status: int, kind: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith(kind)


@pytest.mark.parametrize(
    "timestamp",
    [
        "9" * 5000,  # thousands of digits: past Python's int parsing limit
        str(10**12),  # 13 digits: not a time Stripe sends
        "-5",
        "1e9",
    ],
)
def test_an_absurd_signature_timestamp_is_refused(
    client: TestClient, queued: list[tuple[Any, ...]], timestamp: str
) -> None:
    body = json.dumps(_event(uuid.uuid4())).encode()
    # Unsigned and signed alike: the timestamp is refused before anything is trusted.
    signed = signature_header(SECRET, body, 0).replace("t=0", f"t={timestamp}")
    for header in (f"t={timestamp},v1=00", signed):
        _problem(_send_raw(client, body, header), 401, "invalid-signature")
    assert queued == []


def test_a_signature_from_far_in_the_future_is_refused(
    client: TestClient, queued: list[tuple[Any, ...]]
) -> None:
    event = _event(uuid.uuid4())
    body = json.dumps(event).encode()
    far = 99_999_999_999  # the year 5138, correctly signed
    answer = _send_raw(client, body, signature_header(SECRET, body, far))
    _problem(answer, 401, "invalid-signature")
    assert "future" in answer.json()["detail"]
    assert queued == [] and _stored(event["id"]) is None


def _signed_raw(client: TestClient, body: bytes) -> Any:
    return _send_raw(client, body, signature_header(SECRET, body, int(time.time())))


@pytest.mark.parametrize(
    "changes",
    [
        {"created": 1e30},
        {"created": 10**30},
        {"created": -1},
        {"created": True},
        {"created": "1700000000"},
        {"data": {"object": []}},
        {"data": {"object": ["in_1", {"metadata": {}}]}},
        {"data": []},
        {"data": {"object": {"id": "in_1", "metadata": "tenant"}}},
        {"data": {"object": {"id": "in_1", "metadata": {"tenant_id": 7}}}},
        {"data": {"object": {"id": "in_1", "metadata": {"tenant_id": "not-a-uuid"}}}},
        {"data": {"object": {"id": {"nested": 1}, "metadata": {}}}},
        {"id": ""},
        {"id": "evt_" + "x" * 200},
        {"id": 12345},
        {"type": ["invoice.paid"]},
    ],
    ids=lambda changes: json.dumps(changes)[:60],
)
def test_a_signed_event_of_the_wrong_shape_is_refused_as_malformed(
    client: TestClient, queued: list[tuple[Any, ...]], changes: dict[str, Any]
) -> None:
    event = _event(uuid.uuid4(), **changes)
    _problem(_send(client, event), 400, "malformed-event")
    assert queued == []
    if isinstance(event["id"], str) and 0 < len(event["id"]) <= 100:
        assert _stored(event["id"]) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_inf", "type": "invoice.paid", "created": Infinity, "data": {"object": {}}}',
        b'{"id": "evt_nan", "type": "invoice.paid", "created": NaN, "data": {"object": {}}}',
        b'{"id": "evt_big", "created": ' + b"9" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser recurses
        b'["a list, not an object"]',
        b"\xff\xfe not UTF-8",
    ],
    ids=["infinity", "nan", "5000-digit-int", "deep-nesting", "a-list", "not-utf8"],
)
def test_a_signed_body_that_is_not_a_json_object_is_refused_as_malformed(
    client: TestClient, queued: list[tuple[Any, ...]], body: bytes
) -> None:
    _problem(_signed_raw(client, body), 400, "malformed-event")
    assert queued == []
    assert _stored("evt_inf") is None and _stored("evt_nan") is None


def test_an_event_of_another_type_or_without_metadata_is_acknowledged_harmlessly(
    client: TestClient, queued: list[tuple[Any, ...]]
) -> None:
    tenant_id = uuid.uuid4()
    other = _event(tenant_id, type="customer.created")
    answer = _send(client, other)
    assert answer.status_code == 200, answer.text
    bare = _event(None, data={"object": {"id": "in_bare"}})  # no metadata at all
    answer = _send(client, bare)
    assert answer.status_code == 200, answer.text
    assert queued == [(str(tenant_id), other["id"])]  # the task ignores the type
    stored = _stored(bare["id"])
    assert stored is not None and stored.outcome == "no tenant in the invoice metadata"
