"""API shapes for contracts, service facts and statements."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from daiyun.billing.facts import ServiceKind
from daiyun.billing.limits import FIRST_DAY, LAST_DAY, MAX_AMOUNT_MINOR, MAX_QUANTITY
from daiyun.billing.models import PaymentState, StatementStatus
from daiyun.billing.terms import ContractTerms
from daiyun.core.money import MinorUnits

# A day of the periods billing bills (2000-01-01 to 2999-12-31).
BillingDay = Annotated[
    date, Field(ge=FIRST_DAY, le=LAST_DAY, description="A day from 2000-01-01 to 2999-12-31")
]


class ContractCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    effective_from: BillingDay
    ends_on: BillingDay | None = None
    terms: ContractTerms


class VersionCreate(BaseModel):
    """New terms from a date on; the version before ends the day before."""

    model_config = ConfigDict(extra="forbid")

    effective_from: BillingDay
    ends_on: BillingDay | None = None
    terms: ContractTerms


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    effective_from: date
    ends_on: date | None
    terms: ContractTerms
    created_at: datetime


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    versions: list[VersionRead]


class ServiceFactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ServiceKind
    occurred_on: BillingDay
    quantity: Decimal = Field(
        default=Decimal("1"),
        ge=0,
        le=MAX_QUANTITY,
        max_digits=18,
        decimal_places=4,
        description="Units (pallet-days, picks, ...), 0 to 10^9 with up to 4 decimals",
    )
    amount_minor: MinorUnits = Field(
        default=0,
        ge=0,
        le=MAX_AMOUNT_MINOR,
        description="Minor units of the currency, 0 to 10^12; at most 10,000 facts a month",
    )
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code")
    description: str = Field(default="", max_length=500)


class ServiceFactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    occurred_on: date
    quantity: Decimal
    amount_minor: int
    currency: str
    description: str
    recorded_at: datetime


class LineMessage(BaseModel):
    """What a line says as a message key and its values (``billing.engine.wording``), so a
    client can say it in its reader's language; ``description`` says it in English."""

    key: str
    values: dict[str, Any]


class LineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    kind: str
    description: str
    basis_minor: int
    quantity: Decimal
    rate: Decimal | None
    amount_minor: int
    sources: list[str]
    adjusts_period: str | None
    message: LineMessage | None = Field(
        default=None,
        description="The description as a message key and its values; null for lines stored"
        " without one (their description is English only)",
    )


class StatementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID | None
    period: str
    status: StatementStatus
    contract_version: int
    currency: str
    total_minor: int
    credit_carried_forward_minor: int
    payment_state: PaymentState
    payment_failures: int
    stripe_invoice_id: str | None
    generated_at: datetime | None
    finalized_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None


class StatementDetail(StatementRead):
    lines: list[LineRead]


class StripeAcknowledgement(BaseModel):
    status: str
    event_id: str


class VoidBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


def preview_of(period: str, version: int, currency: str, result: Any) -> StatementDetail:
    """A computed statement that is not saved (``.../statements/preview``)."""
    lines = [
        LineRead(
            position=i,
            kind=line.kind,
            description=line.description,
            basis_minor=line.basis_minor,
            quantity=line.quantity,
            rate=line.rate,
            amount_minor=line.amount_minor,
            sources=list(line.sources),
            adjusts_period=line.adjusts_period,
            message=line.message,
        )
        for i, line in enumerate(result.lines)
    ]
    return StatementDetail(
        id=None,
        period=period,
        status=StatementStatus.draft,
        contract_version=version,
        currency=currency,
        total_minor=result.total_minor,
        credit_carried_forward_minor=result.credit_carried_forward_minor,
        payment_state=PaymentState.not_sent,
        payment_failures=0,
        stripe_invoice_id=None,
        generated_at=None,
        finalized_at=None,
        voided_at=None,
        void_reason=None,
        lines=lines,
    )
