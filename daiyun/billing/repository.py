"""Every query of billing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Select,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from daiyun.billing.models import (
    BilledFact,
    BillingAccount,
    Contract,
    LateOrder,
    ServiceFactRecord,
    Statement,
    StatementStatus,
)
from daiyun.billing.orders_sql import bound_tenant


def contract(session: Session, *, lock: bool = False) -> Contract | None:
    stmt = select(Contract)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def service_fact_by_key(session: Session, key: str) -> ServiceFactRecord | None:
    return session.scalar(select(ServiceFactRecord).where(ServiceFactRecord.idempotency_key == key))


def service_facts() -> Select[Any]:
    return select(ServiceFactRecord)


def service_facts_between(session: Session, first: date, last: date) -> list[ServiceFactRecord]:
    stmt = select(ServiceFactRecord).where(
        ServiceFactRecord.occurred_on >= first, ServiceFactRecord.occurred_on <= last
    )
    return list(session.scalars(stmt.order_by(ServiceFactRecord.occurred_on, ServiceFactRecord.id)))


def service_fact_count(session: Session, first: date, last: date) -> int:
    stmt = select(func.count()).where(
        ServiceFactRecord.occurred_on >= first, ServiceFactRecord.occurred_on <= last
    )
    return int(session.scalar(stmt) or 0)


def live_statement(session: Session, period: str, *, lock: bool = False) -> Statement | None:
    stmt = select(Statement).where(
        Statement.period == period, Statement.status != StatementStatus.void
    )
    return session.scalar(stmt.with_for_update() if lock else stmt)


def statement(session: Session, statement_id: uuid.UUID, *, lock: bool = False) -> Statement | None:
    stmt = select(Statement).where(Statement.id == statement_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def statement_by_invoice(session: Session, invoice_id: str) -> Statement | None:
    return session.scalar(select(Statement).where(Statement.stripe_invoice_id == invoice_id))


def statements() -> Select[Any]:
    return select(Statement)


def finalized_periods(session: Session) -> set[str]:
    stmt = select(Statement.period).where(Statement.status == StatementStatus.finalized)
    return set(session.scalars(stmt))


def live_periods(session: Session) -> set[str]:
    stmt = select(Statement.period).where(Statement.status != StatementStatus.void)
    return set(session.scalars(stmt))


def is_billed(session: Session, order_id: uuid.UUID) -> bool:
    stmt = select(BilledFact.id).where(BilledFact.order_id == order_id).limit(1)
    return session.scalar(stmt) is not None


def late_order(session: Session, order_id: uuid.UUID) -> LateOrder | None:
    return session.scalar(select(LateOrder).where(LateOrder.order_id == order_id))


def drop_late_orders(session: Session, statement_id: uuid.UUID, before: datetime) -> None:
    """Forget the late-order candidates a statement billed, and those dated before ``before``."""
    billed = select(BilledFact.order_id).where(
        BilledFact.tenant_id == bound_tenant(session), BilledFact.statement_id == statement_id
    )
    session.execute(
        delete(LateOrder).where(or_(LateOrder.order_id.in_(billed), LateOrder.at < before))
    )


def adjusted_orders(session: Session, statement_id: uuid.UUID, period: str) -> list[uuid.UUID]:
    """The orders a statement billed as adjustments of other (closed) periods."""
    stmt = select(BilledFact.order_id).where(
        BilledFact.statement_id == statement_id,
        BilledFact.period != period,
        BilledFact.order_id.is_not(None),
    )
    return [order_id for order_id in session.scalars(stmt) if order_id is not None]


def drafts(session: Session) -> list[Statement]:
    return list(session.scalars(select(Statement).where(Statement.status == StatementStatus.draft)))


def billed_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these fact keys a finalized statement already counted."""
    wanted = list(keys)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            session.scalars(select(BilledFact.fact_key).where(BilledFact.fact_key.in_(chunk)))
        )
    return found


def billed_orders(session: Session, order_keys: Iterable[str]) -> list[BilledFact]:
    wanted = list(order_keys)
    rows: list[BilledFact] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows.extend(session.scalars(select(BilledFact).where(BilledFact.fact_key.in_(chunk))))
    return rows


def release_billed(session: Session, statement_id: uuid.UUID) -> None:
    session.execute(delete(BilledFact).where(BilledFact.statement_id == statement_id))


def previous_credit(session: Session, before: str) -> int:
    """Credit carried forward by the last finalized statement before a period."""
    stmt = (
        select(Statement.credit_carried_forward_minor)
        .where(Statement.status == StatementStatus.finalized, Statement.period < before)
        .order_by(Statement.period.desc())
        .limit(1)
    )
    return int(session.scalar(stmt) or 0)


def account(session: Session) -> BillingAccount | None:
    return session.scalar(select(BillingAccount))


def unpaid_statements(session: Session) -> list[Statement]:
    """Finalized statements whose payment has not arrived (not sent, open, failed, written off)."""
    from daiyun.billing.models import PaymentState

    stmt = (
        select(Statement)
        .where(
            Statement.status == StatementStatus.finalized,
            Statement.payment_state.not_in([PaymentState.paid, PaymentState.void]),
        )
        .order_by(Statement.period)
    )
    return list(session.scalars(stmt))
