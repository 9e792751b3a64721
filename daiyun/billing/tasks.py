"""Billing's background work: Stripe pushes on outbox events, Stripe webhook events, and the
monthly cycle (drafts on the 1st, finalized after the review window)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.billing import late, payments, repository, service
from daiyun.billing.facts import Period
from daiyun.billing.models import StatementStatus, StripeEvent
from daiyun.billing.terms import ContractTerms
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.core.ids import utcnow
from daiyun.core.tasks import platform_task, tenant_task
from daiyun.tenants.models import Tenant

log = structlog.get_logger()

SCHEDULE = {"billing-cycle": {"task": "daiyun.billing.cycle", "schedule": 3600.0}}


@subscribe("statement.finalized")
def push_to_stripe(session: Session, event: OutboxEvent) -> None:
    """A finalized statement becomes a Stripe invoice (retried safely: idempotency keys)."""
    payments.push(session, uuid.UUID(event.payload["statement_id"]))


@subscribe("order.created")
@subscribe("order.updated")
def note_late_order(session: Session, event: OutboxEvent) -> None:
    """An order that arrives or changes after its month was finalized is a late-order
    candidate for the next statement's adjustments (``daiyun.billing.late``)."""
    late.note(session, uuid.UUID(event.payload["order_id"]))


@subscribe("statement.voided")
def void_in_stripe(session: Session, event: OutboxEvent) -> None:
    payments.void_invoice(session, uuid.UUID(event.payload["statement_id"]))


@tenant_task(
    "daiyun.billing.stripe_event",
    queue="billing",
    autoretry_for=(Exception,),
    max_retries=5,
    retry_backoff=True,
)
def process_stripe_event(session: Session, event_id: str) -> str:
    """Apply one stored Stripe event to its statement's payment state (once)."""
    event = session.get(StripeEvent, event_id)
    if event is None or event.processed_at is not None:
        return "done"
    outcome = payments.apply_event(session, event.type, event.created, event.invoice_id or "")
    event.processed_at = utcnow()
    event.outcome = outcome
    return outcome


@platform_task("daiyun.billing.cycle", queue="billing")
def cycle(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every tenant with a contract: draft last month's statement once the month is over (in
    the contract's time zone); finalize drafts whose review window has passed."""
    now = now or utcnow()
    review = timedelta(days=get_settings().billing_review_days)
    counts = {"drafted": 0, "finalized": 0}
    for tenant_id in list(session.scalars(select(Tenant.id))):
        with unit_of_work(tenant_id) as tenant_session:
            contract = repository.contract(tenant_session)
            if contract is None:
                continue
            zone = ContractTerms.model_validate(contract.versions[-1].terms).time_zone
            previous = Period.containing(now, zone).previous()
            if repository.live_statement(tenant_session, str(previous)) is None:
                try:
                    service.generate(tenant_session, previous)
                    counts["drafted"] += 1
                except Problem as exc:
                    log.info("no draft", tenant_id=str(tenant_id), reason=exc.detail)
            for draft in repository.drafts(tenant_session):
                due = Period.parse(draft.period).next().bounds(zone)[0] + review
                if draft.status == StatementStatus.draft and now >= due:
                    service.finalize(tenant_session, draft.id)
                    counts["finalized"] += 1
    return counts
