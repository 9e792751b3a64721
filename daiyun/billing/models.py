"""Contracts, service facts, statements (结算单) and what they billed; Stripe bookkeeping."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import TenantScoped


class Contract(TenantScoped, Timestamped, Base):
    """The agency's contract with a merchant; what it says lives in its versions."""

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    name: Mapped[str] = mapped_column(String(200))
    versions: Mapped[list[ContractVersion]] = relationship(
        order_by="ContractVersion.version", lazy="selectin"
    )


class ContractVersion(TenantScoped, Base):
    """The terms in force from ``effective_from`` until the next version (or ``ends_on``)."""

    __tablename__ = "contract_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "contract_id", "version"),
        ForeignKeyConstraint(["tenant_id", "contract_id"], ["contracts.tenant_id", "contracts.id"]),
    )

    contract_id: Mapped[uuid.UUID]
    version: Mapped[int]
    effective_from: Mapped[date]
    ends_on: Mapped[date | None]  # the contract's last day, when it ends
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[uuid.UUID | None]


class ServiceFactRecord(TenantScoped, Base):
    """Billable work that is not an order (ad spend, pallet-days, picks, placements, one-offs),
    recorded once per idempotency key."""

    __tablename__ = "service_facts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_service_facts_occurred", "tenant_id", "occurred_on"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[date]
    # Decimal as text: SQLite would store a Numeric as a float.
    quantity: Mapped[str] = mapped_column(String(40), default="1")
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(500), default="")
    idempotency_key: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatementStatus(StrEnum):
    draft = "draft"
    finalized = "finalized"
    void = "void"


class PaymentState(StrEnum):
    not_sent = "not_sent"
    open = "open"
    paid = "paid"
    payment_failed = "payment_failed"
    void = "void"
    uncollectible = "uncollectible"


class Statement(TenantScoped, Timestamped, Base):
    """A monthly settlement statement (结算单): draft, then finalized (immutable), or void."""

    __tablename__ = "statements"
    __table_args__ = (
        # One live statement per period; voided ones stay for the record.
        Index(
            "uq_statements_live_period",
            "tenant_id",
            "period",
            unique=True,
            sqlite_where=text("status != 'void'"),
            postgresql_where=text("status != 'void'"),
        ),
        ForeignKeyConstraint(["tenant_id", "contract_id"], ["contracts.tenant_id", "contracts.id"]),
    )

    period: Mapped[str] = mapped_column(String(7))
    contract_id: Mapped[uuid.UUID]
    contract_version: Mapped[int]
    status: Mapped[StatementStatus] = mapped_column(
        Enum(StatementStatus, native_enum=False, length=16), default=StatementStatus.draft
    )
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_carried_forward_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finalized_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(Text)
    payment_state: Mapped[PaymentState] = mapped_column(
        Enum(PaymentState, native_enum=False, length=16), default=PaymentState.not_sent
    )
    # The Stripe event time behind payment_state: an older event never overwrites a newer one.
    payment_state_at: Mapped[datetime | None]
    payment_failures: Mapped[int] = mapped_column(default=0)
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(100))
    stripe_invoice_number: Mapped[str | None] = mapped_column(String(100))

    lines: Mapped[list[StatementLine]] = relationship(
        order_by="StatementLine.position", cascade="all, delete-orphan", lazy="selectin"
    )


class StatementLine(TenantScoped, Base):
    """One line: description, basis, quantity, rate, amount, and the facts behind it."""

    __tablename__ = "statement_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "statement_id"],
            ["statements.tenant_id", "statements.id"],
            ondelete="CASCADE",
        ),
        Index("ix_statement_lines_statement", "tenant_id", "statement_id"),
    )

    statement_id: Mapped[uuid.UUID]
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(500))
    basis_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity: Mapped[str] = mapped_column(String(40), default="1")
    rate: Mapped[str | None] = mapped_column(String(40))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    adjusts_period: Mapped[str | None] = mapped_column(String(7))
    # What the description says as a message key and its values (billing.engine.wording), so a
    # reader gets it in their language; None for lines stored before it was kept.
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class BilledFact(TenantScoped, Base):
    """A fact counted by a finalized statement: the key is unique, so nothing is billed twice.

    For orders it also keeps the base and commission billed, the limit of later clawbacks.
    """

    __tablename__ = "billed_facts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "fact_key"),
        Index("ix_billed_facts_tenant_order", "tenant_id", "order_id"),
        ForeignKeyConstraint(
            ["tenant_id", "statement_id"], ["statements.tenant_id", "statements.id"]
        ),
    )

    statement_id: Mapped[uuid.UUID]
    fact_key: Mapped[str] = mapped_column(String(120))
    order_id: Mapped[uuid.UUID | None]  # the order of an ``order:`` key, for set-based checks
    period: Mapped[str] = mapped_column(String(7))
    base_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    clawed_back_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # What recomputing the period needs of the fact as it was billed (channel, lines, amounts).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BillingAccount(TenantScoped, Timestamped, Base):
    """The tenant as a Stripe customer."""

    __tablename__ = "billing_accounts"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    stripe_customer_id: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))


class StripeEvent(Base):
    """A verified Stripe webhook event, stored once by its id before it is trusted with work."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime]
    invoice_id: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(200))


class LateOrder(TenantScoped, Base):
    """An order that may have arrived (or become billable) after its month was finalized: a
    candidate for the adjustment lines of the next statement (BILLING.md 5).

    Recorded from the order book's events (``daiyun.billing.late``), so a statement looks up
    these few orders instead of scanning every closed month's orders; removed once billed.
    """

    __tablename__ = "billing_late_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id"),
        ForeignKeyConstraint(
            ["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"], ondelete="CASCADE"
        ),
        Index("ix_billing_late_orders_at", "tenant_id", "at"),
    )

    order_id: Mapped[uuid.UUID]
    # The order's earliest date (placed or paid) when recorded: candidates too old to adjust
    # (LATE_FACT_MONTHS) are pruned by it.
    at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
