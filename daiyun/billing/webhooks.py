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

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.billing import stripe_client
from daiyun.billing.models import StripeEvent
from daiyun.billing.tasks import process_stripe_event
from daiyun.core.config import get_settings
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.tasks import enqueue_after_commit


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
    except stripe_client.SignatureError as exc:
        raise Problem(401, "invalid-signature", str(exc)) from exc
    try:
        event_id = str(event["id"])[:100]
        invoice = event["data"]["object"]
        created = datetime.fromtimestamp(int(event["created"]), UTC)
        tenant_text = (invoice.get("metadata") or {}).get("tenant_id")
        tenant_id = uuid.UUID(tenant_text) if tenant_text else None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # AttributeError: an object or metadata that is not a JSON object.
        raise Problem(400, "malformed-event", "The event is not a Stripe invoice event") from exc
    try:
        # A savepoint: a duplicate id undoes only this insert, not the caller's transaction.
        with session.begin_nested():
            session.add(
                StripeEvent(
                    id=event_id,
                    type=str(event.get("type", ""))[:100],
                    created=created,
                    invoice_id=str(invoice.get("id", ""))[:100] or None,
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
