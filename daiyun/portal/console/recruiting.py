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

from sqlalchemy.orm import Session

from daiyun.platform.recruiting import service
from daiyun.platform.recruiting.schemas import (
    ApplicationRead,
    CandidateRead,
    RequisitionRead,
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


@dataclass
class CandidateView:
    candidate: CandidateRead
    applications: list[tuple[ApplicationRead, RequisitionRead]]
    moves: dict[uuid.UUID, list[StageMoveRead]]
    duplicate_of: CandidateRead | None


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


def candidate(session: Session, candidate_id: uuid.UUID) -> CandidateView:
    """A candidate with every application (and its requisition) and each one's stage log."""
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
    return CandidateView(person, applications, moves, duplicate)
