"""Recruiting (人事代理) for the portal: the requisitions across the staff member's merchants,
the pipeline board of one requisition (its stages as columns), and a candidate with their
applications and stage log. Read through recruiting's service, one unit of work per merchant
where the user's role there grants ``recruiting:review``; a merchant that cannot be read shows
nothing rather than failing the page, as the other console pages do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core import periods
from daiyun.platform.recruiting import interviews, offers, placements, reports, service
from daiyun.platform.recruiting.schemas import (
    ApplicationRead,
    CandidateRead,
    InterviewRead,
    OfferRead,
    OfferStatus,
    PlacementRead,
    RecruitingReport,
    RequisitionRead,
    ScorecardSummary,
    StageMoveRead,
)
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
PER_MERCHANT = 100


@dataclass(frozen=True)
class RequisitionRow:
    tenant: TenantView
    requisition: RequisitionRead
    by_stage: dict[str, int]

    @property
    def active(self) -> int:
        return sum(self.by_stage.values())


@dataclass(frozen=True)
class Card:
    application: ApplicationRead
    candidate: CandidateRead


@dataclass
class Board:
    requisition: RequisitionRead
    columns: dict[str, list[Card]] = field(default_factory=dict)
    closed: list[Card] = field(default_factory=list)  # refused applications, out of the columns


@dataclass(frozen=True)
class InterviewRow:
    interview: InterviewRead
    panel: list[str]  # the interviewers' names
    candidate: CandidateRead | None = None
    requisition: RequisitionRead | None = None


@dataclass
class CandidateView:
    candidate: CandidateRead
    applications: list[tuple[ApplicationRead, RequisitionRead]]
    moves: dict[uuid.UUID, list[StageMoveRead]]
    duplicate_of: CandidateRead | None
    interviews: dict[uuid.UUID, list[InterviewRow]] = field(default_factory=dict)
    scorecards: dict[uuid.UUID, ScorecardSummary] = field(default_factory=dict)
    reviewers: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    offers: dict[uuid.UUID, list[OfferRead]] = field(default_factory=dict)


@dataclass
class InterviewView:
    row: InterviewRow
    summary: ScorecardSummary
    may_score: bool  # the viewer sits on the panel and has not scored yet


def reviewable(accesses: list[Access]) -> list[Access]:
    return with_permission(accesses, P.recruiting_review)


def requisitions(accesses: list[Access], user_id: uuid.UUID) -> list[RequisitionRow]:
    """Every merchant's requisitions, with the active applications at each stage."""
    rows: list[RequisitionRow] = []
    for access in reviewable(accesses):
        with tenant_unit(access.tenant.id, user_id) as session:
            quietly(partial(_rows, session, access.tenant, rows))
            session.rollback()
    return rows


def _rows(session: Session, tenant: TenantView, rows: list[RequisitionRow]) -> bool:
    rows.extend(merchant_requisitions(session, tenant))
    return True


def merchant_requisitions(session: Session, tenant: TenantView) -> list[RequisitionRow]:
    """One merchant's requisitions (in the session bound to it), newest first."""
    found, _ = service.find_requisitions(session, None, None, PER_MERCHANT)
    counts = service.stage_counts(session)
    return sorted(
        (
            RequisitionRow(tenant, RequisitionRead.model_validate(r), counts.get(r.id, {}))
            for r in found
        ),
        key=lambda row: row.requisition.created_at,
        reverse=True,
    )


def board(session: Session, requisition_id: uuid.UUID) -> Board:
    """A requisition's applications by stage (in the session bound to its merchant)."""
    requisition = RequisitionRead.model_validate(service.get_requisition(session, requisition_id))
    found = service.of_requisition(session, requisition_id)
    people = {
        c.id: CandidateRead.model_validate(c)
        for c in (service.get_candidate(session, a.candidate_id) for a in found)
    }
    shown = Board(requisition, {stage: [] for stage in requisition.stages})
    for application in service.read_applications(session, found):
        card = Card(application, people[application.candidate_id])
        if application.status.value == "refused":
            shown.closed.append(card)
        else:
            shown.columns.setdefault(application.stage, []).append(card)
    return shown


def shortlist(session: Session) -> list[tuple[Card, RequisitionRead]]:
    """The merchant's shortlisted applications, still active, with their requisitions."""
    found, _ = service.find_applications(session, None, None, None, None, True, None, 200)
    requisitions: dict[uuid.UUID, RequisitionRead] = {}
    rows = []
    for application in service.read_applications(session, found):
        if application.requisition_id not in requisitions:
            requisitions[application.requisition_id] = RequisitionRead.model_validate(
                service.get_requisition(session, application.requisition_id)
            )
        candidate = CandidateRead.model_validate(
            service.get_candidate(session, application.candidate_id)
        )
        rows.append((Card(application, candidate), requisitions[application.requisition_id]))
    return rows


