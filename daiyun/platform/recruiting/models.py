"""Recruiting (人事代理): the merchant's requisitions and their postings, candidates and their
applications, the pipeline's stage log, and the files candidates send.

Everything about a merchant's hiring is tenant-owned and keyed ``(tenant_id, id)``. Two tables
are platform rows: the careers form's attempts per client address (``rc_apply_attempts``),
counted before any tenant is trusted, holding only a digest of the address; and the panel
members' busy slots (``rc_busy_slots``), their interview times across merchants, no more.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import new_id, utcnow
from daiyun.core.tenancy import TenantScoped


def _kind(enum: type[StrEnum], length: int = 20) -> Enum:
    return Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class EmploymentType(StrEnum):
    full_time = "full_time"
    part_time = "part_time"
    seasonal = "seasonal"  # a peak-season team (618, 双11): with its dates


class RequisitionStatus(StrEnum):
    pending_approval = "pending_approval"
    open = "open"
    on_hold = "on_hold"
    filled = "filled"
    cancelled = "cancelled"


class PostingStatus(StrEnum):
    draft = "draft"
    published = "published"
    closed = "closed"


class ApplicationStatus(StrEnum):
    active = "active"
    refused = "refused"
    hired = "hired"


class RefusalReason(StrEnum):
    not_qualified = "not_qualified"
    position_filled = "position_filled"
    pay_mismatch = "pay_mismatch"
    location = "location"
    no_show = "no_show"
    withdrew = "withdrew"
    duplicate = "duplicate"
    other = "other"


class MoveKind(StrEnum):
    applied = "applied"
    moved = "moved"
    refused = "refused"
    reopened = "reopened"
    merged = "merged"  # the application moved to the candidate it was merged into


class Settings(TenantScoped, Timestamped, Base):
    """A merchant's recruiting settings: the pipeline template new requisitions copy, how long a
    candidate's personal data is kept (stated on the careers form), and whether its openings
    are listed on the agency's careers page."""

    __tablename__ = "rc_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    stages: Mapped[list[str]] = mapped_column(JSON)
    retention_days: Mapped[int] = mapped_column(default=365)
    # Whether the merchant's openings also show on the agency's own careers page (a brand may
    # not want it known that an agency hires for it: off until the merchant says so).
    agency_page: Mapped[bool] = mapped_column(default=False)


class Requisition(TenantScoped, Timestamped, Base):
    """A role the merchant wants filled. ``approved_at`` starts the time-to-fill clock."""

    __tablename__ = "rc_requisitions"
    __table_args__ = (Index("ix_rc_requisitions_status", "tenant_id", "status"),)

    role: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    headcount: Mapped[int]
    pay_min_minor: Mapped[int] = mapped_column(BigInteger)
    pay_max_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    pay_period: Mapped[str] = mapped_column(String(8), default="month")
    location: Mapped[str] = mapped_column(String(200))
    employment_type: Mapped[EmploymentType] = mapped_column(_kind(EmploymentType))
    season_starts_on: Mapped[date | None]
    season_ends_on: Mapped[date | None]
    status: Mapped[RequisitionStatus] = mapped_column(
        _kind(RequisitionStatus), default=RequisitionStatus.pending_approval
    )
    hiring_manager_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # The pipeline, copied from the merchant's template when the requisition is made.
    stages: Mapped[list[str]] = mapped_column(JSON)
    approved_at: Mapped[datetime | None]
    filled_at: Mapped[datetime | None]
    # The careers form's own questions for this role, beside the standard fields
    # (``schemas.FormField``: key, label, kind, required, options).
    form_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Posting(TenantScoped, Timestamped, Base):
    """A requisition as the public careers page shows it."""

    __tablename__ = "rc_postings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "requisition_id"], ["rc_requisitions.tenant_id", "rc_requisitions.id"]
        ),
        Index("ix_rc_postings_requisition", "tenant_id", "requisition_id"),
    )

    requisition_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[PostingStatus] = mapped_column(_kind(PostingStatus), default=PostingStatus.draft)
    published_at: Mapped[datetime | None]


