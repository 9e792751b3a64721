"""The recruiting API's shapes (Create / Update / Read) and the enums others may use."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from daiyun.core.ids import DateTime, Day
from daiyun.core.money import MinorUnits
from daiyun.platform.recruiting import rules
from daiyun.platform.recruiting.models import (
    ApplicationStatus,
    EmploymentType,
    Guarantee,
    InterviewKind,
    InterviewStatus,
    MoveKind,
    OfferStatus,
    PostingStatus,
    Recommendation,
    RefusalReason,
    RequisitionStatus,
)

__all__ = [
    "ApplicationStatus",
    "EmploymentType",
    "Guarantee",
    "InterviewKind",
    "InterviewStatus",
    "MoveKind",
    "OfferStatus",
    "PostingStatus",
    "Recommendation",
    "RefusalReason",
    "RequisitionStatus",
]

_LINE = r"^[^\s\x00-\x1F\x7F](?:[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F])?$"
Line = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_LINE)]
Text = Annotated[str, StringConstraints(max_length=20_000, pattern=r"^[^\x00]*$")]
Stage = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[0-9a-z_\-\u4e00-\u9fff]+$")
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=320, pattern=r"^[^@\s\x00-\x1F]+@[^@\s\x00-\x1F]+$"),
]
Phone = Annotated[
    str, StringConstraints(min_length=3, max_length=32, pattern=r"^[+0-9 ()\-]*[0-9][+0-9 ()\-]*$")
]
MAX_PAY_MINOR = 10**12


def _not_bool(value: object) -> object:
    # JSON true is not a number (pydantic would take it as 1); 3.0 is 3, as JSON Schema says.
    if isinstance(value, bool):
        raise ValueError("a number is needed, not true or false")
    return value


Count = Annotated[int, BeforeValidator(_not_bool)]
Headcount = Annotated[Count, Field(ge=1, le=10_000)]
Pay = Annotated[MinorUnits, Field(ge=0, le=MAX_PAY_MINOR)]
RetentionDays = Annotated[Count, Field(ge=30, le=3650)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- settings ------------------------------------------------------------------------------


class SettingsIn(_Input):
    """The pipeline template new requisitions copy, and how long candidates' data is kept."""

    stages: list[Stage] = Field(min_length=2, max_length=12)
    retention_days: RetentionDays = 365
    agency_page: bool = Field(
        default=False, description="List the merchant's openings on the agency's careers page"
    )

    @field_validator("stages")
    @classmethod
    def _pipeline(cls, value: list[str]) -> list[str]:
        return rules.check_stages(value)


class SettingsRead(_Read):
    stages: list[str]
    retention_days: int
    agency_page: bool


# --- requisitions --------------------------------------------------------------------------


FieldKey = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
]
Option = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_LINE)]


class FormField(_Input):
    """A question the careers form asks for this role, beside name, contact and CV: free text,
    a number, yes or no, or one choice of the options."""

    key: FieldKey
    label: Line
    kind: Literal["text", "number", "yes_no", "choice"] = "text"
    required: bool = False
    options: list[Option] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _options(self) -> FormField:
        if (self.kind == "choice") != bool(self.options):
            raise ValueError("a choice has its options, and only a choice")
        if len(set(self.options)) != len(self.options):
            raise ValueError("each option once")
        return self


def _unique_keys(fields: list[FormField]) -> list[FormField]:
    if len({f.key for f in fields}) != len(fields):
        raise ValueError("each question has its own key")
    return fields


FormFields = Annotated[list[FormField], Field(max_length=10), AfterValidator(_unique_keys)]


class _Season(_Input):
    @model_validator(mode="after")
    def _dates(self) -> _Season:
        starts, ends = (
            getattr(self, "season_starts_on", None),
            getattr(self, "season_ends_on", None),
        )
        if starts and ends and ends < starts:
            raise ValueError("a season ends on or after the day it starts")
        lo, hi = getattr(self, "pay_min_minor", None), getattr(self, "pay_max_minor", None)
        if lo is not None and hi is not None and hi < lo:
            raise ValueError("the pay range's maximum is at least its minimum")
        return self


class RequisitionCreate(_Season):
    role: Line
    description: Text = ""
    headcount: Headcount = 1
    pay_min_minor: Pay
    pay_max_minor: Pay
    currency: Currency = "CNY"
    pay_period: Annotated[str, Field(pattern=r"^(hour|day|month|year)$")] = "month"
    location: Line
    employment_type: EmploymentType
    season_starts_on: Day | None = None
    season_ends_on: Day | None = None
    hiring_manager_id: uuid.UUID | None = None
    form_fields: FormFields = Field(default_factory=list)

    @model_validator(mode="after")
    def _seasonal(self) -> RequisitionCreate:
        seasonal = self.employment_type == EmploymentType.seasonal
        if seasonal != (self.season_starts_on is not None and self.season_ends_on is not None):
            raise ValueError("a seasonal requisition has its dates, and only a seasonal one")
        return self