def candidate(session: Session, candidate_id: uuid.UUID, viewer: uuid.UUID) -> CandidateView:
    """A candidate with every application (and its requisition), each one's stage log, its
    interviews and the scorecards the viewer may read."""
    person = CandidateRead.model_validate(service.get_candidate(session, candidate_id))
    found = service.of_candidate(session, candidate_id)
    applications = [
        (
            a,
            RequisitionRead.model_validate(service.get_requisition(session, a.requisition_id)),
        )
        for a in service.read_applications(session, found)
    ]
    moves: dict[uuid.UUID, list[StageMoveRead]] = {a.id: [] for a in found}
    for move in service.stage_log(session, [a.id for a in found]):
        moves[move.application_id].append(StageMoveRead.model_validate(move))
    duplicate = None
    if person.duplicate_of_id is not None:
        duplicate = CandidateRead.model_validate(
            service.get_candidate(session, person.duplicate_of_id)
        )
    shown = CandidateView(person, applications, moves, duplicate)
    for application in found:
        shown.interviews[application.id] = _interview_rows(
            session, interviews.of_application(session, application.id)
        )
        shown.scorecards[application.id] = interviews.summary(session, application.id, viewer)
        shown.offers[application.id] = [
            OfferRead.model_validate(o) for o in offers.of_application(session, application.id)
        ]
    shown.reviewers = interviews.reviewers(session)
    return shown


def _interview_rows(
    session: Session, found: list[Any], with_people: bool = False
) -> list[InterviewRow]:
    read = interviews.read(session, found)
    people = interviews.names(session, [u for i in read for u in i.interviewer_ids])
    rows = []
    for item in read:
        candidate = requisition = None
        if with_people:
            application = service.get_application(session, item.application_id)
            candidate = CandidateRead.model_validate(
                service.get_candidate(session, application.candidate_id)
            )
            requisition = RequisitionRead.model_validate(
                service.get_requisition(session, application.requisition_id)
            )
        panel = [people.get(u, "?") for u in item.interviewer_ids]
        rows.append(InterviewRow(item, panel, candidate, requisition))
    return rows


def upcoming(session: Session) -> list[InterviewRow]:
    """The merchant's interviews still to come, soonest first, with who and for what."""
    return _interview_rows(session, interviews.upcoming(session), with_people=True)


def interview(session: Session, interview_id: uuid.UUID, viewer: uuid.UUID) -> InterviewView:
    """An interview with its panel, and its scorecards as the viewer may read them."""
    found = interviews.get(session, interview_id)
    [row] = _interview_rows(session, [found], with_people=True)
    summary = interviews.summary(session, found.application_id, viewer, found.id)
    mine = any(c.interviewer_id == viewer for c in summary.scorecards)
    may_score = (
        viewer in row.interview.interviewer_ids
        and not mine
        and row.interview.status.value == "scheduled"
    )
    return InterviewView(row, summary, may_score)


def offers_to_approve(session: Session) -> list[tuple[OfferRead, Card, RequisitionRead]]:
    """Draft offers waiting for the merchant, with the candidate and the role."""
    found, _ = offers.find(session, OfferStatus.draft, None, 200)
    rows = []
    for offer in found:
        [application] = service.read_applications(
            session, [service.get_application(session, offer.application_id)]
        )
        candidate = CandidateRead.model_validate(
            service.get_candidate(session, application.candidate_id)
        )
        requisition = RequisitionRead.model_validate(
            service.get_requisition(session, application.requisition_id)
        )
        rows.append((OfferRead.model_validate(offer), Card(application, candidate), requisition))
    return rows


@dataclass(frozen=True)
class PlacementRow:
    placement: PlacementRead
    candidate: CandidateRead
    role: str


def placement_rows(session: Session) -> list[PlacementRow]:
    """The merchant's hires, newest first, each with the person and the role."""
    found, _ = placements.find(session, None, None, None, None, 200)
    rows = []
    for placement in found:
        application = service.get_application(session, placement.application_id)
        rows.append(
            PlacementRow(
                PlacementRead.model_validate(placement),
                CandidateRead.model_validate(
                    service.get_candidate(session, application.candidate_id)
                ),
                service.get_requisition(session, placement.requisition_id).role,
            )
        )
    return sorted(rows, key=lambda row: row.placement.created_at, reverse=True)


def unplaced_hires(session: Session) -> list[tuple[Card, RequisitionRead]]:
    """Hires no placement was made of, for the recruiter to record."""
    rows = []
    for application in service.read_applications(session, placements.unplaced(session)):
        rows.append(
            (
                Card(
                    application,
                    CandidateRead.model_validate(
                        service.get_candidate(session, application.candidate_id)
                    ),
                ),
                RequisitionRead.model_validate(
                    service.get_requisition(session, application.requisition_id)
                ),
            )
        )
    return rows


REPORT_DAYS = 90


def report(session: Session, tenant: TenantView) -> RecruitingReport:
    """The merchant's recruiting figures over the last 90 days, to today where it is."""
    first, last = periods.window(tenant.time_zone, REPORT_DAYS, None, None)
    return reports.report(session, first, last, tenant.time_zone)