class Candidate(TenantScoped, Timestamped, Base):
    """A person, once per merchant. ``email_key`` and ``phone`` are the matching forms (see
    ``rules``); a likely duplicate points at the candidate it resembles until someone merges or
    clears it, and a merged one keeps its row, pointing at the survivor."""

    __tablename__ = "rc_candidates"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "merged_into_id"], ["rc_candidates.tenant_id", "rc_candidates.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "duplicate_of_id"], ["rc_candidates.tenant_id", "rc_candidates.id"]
        ),
        Index("ix_rc_candidates_email_key", "tenant_id", "email_key"),
        Index("ix_rc_candidates_phone", "tenant_id", "phone"),
    )

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    source: Mapped[str] = mapped_column(String(40), default="careers")
    consent_at: Mapped[datetime | None]
    retain_until: Mapped[datetime | None]
    duplicate_of_id: Mapped[uuid.UUID | None]
    duplicate_reason: Mapped[str | None] = mapped_column(String(40))
    merged_into_id: Mapped[uuid.UUID | None]
    # Set when the person's data was erased (on request or at the end of retention).
    erased_at: Mapped[datetime | None]


class Application(TenantScoped, Timestamped, Base):
    """A candidate's application to a requisition, standing at one stage of its pipeline."""

    __tablename__ = "rc_applications"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "requisition_id"], ["rc_requisitions.tenant_id", "rc_requisitions.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"], ["rc_candidates.tenant_id", "rc_candidates.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "posting_id"], ["rc_postings.tenant_id", "rc_postings.id"]
        ),
        Index("ix_rc_applications_requisition", "tenant_id", "requisition_id", "stage"),
        Index("ix_rc_applications_candidate", "tenant_id", "candidate_id"),
    )

    requisition_id: Mapped[uuid.UUID]
    candidate_id: Mapped[uuid.UUID]
    posting_id: Mapped[uuid.UUID | None]
    stage: Mapped[str] = mapped_column(String(40))
    status: Mapped[ApplicationStatus] = mapped_column(
        _kind(ApplicationStatus), default=ApplicationStatus.active
    )
    refusal_reason: Mapped[RefusalReason | None] = mapped_column(_kind(RefusalReason))
    source: Mapped[str] = mapped_column(String(40), default="careers")
    note: Mapped[str] = mapped_column(Text, default="")
    shortlisted: Mapped[bool] = mapped_column(default=False)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The answers to the requisition's questions, by key (text, a number as typed, yes/no).
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StageMove(TenantScoped, Base):
    """One step of an application through its pipeline: written once, never edited (a trigger
    refuses UPDATE and DELETE on both databases)."""

    __tablename__ = "rc_stage_moves"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "application_id"], ["rc_applications.tenant_id", "rc_applications.id"]
        ),
        Index("ix_rc_stage_moves_application", "tenant_id", "application_id"),
    )

    application_id: Mapped[uuid.UUID]
    kind: Mapped[MoveKind] = mapped_column(_kind(MoveKind))
    from_stage: Mapped[str | None] = mapped_column(String(40))
    to_stage: Mapped[str] = mapped_column(String(40))
    reason: Mapped[RefusalReason | None] = mapped_column(_kind(RefusalReason))
    message: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CandidateFile(TenantScoped, Base):
    """A file a candidate sent (a CV), in the database as the project keeps its other files:
    the tenant's like any row, under a key the server builds (``tenant_id``, ``id``)."""

    __tablename__ = "rc_files"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "application_id"], ["rc_applications.tenant_id", "rc_applications.id"]
        ),
    )

    application_id: Mapped[uuid.UUID]
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApplyAttempt(Base):
    """A careers-form submission from a client address (a digest of it), for the rate limit."""

    __tablename__ = "rc_apply_attempts"
    __table_args__ = (Index("ix_rc_apply_attempts_key_at", "key", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class BusySlot(Base):
    """A panel member's scheduled interview as a busy slot, across every merchant: the one view
    of a person's interview calendar that spans merchants (a recruiter interviews for many),
    holding no detail of the interview (no merchant, no candidate), so a clash is found without
    reading another merchant's rows. Written with the interview, gone when it is cancelled."""

    __tablename__ = "rc_busy_slots"
    __table_args__ = (
        UniqueConstraint("interview_id", "user_id"),
        Index("ix_rc_busy_slots_user", "user_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    interview_id: Mapped[uuid.UUID]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class InterviewKind(StrEnum):
    phone = "phone"
    video = "video"
    onsite = "onsite"


class InterviewStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"


class Recommendation(StrEnum):
    strong_no = "strong_no"
    no = "no"
    yes = "yes"
    strong_yes = "strong_yes"


class Interview(TenantScoped, Timestamped, Base):
    """An interview round of an application, in UTC. ``sequence`` is the calendar invitation's
    revision (RFC 5545 SEQUENCE): bumped by every reschedule and by the cancellation, so the
    attendees' calendars replace the event they hold; ``mailed_sequence`` is the last revision
    e-mailed, so sending twice sends once."""

    __tablename__ = "rc_interviews"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "application_id"], ["rc_applications.tenant_id", "rc_applications.id"]
        ),
        Index("ix_rc_interviews_application", "tenant_id", "application_id"),
        Index("ix_rc_interviews_starts", "tenant_id", "status", "starts_at"),
    )

    application_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[InterviewKind] = mapped_column(_kind(InterviewKind))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[InterviewStatus] = mapped_column(
        _kind(InterviewStatus), default=InterviewStatus.scheduled
    )
    sequence: Mapped[int] = mapped_column(default=0)
    mailed_sequence: Mapped[int] = mapped_column(default=-1)
    organizer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class Interviewer(TenantScoped, Timestamped, Base):
    """A user on an interview's panel: agency staff or the merchant's own reviewers (since
    ``created_at``)."""

    __tablename__ = "rc_interviewers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "interview_id"], ["rc_interviews.tenant_id", "rc_interviews.id"]
        ),
        UniqueConstraint("tenant_id", "interview_id", "user_id"),
        Index("ix_rc_interviewers_user", "tenant_id", "user_id"),
    )

    interview_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))


