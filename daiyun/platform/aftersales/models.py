"""After-sales (售后): cases opened on an order, their lines, their append-only event log, and a
merchant's after-sales settings (the 三包 periods, auto-approval, the approval threshold).

Satisfaction surveys (CSAT, ``csat.py``): one per resolved conversation, answered (1-5 and a
comment) or skipped by the buyer through a signed link.

Follow-ups (回访, ``followups.py``): a merchant's follow-up rules, and the follow-up tasks they
generate, one per delivered order and one per closed case.

A case names the order lines it is about by their SKU and the channel's line id, not by the
order line's row: the order book rebuilds an order's lines whenever the marketplace describes it
again, so a row id would not survive the next sync.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import TenantScoped
from daiyun.platform.aftersales.rules import (
    CaseState,
    CaseType,
    Condition,
    FollowupChannel,
    FollowupRule,
    FollowupState,
    Outcome,
    Source,
)


def _kind(enum: type[StrEnum], length: int = 16) -> Enum:
    return Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Settings(TenantScoped, Timestamped, Base):
    """A merchant's after-sales rules (one row per tenant, made on first write)."""

    __tablename__ = "as_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    return_days: Mapped[int] = mapped_column(default=7)
    exchange_days: Mapped[int] = mapped_column(default=15)
    warranty_days: Mapped[int] = mapped_column(default=365)
    # Refund-only cases asking less than this are approved on arrival (0: never).
    auto_approve_below_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # ... and only for trusted buyers: this many earlier orders here (0: every buyer), and at
    # most this many after-sales cases in the year before (None: any number).
    trusted_min_orders: Mapped[int] = mapped_column(default=0)
    trusted_max_cases: Mapped[int | None]
    # Refunds above this need aftersales:approve on top of aftersales:manage.
    approval_threshold_minor: Mapped[int] = mapped_column(BigInteger, default=100_000)
    response_hours: Mapped[int] = mapped_column(default=48)
    # The satisfaction survey (CSAT) offered when a conversation is resolved, and how many days
    # its link stays open.
    csat_enabled: Mapped[bool] = mapped_column(default=True)
    csat_days: Mapped[int] = mapped_column(default=7)


class Case(TenantScoped, Timestamped, Base):
    """One after-sales request on one order."""

    __tablename__ = "as_cases"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"]),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"], ["cs_conversations.tenant_id", "cs_conversations.id"]
        ),
        # A marketplace reporting the same request again finds the case it opened.
        UniqueConstraint("tenant_id", "shop_id", "marketplace_key"),
        Index("ix_as_cases_state", "tenant_id", "state", "deadline"),
        Index("ix_as_cases_order", "tenant_id", "order_id"),
    )

    order_id: Mapped[uuid.UUID]
    shop_id: Mapped[uuid.UUID]
    conversation_id: Mapped[uuid.UUID | None]
    type: Mapped[CaseType] = mapped_column(_kind(CaseType))
    source: Mapped[Source] = mapped_column(_kind(Source))
    marketplace_key: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[CaseState] = mapped_column(_kind(CaseState), default=CaseState.requested)
    reason: Mapped[str] = mapped_column(Text)
    # Photo references (URLs or storage keys) the buyer sent.
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    currency: Mapped[str] = mapped_column(String(3))
    requested_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    condition: Mapped[Condition | None] = mapped_column(_kind(Condition))
    # The return receipt the goods went in on (the warehouse's), when they went into stock.
    receipt_id: Mapped[uuid.UUID | None]
    # Respond by: set while the case waits on staff, cleared while it waits on others.
    deadline: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class CaseLine(TenantScoped, Base):
    """Which units of which order line the case is about, and what is asked for them."""

    __tablename__ = "as_case_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "case_id"], ["as_cases.tenant_id", "as_cases.id"], ondelete="CASCADE"
        ),
        Index("ix_as_case_lines_case", "tenant_id", "case_id"),
    )

    case_id: Mapped[uuid.UUID]
    line_external_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]
    # What the buyer paid for these units (the line's total pro rata), and what is asked back.
    paid_minor: Mapped[int] = mapped_column(BigInteger)
    requested_minor: Mapped[int] = mapped_column(BigInteger)