class RequisitionUpdate(_Season):
    role: Line | None = None
    description: Text | None = None
    headcount: Annotated[Count, Field(ge=1, le=10_000)] | None = None
    pay_min_minor: Annotated[MinorUnits, Field(ge=0, le=MAX_PAY_MINOR)] | None = None
    pay_max_minor: Annotated[MinorUnits, Field(ge=0, le=MAX_PAY_MINOR)] | None = None
    location: Line | None = None
    hiring_manager_id: uuid.UUID | None = None
    form_fields: FormFields | None = None


class StatusIn(_Input):
    status: RequisitionStatus


class RequisitionRead(_Read):
    id: uuid.UUID
    role: str
    description: str
    headcount: int
    pay_min_minor: int
    pay_max_minor: int
    currency: str
    pay_period: str
    location: str
    employment_type: EmploymentType
    season_starts_on: date | None
    season_ends_on: date | None
    status: RequisitionStatus
    hiring_manager_id: uuid.UUID | None
    stages: list[str]
    approved_at: datetime | None
    filled_at: datetime | None
    form_fields: list[FormField]
    created_at: datetime


# --- postings ------------------------------------------------------------------------------


class PostingCreate(_Input):
    requisition_id: uuid.UUID
    title: Line
    body: Text = ""
    publish: bool = False


class PostingUpdate(_Input):
    title: Line | None = None
    body: Text | None = None
    status: PostingStatus | None = None


class PostingRead(_Read):
    id: uuid.UUID
    requisition_id: uuid.UUID
    title: str
    body: str
    status: PostingStatus
    published_at: datetime | None


# --- candidates ----------------------------------------------------------------------------


class CandidateCreate(_Input):
    """A candidate a recruiter enters (sourced, referred): matched as careers applicants are."""

    name: Line
    email: Email | None = None
    phone: Phone | None = None
    source: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=_LINE)] = (
        "sourced"
    )


class CandidateRead(_Read):
    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    source: str
    consent_at: datetime | None
    retain_until: datetime | None
    duplicate_of_id: uuid.UUID | None
    duplicate_reason: str | None
    merged_into_id: uuid.UUID | None
    erased_at: datetime | None = Field(
        default=None, description="When the person's data was erased (the row stays for counts)"
    )
    created_at: datetime


class CandidateErase(_Input):
    """Why the data is erased (the candidate asked, say): kept in the audit log."""

    reason: Text = Field(min_length=1)


class CandidateMerge(_Input):
    """Merge the candidate in the path into ``into_id`` (its applications move)."""

    into_id: uuid.UUID


# --- applications --------------------------------------------------------------------------


class ApplicationCreate(_Input):
    """An application a recruiter enters for a known candidate."""

    requisition_id: uuid.UUID
    candidate_id: uuid.UUID
    source: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=_LINE)] = (
        "sourced"
    )
    note: Text = ""


class ApplicationRead(_Read):
    id: uuid.UUID
    requisition_id: uuid.UUID
    candidate_id: uuid.UUID
    posting_id: uuid.UUID | None
    stage: str
    status: ApplicationStatus
    refusal_reason: RefusalReason | None
    source: str
    note: str
    shortlisted: bool
    applied_at: datetime
    answers: dict[str, Any] = Field(description="Answers to the requisition's questions, by key")
    has_cv: bool = False


class Move(_Input):
    stage: Stage


class Refusal(_Input):
    reason: RefusalReason
    message: Text = ""


class Shortlist(_Input):
    shortlisted: bool


class Bulk(_Input):
    """The same move or refusal for many applications of one tenant, all or none."""

    application_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    stage: Stage | None = None
    reason: RefusalReason | None = None
    message: Text = ""

    @model_validator(mode="after")
    def _one(self) -> Bulk:
        if (self.stage is None) == (self.reason is None):
            raise ValueError("a bulk action is a move (stage) or a refusal (reason), not both")
        return self


class StageMoveRead(_Read):
    id: uuid.UUID
    application_id: uuid.UUID
    kind: MoveKind
    from_stage: str | None
    to_stage: str
    reason: RefusalReason | None
    message: str
    actor_id: uuid.UUID | None
    at: datetime


# --- interviews and scorecards -------------------------------------------------------------
# Times: a datetime with a UTC offset is that instant; one without is read in the merchant's
# time zone ("10:00" is ten o'clock where the merchant is). Answers are in UTC.

Place = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00-\x1F\x7F]*$")]
Criterion = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=_LINE)]
Rating = Annotated[Count, Field(ge=1, le=4)]
Panel = Annotated[list[uuid.UUID], Field(min_length=1, max_length=10)]


class InterviewCreate(_Input):
    """An interview round: its panel are users who review the merchant's candidates (agency
    recruiters and staff, the merchant's owners)."""

    title: Line = "Interview"
    kind: InterviewKind
    starts_at: DateTime
    ends_at: DateTime
    location: Place = Field(default="", description="An address, a phone number or a video link")
    interviewer_ids: Panel


class InterviewUpdate(_Input):
    """A reschedule (new times), a new place or panel: the invitation goes out again with its
    sequence bumped."""

    title: Line | None = None
    kind: InterviewKind | None = None
    starts_at: DateTime | None = None
    ends_at: DateTime | None = None
    location: Place | None = None
    interviewer_ids: Panel | None = None