class Scorecard(TenantScoped, Base):
    """One interviewer's judgement of one interview: a rating of 1 to 4 per criterion, an
    overall recommendation and notes. One per interviewer per interview, never edited."""

    __tablename__ = "rc_scorecards"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "interview_id"], ["rc_interviews.tenant_id", "rc_interviews.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "application_id"], ["rc_applications.tenant_id", "rc_applications.id"]
        ),
        UniqueConstraint("tenant_id", "interview_id", "interviewer_id"),
        Index("ix_rc_scorecards_application", "tenant_id", "application_id"),
    )

    interview_id: Mapped[uuid.UUID]
    application_id: Mapped[uuid.UUID]
    interviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    ratings: Mapped[dict[str, int]] = mapped_column(JSON)
    recommendation: Mapped[Recommendation] = mapped_column(_kind(Recommendation))
    notes: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class OfferStatus(StrEnum):
    draft = "draft"
    approved = "approved"  # by the merchant
    sent = "sent"
    accepted = "accepted"
    declined = "declined"


class Offer(TenantScoped, Timestamped, Base):
    """The terms put to a candidate: pay in minor units with its currency and period, and a
    start date. Drafted by a recruiter, approved by the merchant, sent, then accepted (the
    application is the hire) or declined, each step dated."""

    __tablename__ = "rc_offers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "application_id"], ["rc_applications.tenant_id", "rc_applications.id"]
        ),
        Index("ix_rc_offers_application", "tenant_id", "application_id"),
        Index("ix_rc_offers_status", "tenant_id", "status"),
    )

    application_id: Mapped[uuid.UUID]
    status: Mapped[OfferStatus] = mapped_column(_kind(OfferStatus), default=OfferStatus.draft)
    salary_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    pay_period: Mapped[str] = mapped_column(String(8), default="month")
    starts_on: Mapped[date]
    terms: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    # When the offer letter went to the candidate's e-mail (None: not yet, or no address).
    mailed_at: Mapped[datetime | None]


class Guarantee(StrEnum):
    """Where a placement stands with the contract's guarantee (a hire who leaves early)."""

    none = "none"  # no claim: still working, or left after the guarantee ended
    refunded = "refunded"  # left within it, the fee given back on the next statement
    replacement_due = "replacement_due"  # left within it, the next hire on the role is free
    replaced = "replaced"  # that free hire was made


