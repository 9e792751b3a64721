"""Stripe's webhook events (ARCHITECTURE.md rule 4): verified on the raw bytes, stored once by
event id in the caller's unit of work, applied to the statement's payment state in a
``billing``-queue task that leaves once that unit of work has committed.

Apart from :mod:`daiyun.billing.payments` because it queues a task of
:mod:`daiyun.billing.tasks`, which imports ``payments``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.billing import stripe_client
from daiyun.billing.models import StripeEvent
from daiyun.billing.tasks import process_stripe_event
from daiyun.core.config import get_settings
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.tasks import enqueue_after_commit

# What a stored event's columns hold (``StripeEvent``): longer ids are not Stripe's, and cutting
# them short could make two events one.
MAX_ID = 100
# ``created`` from the epoch to the last second of 9999 (the last a datetime holds).
MAX_CREATED = 253_402_300_799


@dataclass(frozen=True)
class StripeReceipt:
    """What storing one Stripe event gave: its tenant (from the invoice metadata), its id, and
    ``accepted`` or ``duplicate``."""

    tenant_id: uuid.UUID | None
    event_id: str
    status: str


def receive(session: Session, body: bytes, signature: str | None) -> StripeReceipt:
    """Verify a Stripe event on its raw body, store it once, and queue its processing for
    after the commit (only flushes: the caller's unit of work commits).

    404 when Stripe webhooks are not configured here, 401 on a bad or stale signature, 400 when
    the event is not a Stripe invoice event. An event id stored already is a duplicate and
    queues nothing. An event whose invoice names no tenant is stored as processed, with that
    outcome, and queues nothing either. A broker that refuses the task after the commit is
    logged, not raised: the event is stored and Stripe gets its acknowledgement.
    """
    secret = get_settings().stripe_webhook_secret
    if not secret:
        raise Problem(404, "not-configured", "Stripe webhooks are not configured here")
    try:
        event = stripe_client.verify_webhook(body, signature, secret)
    except stripe_client.MalformedBody as exc:
        raise Problem(400, "malformed-event", str(exc)) from exc
    except stripe_client.SignatureError as exc:
        raise Problem(401, "invalid-signature", str(exc)) from exc
    event_id, event_type, created, invoice_id, tenant_id = _parse(event)
    try:
        # A savepoint: a duplicate id undoes only this insert, not the caller's transaction.
        with session.begin_nested():
            session.add(
                StripeEvent(
                    id=event_id,
                    type=event_type,
                    created=created,
                    invoice_id=invoice_id,
                    outcome=None if tenant_id else "no tenant in the invoice metadata",
                    processed_at=None if tenant_id else utcnow(),
                )
            )
            session.flush()
    except IntegrityError:
        return StripeReceipt(tenant_id, event_id, "duplicate")
    if tenant_id is not None:
        enqueue_after_commit(session, process_stripe_event, str(tenant_id), event_id)
    return StripeReceipt(tenant_id, event_id, "accepted")


def _text(value: Any, what: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise ValueError(f"{what} is not a string of 1 to {MAX_ID} characters")
    return value


def _parse(
    event: dict[str, Any],
) -> tuple[str, str, datetime, str | None, uuid.UUID | None]:
    """(id, type, created, invoice id, tenant) of a verified event, or 400 ``malformed-event``
    when a field is missing or not of Stripe's shape (ids as strings, ``created`` as whole
    seconds, ``data.object`` and its ``metadata`` as objects)."""
    try:
        event_id = _text(event.get("id"), "id", required=True)
        event_type = _text(event.get("type"), "type", required=True)
        created_at = event.get("created")
        # bool is an int in Python; 1e30 and friends are floats: neither is Stripe's.
        if type(created_at) is not int or not 0 <= created_at <= MAX_CREATED:
            raise ValueError("created is not a time in whole seconds since the epoch")
        data = event.get("data")
        invoice = data.get("object") if isinstance(data, dict) else None
        if not isinstance(invoice, dict):
            raise ValueError("data.object is not an object")
        invoice_id = _text(invoice.get("id"), "data.object.id", required=False)
        metadata = invoice.get("metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise ValueError("data.object.metadata is not an object")
        tenant_text = metadata.get("tenant_id")
        if tenant_text is not None and not isinstance(tenant_text, str):
            raise ValueError("metadata.tenant_id is not a string")
        tenant_id = uuid.UUID(tenant_text) if tenant_text else None
    except ValueError as exc:
        raise Problem(
            400, "malformed-event", f"The event is not a Stripe invoice event: {exc}"[:300]
        ) from exc
    assert event_id is not None and event_type is not None  # required: typing only
    return event_id, event_type, datetime.fromtimestamp(created_at, UTC), invoice_id, tenant_id