class InterviewRead(_Read):
    id: uuid.UUID
    application_id: uuid.UUID
    title: str
    kind: InterviewKind
    starts_at: datetime
    ends_at: datetime
    location: str
    status: InterviewStatus
    sequence: int
    organizer_id: uuid.UUID | None
    interviewer_ids: list[uuid.UUID] = []
    created_at: datetime


class ScorecardCreate(_Input):
    """The caller's own scorecard of an interview they sat on: a rating of 1 (poor) to 4
    (excellent) per criterion, an overall recommendation, notes."""

    ratings: dict[Criterion, Rating] = Field(
        min_length=1,
        max_length=20,
        # The keys' own constraints, which the generated document would otherwise leave out.
        json_schema_extra={
            "propertyNames": {"minLength": 1, "maxLength": 80, "pattern": _LINE},
        },
    )
    recommendation: Recommendation
    notes: Text = ""


class ScorecardRead(_Read):
    id: uuid.UUID
    interview_id: uuid.UUID
    application_id: uuid.UUID
    interviewer_id: uuid.UUID
    ratings: dict[str, int]
    recommendation: Recommendation
    notes: str
    submitted_at: datetime


class ScorecardSummary(BaseModel):
    """An application's scorecards as the caller may read them: while they still owe a card
    on one of its interviews, only their own (``hidden`` counts the others)."""

    application_id: uuid.UUID
    submitted: int
    hidden: int
    recommendations: dict[str, int]
    averages: dict[str, float]
    scorecards: list[ScorecardRead]


# --- offers --------------------------------------------------------------------------------

PayPeriod = Annotated[str, Field(pattern=r"^(hour|day|month|year)$")]


class OfferCreate(_Input):
    """An offer's terms: pay in minor units (¥8,000.00 a month is 800000) with its currency."""

    salary_minor: Annotated[MinorUnits, Field(ge=1, le=MAX_PAY_MINOR)]
    currency: Currency = "CNY"
    pay_period: PayPeriod = "month"
    starts_on: Day
    terms: Text = ""


class OfferUpdate(_Input):
    """New terms for a draft offer (an approved one goes back to the merchant as a new draft)."""

    salary_minor: Annotated[MinorUnits, Field(ge=1, le=MAX_PAY_MINOR)] | None = None
    currency: Currency | None = None
    pay_period: PayPeriod | None = None
    starts_on: Day | None = None
    terms: Text | None = None


class Decline(_Input):
    reason: Text = ""


class OfferRead(_Read):
    id: uuid.UUID
    application_id: uuid.UUID
    status: OfferStatus
    salary_minor: int
    currency: str
    pay_period: str
    starts_on: date
    terms: str
    created_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    sent_at: datetime | None
    responded_at: datetime | None
    decline_reason: str
    mailed_at: datetime | None
    created_at: datetime


# --- placements ----------------------------------------------------------------------------


class PlacementCreate(_Input):
    """A hire recorded by hand (hired without an offer in Daiyun, or paid by the hour or day):
    the first-year salary the contract's fee rate applies to, in the contract's currency."""

    application_id: uuid.UUID
    salary_minor: Annotated[MinorUnits, Field(ge=0, le=MAX_PAY_MINOR)] = Field(
        description="First-year salary in minor units: the placement fee's basis"
    )
    currency: Currency = "CNY"
    starts_on: Day
    replaces_id: uuid.UUID | None = Field(
        default=None,
        description="The placement this hire replaces free under the guarantee (found by role "
        "when not given)",
    )


class PlacementLeave(_Input):
    """The hire left (or never started): within the guarantee the contract's remedy applies."""

    left_on: Day
    reason: Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")] = ""


class PlacementRead(_Read):
    id: uuid.UUID
    application_id: uuid.UUID
    requisition_id: uuid.UUID
    offer_id: uuid.UUID | None
    starts_on: date
    salary_minor: int
    currency: str
    guarantee_ends_on: date | None
    remedy: str | None
    guarantee: Guarantee
    replaces_id: uuid.UUID | None
    billed: bool
    left_on: date | None
    left_reason: str
    created_at: datetime


# --- the recruiting report -----------------------------------------------------------------


class Durations(BaseModel):
    count: int
    median_days: float | None
    mean_days: float | None


class FunnelRow(BaseModel):
    stage: str
    reached: int = Field(description="Applications of the period that reached this stage")
    refused: int = Field(description="Refused while at this stage")
    to_next: float | None = Field(description="Share of those reaching the next stage shown")


class SourceRow(BaseModel):
    source: str
    applications: int
    hired: int
    hire_rate: float | None


class OfferFigures(BaseModel):
    accepted: int
    declined: int
    acceptance_rate: float | None


class RecruitingReport(BaseModel):
    first: date
    last: date
    time_to_fill: Durations
    time_to_hire: Durations
    applications: int
    funnel: list[FunnelRow]
    sources: list[SourceRow]
    offers: OfferFigures