class Placement(TenantScoped, Timestamped, Base):
    """A hire, the billable event of recruiting: one per hired application, its fee basis (the
    first-year salary) and the guarantee the contract gave when it was made. A free replacement
    names the placement it replaces and bills nothing."""

    __tablename__ = "rc_placements"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "application_id"], ["rc_applications.tenant_id", "rc_applications.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "requisition_id"], ["rc_requisitions.tenant_id", "rc_requisitions.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "replaces_id"], ["rc_placements.tenant_id", "rc_placements.id"]
        ),
        UniqueConstraint("tenant_id", "application_id"),
        UniqueConstraint("tenant_id", "replaces_id"),
        Index("ix_rc_placements_requisition", "tenant_id", "requisition_id"),
    )

    application_id: Mapped[uuid.UUID]
    requisition_id: Mapped[uuid.UUID]
    offer_id: Mapped[uuid.UUID | None]
    starts_on: Mapped[date]
    salary_minor: Mapped[int] = mapped_column(BigInteger)  # first-year salary: the fee basis
    currency: Mapped[str] = mapped_column(String(3))
    guarantee_ends_on: Mapped[date | None]
    remedy: Mapped[str | None] = mapped_column(String(12))  # refund | replacement
    guarantee: Mapped[Guarantee] = mapped_column(_kind(Guarantee), default=Guarantee.none)
    replaces_id: Mapped[uuid.UUID | None]
    billed: Mapped[bool] = mapped_column(default=False)
    left_on: Mapped[date | None]
    left_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class Team(TenantScoped, Timestamped, Base):
    """A part-time team for a peak season (618, 双11): hires working shifts between two days,
    usually all hired on one seasonal requisition."""

    __tablename__ = "rc_teams"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "requisition_id"], ["rc_requisitions.tenant_id", "rc_requisitions.id"]
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    requisition_id: Mapped[uuid.UUID | None]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    location: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class TeamMember(TenantScoped, Timestamped, Base):
    """A hire (their placement) on a team, with the job they do there (拣货, 打包, 组长)."""

    __tablename__ = "rc_team_members"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "team_id"], ["rc_teams.tenant_id", "rc_teams.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "placement_id"], ["rc_placements.tenant_id", "rc_placements.id"]
        ),
        UniqueConstraint("tenant_id", "team_id", "placement_id"),
    )

    team_id: Mapped[uuid.UUID]
    placement_id: Mapped[uuid.UUID]
    job: Mapped[str] = mapped_column(String(100), default="")


class Shift(TenantScoped, Timestamped, Base):
    """A team's shift on a day, in the merchant's local time; an end at or before the start
    runs past midnight (a night shift). ``needed`` is how many workers it takes."""

    __tablename__ = "rc_shifts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "team_id"], ["rc_teams.tenant_id", "rc_teams.id"]),
        UniqueConstraint("tenant_id", "team_id", "day", "name"),
    )

    team_id: Mapped[uuid.UUID]
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(100))
    starts: Mapped[time]
    ends: Mapped[time]
    needed: Mapped[int] = mapped_column(default=1)


class Attendance(StrEnum):
    scheduled = "scheduled"  # on the roster, not yet marked
    present = "present"
    late = "late"
    absent = "absent"
    excused = "excused"  # leave agreed beforehand


class ShiftWorker(TenantScoped, Timestamped, Base):
    """A team member on a shift's roster, and their attendance once marked: the clock times
    (local) and the minutes worked, which the attendance sheet totals for payroll."""

    __tablename__ = "rc_shift_workers"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shift_id"], ["rc_shifts.tenant_id", "rc_shifts.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "placement_id"], ["rc_placements.tenant_id", "rc_placements.id"]
        ),
        UniqueConstraint("tenant_id", "shift_id", "placement_id"),
        Index("ix_rc_shift_workers_placement", "tenant_id", "placement_id"),
    )

    shift_id: Mapped[uuid.UUID]
    placement_id: Mapped[uuid.UUID]
    status: Mapped[Attendance] = mapped_column(_kind(Attendance), default=Attendance.scheduled)
    clock_in: Mapped[time | None]
    clock_out: Mapped[time | None]
    minutes: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    marked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    marked_at: Mapped[datetime | None]