class CaseEvent(TenantScoped, Base):
    """One step of a case: written once, never changed (the service has no path that does)."""

    __tablename__ = "as_case_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "case_id"], ["as_cases.tenant_id", "as_cases.id"], ondelete="CASCADE"
        ),
        Index("ix_as_case_events_case", "tenant_id", "case_id", "at"),
    )

    case_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[CaseState] = mapped_column(_kind(CaseState))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FollowupSettings(TenantScoped, Timestamped, Base):
    """A merchant's follow-up rules (one row per tenant, made on first write)."""

    __tablename__ = "as_followup_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    delivery_enabled: Mapped[bool] = mapped_column(default=True)
    delivery_days: Mapped[int] = mapped_column(default=7)
    close_enabled: Mapped[bool] = mapped_column(default=True)
    close_days: Mapped[int] = mapped_column(default=3)
    high_value_enabled: Mapped[bool] = mapped_column(default=True)
    high_value_minor: Mapped[int] = mapped_column(BigInteger, default=100_000)
    high_value_days: Mapped[int] = mapped_column(default=2)
    window_hours: Mapped[int] = mapped_column(default=48)


class Followup(TenantScoped, Timestamped, Base):
    """One follow-up visit (回访) to make with a buyer, by message or phone.

    ``subject`` names what it follows ("order:<hex>" or "case:<hex>"); unique per tenant, so
    the generator running twice, or two rules matching one order, never makes a second one.
    """

    __tablename__ = "as_followups"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"]),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        ForeignKeyConstraint(["tenant_id", "case_id"], ["as_cases.tenant_id", "as_cases.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["cs_contacts.tenant_id", "cs_contacts.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "opened_case_id"], ["as_cases.tenant_id", "as_cases.id"]
        ),
        UniqueConstraint("tenant_id", "subject"),
        Index("ix_as_followups_queue", "tenant_id", "state", "due_at"),
        Index("ix_as_followups_assignee", "tenant_id", "assignee_id", "state"),
    )

    subject: Mapped[str] = mapped_column(String(40))
    rule: Mapped[FollowupRule] = mapped_column(_kind(FollowupRule))
    order_id: Mapped[uuid.UUID]
    shop_id: Mapped[uuid.UUID]
    case_id: Mapped[uuid.UUID | None]
    contact_id: Mapped[uuid.UUID | None]
    channel: Mapped[FollowupChannel] = mapped_column(_kind(FollowupChannel))
    state: Mapped[FollowupState] = mapped_column(_kind(FollowupState), default=FollowupState.open)
    # The event it follows (delivery, the case's close) and the moment it is overdue after.
    since: Mapped[datetime]
    due_at: Mapped[datetime]
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[Outcome | None] = mapped_column(_kind(Outcome, 24))
    note: Mapped[str | None] = mapped_column(Text)
    done_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[datetime | None]
    # The case an "issue found" outcome opened.
    opened_case_id: Mapped[uuid.UUID | None]


class Survey(TenantScoped, Timestamped, Base):
    """The satisfaction survey offered on a resolved conversation: one per conversation, its
    link open until ``expires_at``; the buyer rates it 1-5 with a comment, or skips it. The
    agent is who held the conversation when it was resolved."""

    __tablename__ = "as_csat"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"], ["cs_conversations.tenant_id", "cs_conversations.id"]
        ),
        UniqueConstraint("tenant_id", "conversation_id"),
        Index("ix_as_csat_sent", "tenant_id", "sent_at"),
    )

    conversation_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    shop_id: Mapped[uuid.UUID | None]
    channel: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    rating: Mapped[int | None]
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None]
    skipped: Mapped[bool] = mapped_column(default=False)


class QaRubric(TenantScoped, Timestamped, Base):
    """A merchant's scorecard for reviewing conversations (稽核): criteria, each with a label
    and a weight (``[{"key", "label", "weight"}]``); inactive rubrics score no new review."""

    __tablename__ = "as_qa_rubrics"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)


class QaReview(TenantScoped, Base):
    """A supervisor's review of one conversation against a rubric: each criterion scored 0-5,
    the weighted score in basis points of 100 % (8750 is 87.5 %), and a comment the agent reads.
    The rubric's criteria are copied in, so a later change to the rubric leaves it as scored.
    One review per conversation and reviewer."""

    __tablename__ = "as_qa_reviews"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"], ["cs_conversations.tenant_id", "cs_conversations.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "rubric_id"], ["as_qa_rubrics.tenant_id", "as_qa_rubrics.id"]
        ),
        UniqueConstraint("tenant_id", "conversation_id", "reviewer_id"),
        Index("ix_as_qa_reviews_agent", "tenant_id", "agent_id", "created_at"),
    )

    conversation_id: Mapped[uuid.UUID]
    rubric_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    score_bp: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
