"""The after-sales API's shapes (Create / Read, the actions' bodies, the settings)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from daiyun.core.money import MinorUnits
from daiyun.platform.aftersales.rules import (
    Action,
    CaseState,
    CaseType,
    Condition,
    FollowupChannel,
    FollowupRule,
    FollowupState,
    Outcome,
    Source,
)
from daiyun.platform.customer_service.schemas import Count

__all__ = [
    "Action",
    "CaseState",
    "CaseType",
    "Condition",
    "FollowupChannel",
    "FollowupRule",
    "FollowupState",
    "Outcome",
    "Source",
]

Reason = Annotated[
    str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")
]
Evidence = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\s\x00-\x1F\x7F]+$")
]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:\-]+$")]
Amount = Annotated[MinorUnits, Field(ge=0, le=10**13)]
Quantity = Annotated[Count, Field(ge=1, le=100_000)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CaseLineIn(_Input):
    """Units of one order line (named by the channel's line id, or its SKU code)."""

    line: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    quantity: Quantity
    requested_minor: Annotated[Amount, Field(description="Asked back for these units")] | None = (
        None
    )


class CaseCreate(_Input):
    """A case entered by hand or from a conversation (its order comes with it)."""

    type: CaseType
    order_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    reason: Reason
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)
    lines: list[CaseLineIn] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _names_an_order(self) -> CaseCreate:
        if self.order_id is None and self.conversation_id is None:
            raise ValueError("an order_id or a conversation_id is needed")
        return self


class CaseLineRead(_Read):
    line_external_id: str
    sku: str
    quantity: int
    paid_minor: int
    requested_minor: int


class CaseEventRead(_Read):
    kind: str
    state: CaseState
    at: datetime
    actor_user_id: uuid.UUID | None
    detail: dict[str, Any]


class CaseRead(_Read):
    id: uuid.UUID
    order_id: uuid.UUID
    shop_id: uuid.UUID
    conversation_id: uuid.UUID | None
    type: CaseType
    source: Source
    marketplace_key: str | None
    state: CaseState
    reason: str
    evidence: list[str]
    currency: str
    requested_minor: int
    refunded_minor: int
    refusal_reason: str | None
    condition: Condition | None
    receipt_id: uuid.UUID | None
    deadline: datetime | None
    created_at: datetime


class CaseDetail(CaseRead):
    lines: list[CaseLineRead]
    events: list[CaseEventRead]
    actions: list[Action]


class Approve(_Input):
    note: Reason | None = None


class Refuse(_Input):
    reason: Reason


class Receive(_Input):
    """The goods are back: resellable ones go into a bin as a return receipt, damaged ones into
    a quarantine bin (one that is not pickable). Without a bin nothing enters stock (goods in for
    repair are the buyer's)."""

    condition: Condition
    location_id: uuid.UUID | None = None


class ReturnLineIn(_Input):
    """Units of one SKU as they came back: their condition and the bin they go into."""

    sku: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    quantity: Quantity
    condition: Condition
    location_id: uuid.UUID


class ReturnIn(_Input):
    """A return received at the dock line by line (each its own condition and bin), all into
    one warehouse. Fewer units than the case names may come back, never more."""

    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)


class DockReturn(ReturnIn):
    """A parcel back at the dock that no request announced: its case is opened on the order,
    accepted and received in one step; the refund is decided on the case afterwards."""

    order_id: uuid.UUID
    note: Reason | None = None


class Refund(_Input):
    amount_minor: Annotated[Amount, Field(description="Default: what the case asks")] | None = None


class Note(_Input):
    note: Reason | None = None


class SettingsIn(_Input):
    return_days: Annotated[Count, Field(ge=0, le=3650)] = 7
    exchange_days: Annotated[Count, Field(ge=0, le=3650)] = 15
    warranty_days: Annotated[Count, Field(ge=0, le=3650)] = 365
    auto_approve_below_minor: Amount = 0
    trusted_min_orders: Annotated[Count, Field(ge=0, le=10_000)] = Field(
        default=0,
        description="Auto-approval only for buyers with this many earlier orders (0: anyone)",
    )
    trusted_max_cases: Annotated[Count, Field(ge=0, le=10_000)] | None = Field(
        default=None,
        description="... and at most this many after-sales cases in the past year (null: any)",
    )
    approval_threshold_minor: Amount = 100_000
    response_hours: Annotated[Count, Field(ge=1, le=24 * 90)] = 48
    csat_enabled: StrictBool = Field(
        default=True, description="Offer the satisfaction survey when a conversation is resolved"
    )
    csat_days: Annotated[Count, Field(ge=1, le=90)] = Field(
        default=7, description="Days the survey's link stays open"
    )


class SettingsRead(_Read):
    return_days: int
    exchange_days: int
    warranty_days: int
    auto_approve_below_minor: int
    trusted_min_orders: int
    trusted_max_cases: int | None
    approval_threshold_minor: int
    response_hours: int
    csat_enabled: bool
    csat_days: int


# --- follow-ups (回访) ------------------------------------------------------------------------


class FollowupSettingsIn(_Input):
    delivery_enabled: StrictBool = True
    delivery_days: Annotated[Count, Field(ge=0, le=365)] = 7
    close_enabled: StrictBool = True
    close_days: Annotated[Count, Field(ge=0, le=365)] = 3
    high_value_enabled: StrictBool = True
    high_value_minor: Annotated[
        Amount, Field(description="In minor units of the order's currency")
    ] = 100_000
    high_value_days: Annotated[Count, Field(ge=0, le=365)] = 2
    window_hours: Annotated[Count, Field(ge=1, le=24 * 90)] = 48


