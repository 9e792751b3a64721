"""Collecting statements through Stripe, and following their payment through its webhooks.

Every call carries a deterministic idempotency key derived from the statement (and the line), so
a retried push replays Stripe's first answers instead of billing twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.orm import Session

from daiyun.billing import repository, stripe_client
from daiyun.billing.models import (
    BillingAccount,
    PaymentState,
    Statement,
    StatementStatus,
)
from daiyun.core.config import get_settings
from daiyun.core.tenancy import current_tenant
from daiyun.tenants.models import Tenant

log = structlog.get_logger()

# Stripe invoice events and the payment state each one means.
EVENT_STATES = {
    "invoice.finalized": PaymentState.open,
    "invoice.paid": PaymentState.paid,
    "invoice.payment_failed": PaymentState.payment_failed,
    "invoice.voided": PaymentState.void,
    "invoice.marked_uncollectible": PaymentState.uncollectible,
}
# Once paid or void, an invoice does not become open or failed again: a late event saying so is
# older news.
FINAL = frozenset({PaymentState.paid, PaymentState.void})


def _client() -> Any | None:
    settings = get_settings()
    if not settings.stripe_api_key:
        return None
    return stripe_client.client(settings.stripe_api_key, settings.stripe_api_base)


def _customer(session: Session, client: Any) -> str:
    tenant_id = current_tenant(session)
    assert tenant_id is not None
    account = repository.account(session)
    if account is None:
        account = BillingAccount()
        session.add(account)
    if account.stripe_customer_id is None:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        customer = client.v1.customers.create(
            {"name": tenant.legal_name, "metadata": {"tenant_id": str(tenant_id)}},
            options={"idempotency_key": f"daiyun-customer-{tenant_id}"},
        )
        account.stripe_customer_id = customer.id
        session.flush()
    return account.stripe_customer_id


def push(session: Session, statement_id: uuid.UUID) -> Statement | None:
    """Create, fill and finalize the Stripe invoice of a finalized statement (once)."""
    statement = repository.statement(session, statement_id, lock=True)
    if statement is None or statement.status != StatementStatus.finalized:
        return statement
    if statement.stripe_invoice_id is not None or statement.total_minor == 0:
        return statement
    client = _client()
    if client is None:
        log.info("stripe not configured; statement not pushed", statement_id=str(statement.id))
        return statement
    customer = _customer(session, client)
    key = f"daiyun-statement-{statement.id}"
    currency = statement.currency.lower()
    metadata = {
        "tenant_id": str(statement.tenant_id),
        "statement_id": str(statement.id),
        "period": statement.period,
    }
    invoice = client.v1.invoices.create(
        {
            "customer": customer,
            "currency": currency,
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "description": f"Statement {statement.period}",
            "metadata": metadata,
        },
        options={"idempotency_key": f"{key}-invoice"},
    )
    for line in statement.lines:
        if line.amount_minor == 0:
            continue
        client.v1.invoice_items.create(
            {
                "customer": customer,
                "invoice": invoice.id,
                "amount": line.amount_minor,
                "currency": currency,
                "description": line.description[:500],
                "metadata": {**metadata, "line": str(line.position)},
            },
            options={"idempotency_key": f"{key}-line-{line.position}"},
        )
    finalized = client.v1.invoices.finalize_invoice(
        invoice.id, options={"idempotency_key": f"{key}-finalize"}
    )
    statement.stripe_invoice_id = invoice.id
    statement.stripe_invoice_number = finalized.number
    if statement.payment_state == PaymentState.not_sent:
        statement.payment_state = PaymentState.open
    session.flush()
    return statement


def void_invoice(session: Session, statement_id: uuid.UUID) -> None:
    """Void the Stripe invoice of a voided statement, if it had one."""
    statement = repository.statement(session, statement_id)
    client = _client()
    if statement is None or statement.stripe_invoice_id is None or client is None:
        return
    if statement.payment_state in FINAL:
        return
    client.v1.invoices.void_invoice(
        statement.stripe_invoice_id,
        options={"idempotency_key": f"daiyun-statement-{statement.id}-void"},
    )


def apply_event(session: Session, event_type: str, created: datetime, invoice_id: str) -> str:
    """Move a statement's payment state on a Stripe invoice event; older news changes nothing."""
    state = EVENT_STATES.get(event_type)
    if state is None:
        return "ignored"
    statement = repository.statement_by_invoice(session, invoice_id)
    if statement is None:
        return "unknown-invoice"
    if state == PaymentState.payment_failed:
        statement.payment_failures += 1  # each failed attempt counts once (events are deduped)
    if statement.payment_state in FINAL and state not in FINAL:
        return "stale"
    newer = statement.payment_state_at is None or created >= statement.payment_state_at
    if not newer and state not in FINAL:
        return "stale"
    statement.payment_state = state
    statement.payment_state_at = created
    session.flush()
    return state.value