class FollowupSettingsRead(_Read):
    delivery_enabled: bool
    delivery_days: int
    close_enabled: bool
    close_days: int
    high_value_enabled: bool
    high_value_minor: int
    high_value_days: int
    window_hours: int


class FollowupRead(_Read):
    id: uuid.UUID
    rule: FollowupRule
    order_id: uuid.UUID
    shop_id: uuid.UUID
    case_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    channel: FollowupChannel
    state: FollowupState
    since: datetime
    due_at: datetime
    assignee_id: uuid.UUID | None
    outcome: Outcome | None
    note: str | None
    done_by: uuid.UUID | None
    done_at: datetime | None
    opened_case_id: uuid.UUID | None
    created_at: datetime


class FollowupComplete(_Input):
    """What the buyer said. "issue_found" opens an after-sales case on the order: its type is
    needed, the note becomes the case's reason, and its lines are the order's (all units) unless
    named."""

    outcome: Outcome
    note: Reason | None = None
    case_type: CaseType | None = None
    lines: list[CaseLineIn] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _case_when_issue(self) -> FollowupComplete:
        if self.outcome == Outcome.issue_found and (self.case_type is None or self.note is None):
            raise ValueError("an issue found needs a case_type and a note (the case's reason)")
        return self


class FollowupReassign(_Input):
    assignee_id: Annotated[uuid.UUID | None, Field(description="None: back to the queue")] = None


class FollowupSkip(_Input):
    note: Reason | None = None


# --- repurchase (复购) ------------------------------------------------------------------------


class RepurchaseRow(BaseModel):
    outcome: Outcome | None = Field(description="Null: every outcome together")
    followed: int = Field(description="Follow-ups completed in the period with this outcome")
    identified: int = Field(description="... whose buyer the order names by e-mail")
    repurchased: int = Field(description="... whose buyer ordered again within the window")
    rate: float | None = Field(description="repurchased / identified (null when none)")


class RepurchaseReport(BaseModel):
    first: date
    last: date
    within_days: int
    rows: list[RepurchaseRow]


# --- satisfaction surveys (CSAT) -----------------------------------------------------------


class SurveyRead(_Read):
    id: uuid.UUID
    conversation_id: uuid.UUID
    agent_id: uuid.UUID | None
    shop_id: uuid.UUID | None
    channel: str
    sent_at: datetime
    expires_at: datetime
    rating: int | None
    comment: str
    answered_at: datetime | None
    skipped: bool


class CsatRow(BaseModel):
    """One agent's surveys of the period (``agent_id`` null: all agents together)."""

    agent_id: uuid.UUID | None
    sent: int
    answered: int
    skipped: int
    average: float | None = Field(description="Mean rating of the answers, 1 to 5")
    satisfied: float | None = Field(description="Share of answers rated 4 or 5 (the CSAT score)")
    response_rate: float | None = Field(description="Answers over surveys sent")


class CsatSummary(BaseModel):
    first: date
    last: date
    rows: list[CsatRow]
    total: CsatRow


# --- QA scorecards (稽核) --------------------------------------------------------------------

CriterionKey = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
]
Label = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")
]
MAX_SCORE = 5  # each criterion is scored 0 (missed) to 5 (exemplary)


class Criterion(_Input):
    key: CriterionKey
    label: Label
    weight: Annotated[Count, Field(ge=1, le=100)]


class RubricIn(_Input):
    """A scorecard: its criteria (1 to 20, keys unique) each with a weight."""

    name: Annotated[Label, StringConstraints(max_length=100)]  # the column's length
    criteria: Annotated[list[Criterion], Field(min_length=1, max_length=20)]
    active: StrictBool = True

    @model_validator(mode="after")
    def _unique_keys(self) -> RubricIn:
        keys = [c.key for c in self.criteria]
        if len(set(keys)) != len(keys):
            raise ValueError("criterion keys are unique within a rubric")
        return self


class RubricRead(_Read):
    id: uuid.UUID
    name: str
    criteria: list[Criterion]
    active: bool
    created_at: datetime


class ReviewIn(_Input):
    """A supervisor's review: a score 0-5 for every criterion of the rubric, and a comment for
    the agent."""

    conversation_id: uuid.UUID
    rubric_id: uuid.UUID
    scores: Annotated[
        dict[CriterionKey, Annotated[Count, Field(ge=0, le=MAX_SCORE)]],
        Field(min_length=1, max_length=20),
    ]
    comment: Annotated[str, StringConstraints(max_length=5000, pattern=r"^[^\x00]*$")] = ""


class ReviewRead(_Read):
    id: uuid.UUID
    conversation_id: uuid.UUID
    rubric_id: uuid.UUID
    agent_id: uuid.UUID | None
    reviewer_id: uuid.UUID
    criteria: list[Criterion]
    scores: dict[str, int]
    score_bp: int = Field(description="The weighted score in basis points of 100 % (8750: 87.5 %)")
    comment: str
    created_at: datetime


class SampleRow(BaseModel):
    conversation_id: uuid.UUID
    agent_id: uuid.UUID | None
    resolved_at: datetime
    reason: str = Field(description="sample (drawn for the agent) or low_csat (rated 1 or 2)")
    rating: int | None


class QaRow(BaseModel):
    agent_id: uuid.UUID | None
    reviews: int
    average_bp: int | None = Field(description="Mean score in basis points of 100 %")


class QaSummary(BaseModel):
    first: date
    last: date
    rows: list[QaRow]
