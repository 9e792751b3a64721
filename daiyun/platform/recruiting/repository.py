"""Every query on recruiting's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from daiyun.core.db import take_write_lock
from daiyun.platform.recruiting.models import (
    Application,
    ApplicationStatus,
    ApplyAttempt,
    BusySlot,
    Candidate,
    CandidateFile,
    Guarantee,
    Interview,
    Interviewer,
    InterviewStatus,
    MoveKind,
    Offer,
    OfferStatus,
    Placement,
    Posting,
    PostingStatus,
    Requisition,
    RequisitionStatus,
    Scorecard,
    Settings,
    Shift,
    ShiftWorker,
    StageMove,
    Team,
    TeamMember,
)


def _locked(session: Session, stmt: Select[Any], lock: bool = True, **of: Any) -> Select[Any]:
    """``stmt`` locking the rows it reads, when ``lock``: ``FOR UPDATE`` on PostgreSQL; SQLite
    has no row locks, so there the transaction takes the write lock before it reads."""
    if not lock:
        return stmt
    take_write_lock(session)
    return stmt.with_for_update(**of)


def settings(session: Session) -> Settings | None:
    return session.scalar(select(Settings))


def requisitions() -> Select[Any]:
    return select(Requisition)


def requisition(
    session: Session, requisition_id: uuid.UUID, *, lock: bool = False
) -> Requisition | None:
    stmt = select(Requisition).where(Requisition.id == requisition_id)
    return session.scalar(_locked(session, stmt, lock))


def postings() -> Select[Any]:
    return select(Posting)


def posting(session: Session, posting_id: uuid.UUID) -> Posting | None:
    return session.scalar(select(Posting).where(Posting.id == posting_id))


def public_postings(session: Session) -> list[tuple[Posting, Requisition]]:
    """Published postings of open requisitions, newest first: what the careers page lists."""
    stmt = (
        select(Posting, Requisition)
        .join(Requisition, Requisition.id == Posting.requisition_id)
        .where(
            Posting.status == PostingStatus.published,
            Requisition.status == RequisitionStatus.open,
        )
        .order_by(Posting.published_at.desc(), Posting.id)
    )
    return [(p, r) for p, r in session.execute(stmt)]


def candidates() -> Select[Any]:
    return select(Candidate).where(Candidate.merged_into_id.is_(None))


def candidate(session: Session, candidate_id: uuid.UUID) -> Candidate | None:
    return session.scalar(select(Candidate).where(Candidate.id == candidate_id))


def past_retention(session: Session, now: datetime) -> list[Candidate]:
    """Candidates kept past their retention and not yet erased (merged ones went with theirs)."""
    stmt = select(Candidate).where(
        Candidate.retain_until < now,
        Candidate.erased_at.is_(None),
        Candidate.merged_into_id.is_(None),
    )
    return list(session.scalars(stmt.order_by(Candidate.id)))


def first_known(
    session: Session, key: str | None, phone: str | None
) -> tuple[Row[Any] | None, Row[Any] | None]:
    """The first candidate known by this e-mail key and the first known by this phone, merged
    ones included (the caller follows a merged one to its survivor: the person is still known
    by what they gave), as (id, email_key, merged_into_id) rows: the careers form asks this of
    every application, so no entity is loaded."""
    return (
        session.execute(_FIRST_BY_EMAIL, {"value": key}).first() if key else None,
        session.execute(_FIRST_BY_PHONE, {"value": phone}).first() if phone else None,
    )


def _first_by(column: Any) -> Any:  # a Select of the three columns
    known = select(Candidate.id, Candidate.email_key, Candidate.merged_into_id)
    return known.where(column == bindparam("value")).order_by(Candidate.created_at).limit(1)


_FIRST_BY_EMAIL = _first_by(Candidate.email_key)
_FIRST_BY_PHONE = _first_by(Candidate.phone)


def search_candidates(q: str) -> Select[Any]:
    """Live candidates whose name, e-mail or phone contains ``q`` (e-mail and phone compared
    in their matching forms, so "Li.Na@Gmail" finds lina@gmail.com)."""
    like = f"%{q.lower()}%"
    return candidates().where(
        or_(
            func.lower(Candidate.name).like(like),
            Candidate.email_key.like(like),
            Candidate.phone.like(f"%{q}%"),
        )
    )


def duplicates() -> Select[Any]:
    return candidates().where(Candidate.duplicate_of_id.is_not(None))


def applications() -> Select[Any]:
    return select(Application)


def application(
    session: Session, application_id: uuid.UUID, *, lock: bool = False
) -> Application | None:
    stmt = select(Application).where(Application.id == application_id)
    return session.scalar(_locked(session, stmt, lock))


def applications_by_ids(session: Session, ids: Sequence[uuid.UUID]) -> list[Application]:
    stmt = select(Application).where(Application.id.in_(ids)).order_by(Application.id)
    return list(session.scalars(_locked(session, stmt)))


def application_for(
    session: Session, requisition_id: uuid.UUID, candidate_id: uuid.UUID
) -> Application | None:
    stmt = select(Application).where(
        Application.requisition_id == requisition_id, Application.candidate_id == candidate_id
    )
    return session.scalar(stmt.limit(1))


def of_candidate(session: Session, candidate_id: uuid.UUID) -> list[Application]:
    stmt = (
        select(Application)
        .where(Application.candidate_id == candidate_id)
        .order_by(Application.applied_at)
    )
    return list(session.scalars(stmt))


def of_requisition(session: Session, requisition_id: uuid.UUID) -> list[Application]:
    stmt = (
        select(Application)
        .where(Application.requisition_id == requisition_id)
        .order_by(Application.applied_at, Application.id)
    )
    return list(session.scalars(stmt))


def stage_counts(session: Session) -> dict[uuid.UUID, dict[str, int]]:
    """Active applications per requisition and stage."""
    stmt = (
        select(Application.requisition_id, Application.stage, func.count())
        .where(Application.status == "active")
        .group_by(Application.requisition_id, Application.stage)
    )
    found: dict[uuid.UUID, dict[str, int]] = {}
    for requisition_id, stage, count in session.execute(stmt):
        found.setdefault(requisition_id, {})[stage] = count
    return found


def moves(session: Session, application_ids: Sequence[uuid.UUID]) -> list[StageMove]:
    stmt = (
        select(StageMove)
        .where(StageMove.application_id.in_(application_ids))
        .order_by(StageMove.at, StageMove.id)
    )
    return list(session.scalars(stmt))


def files_of(session: Session, application_ids: Sequence[uuid.UUID]) -> list[CandidateFile]:
    stmt = select(CandidateFile).where(CandidateFile.application_id.in_(application_ids))
    return list(session.scalars(stmt.order_by(CandidateFile.created_at)))


def file(session: Session, application_id: uuid.UUID) -> CandidateFile | None:
    stmt = select(CandidateFile).where(CandidateFile.application_id == application_id)
    return session.scalar(stmt.order_by(CandidateFile.created_at.desc()).limit(1))


def attempts_since(session: Session, key: str, since: datetime) -> int:
    stmt = select(func.count()).select_from(ApplyAttempt)
    return session.scalar(stmt.where(ApplyAttempt.key == key, ApplyAttempt.at >= since)) or 0


def prune_attempts(session: Session, key: str, before: datetime) -> None:
    session.execute(delete(ApplyAttempt).where(ApplyAttempt.key == key, ApplyAttempt.at < before))


# --- interviews ----------------------------------------------------------------------------


def interview(session: Session, interview_id: uuid.UUID, *, lock: bool = False) -> Interview | None:
    stmt = select(Interview).where(Interview.id == interview_id)
    return session.scalar(_locked(session, stmt, lock))


def interviews_of(session: Session, application_id: uuid.UUID) -> list[Interview]:
    stmt = select(Interview).where(Interview.application_id == application_id)
    return list(session.scalars(stmt.order_by(Interview.starts_at, Interview.id)))


def upcoming(since: datetime, user_id: uuid.UUID | None) -> Select[Any]:
    """Interviews still to come (not cancelled, not yet over), of one interviewer if named."""
    stmt = select(Interview).where(
        Interview.status == InterviewStatus.scheduled, Interview.ends_at > since
    )
    if user_id is not None:
        panel = select(Interviewer.interview_id).where(Interviewer.user_id == user_id)
        stmt = stmt.where(Interview.id.in_(panel))
    return stmt


def panels(
    session: Session, interview_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The interviewers of each interview, in the order they were put on it."""
    stmt = (
        select(Interviewer.interview_id, Interviewer.user_id)
        .where(Interviewer.interview_id.in_(interview_ids))
        .order_by(Interviewer.id)
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in interview_ids}
    for interview_id, user_id in session.execute(stmt):
        found[interview_id].append(user_id)
    return found


def panel_rows(session: Session, interview_id: uuid.UUID) -> list[Interviewer]:
    stmt = select(Interviewer).where(Interviewer.interview_id == interview_id)
    return list(session.scalars(stmt.order_by(Interviewer.id)))


def busy(
    session: Session,
    user_ids: Sequence[uuid.UUID],
    starts: datetime,
    ends: datetime,
    exclude: uuid.UUID | None,
) -> BusySlot | None:
    """A busy slot of any of these users (for any merchant) sharing a moment with the time."""
    stmt = select(BusySlot).where(
        BusySlot.user_id.in_(user_ids), BusySlot.starts_at < ends, BusySlot.ends_at > starts
    )
    if exclude is not None:
        stmt = stmt.where(BusySlot.interview_id != exclude)
    return session.scalars(stmt.order_by(BusySlot.starts_at).limit(1)).first()


def free(session: Session, interview_id: uuid.UUID) -> None:
    session.execute(delete(BusySlot).where(BusySlot.interview_id == interview_id))


def clashes(
    session: Session,
    user_ids: Sequence[uuid.UUID],
    starts: datetime,
    ends: datetime,
    exclude: uuid.UUID | None,
) -> list[tuple[uuid.UUID, Interview]]:
    """Scheduled interviews of any of these users that share a moment with ``[starts, ends)``,
    with the user they clash for."""
    stmt = (
        select(Interviewer.user_id, Interview)
        .join(Interview, Interview.id == Interviewer.interview_id)
        .where(
            Interviewer.user_id.in_(user_ids),
            Interview.status == InterviewStatus.scheduled,
            Interview.starts_at < ends,
            Interview.ends_at > starts,
        )
        .order_by(Interview.starts_at)
    )
    if exclude is not None:
        stmt = stmt.where(Interview.id != exclude)
    return [(user_id, found) for user_id, found in session.execute(stmt)]


def unmailed_offers(session: Session, since: datetime, before: datetime) -> list[uuid.UUID]:
    """Offers sent between ``since`` and ``before`` whose letter was not mailed."""
    stmt = select(Offer.id).where(
        Offer.sent_at.is_not(None),
        Offer.mailed_at.is_(None),
        Offer.sent_at < before,
        Offer.sent_at >= since,
    )
    return list(session.scalars(stmt.order_by(Offer.id).limit(500)))


def unmailed(session: Session, since: datetime, before: datetime) -> list[uuid.UUID]:
    """Interviews whose latest invitation was not mailed, changed between ``since`` and
    ``before`` (older ones are given up: a day of refusals is not a passing hiccup)."""
    stmt = select(Interview.id).where(
        Interview.mailed_sequence < Interview.sequence,
        Interview.updated_at < before,
        Interview.updated_at >= since,
    )
    return list(session.scalars(stmt.order_by(Interview.id).limit(500)))


def scorecards_of(session: Session, application_id: uuid.UUID) -> list[Scorecard]:
    stmt = select(Scorecard).where(Scorecard.application_id == application_id)
    return list(session.scalars(stmt.order_by(Scorecard.submitted_at, Scorecard.id)))


def scorecard_by(
    session: Session, interview_id: uuid.UUID, interviewer_id: uuid.UUID
) -> Scorecard | None:
    stmt = select(Scorecard).where(
        Scorecard.interview_id == interview_id, Scorecard.interviewer_id == interviewer_id
    )
    return session.scalar(stmt)


# --- offers --------------------------------------------------------------------------------


def offer(session: Session, offer_id: uuid.UUID, *, lock: bool = False) -> Offer | None:
    stmt = select(Offer).where(Offer.id == offer_id)
    return session.scalar(_locked(session, stmt, lock))


def offers(status: OfferStatus | None) -> Select[Any]:
    stmt = select(Offer)
    return stmt if status is None else stmt.where(Offer.status == status)


def offers_of(session: Session, application_id: uuid.UUID) -> list[Offer]:
    stmt = select(Offer).where(Offer.application_id == application_id)
    return list(session.scalars(stmt.order_by(Offer.created_at, Offer.id)))


def placement(session: Session, placement_id: uuid.UUID, *, lock: bool = False) -> Placement | None:
    stmt = select(Placement).where(Placement.id == placement_id)
    return session.scalars(_locked(session, stmt, lock)).one_or_none()


def placement_of(session: Session, application_id: uuid.UUID) -> Placement | None:
    stmt = select(Placement).where(Placement.application_id == application_id)
    return session.scalars(stmt).one_or_none()


def placements(
    requisition_id: uuid.UUID | None, guarantee: Guarantee | None, active: bool | None
) -> Select[Any]:
    stmt = select(Placement)
    if requisition_id is not None:
        stmt = stmt.where(Placement.requisition_id == requisition_id)
    if guarantee is not None:
        stmt = stmt.where(Placement.guarantee == guarantee)
    if active is not None:
        stmt = stmt.where(Placement.left_on.is_(None) if active else Placement.left_on.is_not(None))
    return stmt


def awaiting_replacement(session: Session, role: str) -> Placement | None:
    """The oldest hire for this role who left within the guarantee with a free replacement
    still owed, locked: two hires made at once do not both take it."""
    stmt = (
        select(Placement)
        .join(Requisition, Requisition.id == Placement.requisition_id)
        .where(Placement.guarantee == Guarantee.replacement_due, Requisition.role == role)
        .order_by(Placement.left_on, Placement.id)
        .limit(1)
    )
    return session.scalars(_locked(session, stmt, of=Placement)).first()


def unplaced_hires(session: Session, limit: int) -> list[Application]:
    """Hired applications no placement was made of (paid by the hour or day, hired without an
    offer here): the recruiter records them."""
    placed = select(Placement.id).where(Placement.application_id == Application.id)
    stmt = select(Application).where(
        Application.status == ApplicationStatus.hired, ~placed.exists()
    )
    return list(session.scalars(stmt.order_by(Application.updated_at.desc()).limit(limit)))


# --- the recruiting report ---------------------------------------------------------------------


def all_requisitions(session: Session) -> list[Requisition]:
    return list(session.scalars(select(Requisition)))


def filled_between(session: Session, start: datetime, end: datetime) -> list[Requisition]:
    stmt = select(Requisition).where(Requisition.filled_at >= start, Requisition.filled_at < end)
    return list(session.scalars(stmt))


def moves_between(session: Session, start: datetime, end: datetime) -> list[Any]:
    """Stage moves forward or back in the period, each with its application's requisition."""
    stmt = (
        select(
            StageMove.application_id,
            Application.requisition_id,
            StageMove.to_stage,
            StageMove.at,
        )
        .join(Application, Application.id == StageMove.application_id)
        .where(StageMove.kind == MoveKind.moved, StageMove.at >= start, StageMove.at < end)
    )
    return list(session.execute(stmt))


def applied_at(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    if not ids:
        return {}
    stmt = select(Application.id, Application.applied_at).where(Application.id.in_(ids))
    return {row.id: row.applied_at for row in session.execute(stmt)}


def applied_between(session: Session, start: datetime, end: datetime) -> list[Application]:
    stmt = select(Application).where(Application.applied_at >= start, Application.applied_at < end)
    return list(session.scalars(stmt))


def answered_between(session: Session, start: datetime, end: datetime) -> list[Offer]:
    stmt = select(Offer).where(Offer.responded_at >= start, Offer.responded_at < end)
    return list(session.scalars(stmt))


# --- part-time teams -----------------------------------------------------------------------


def team(session: Session, team_id: uuid.UUID, *, lock: bool = False) -> Team | None:
    stmt = select(Team).where(Team.id == team_id)
    return session.scalars(_locked(session, stmt, lock)).one_or_none()


def teams() -> Select[Any]:
    return select(Team)


def member(session: Session, team_id: uuid.UUID, placement_id: uuid.UUID) -> TeamMember | None:
    stmt = select(TeamMember).where(
        TeamMember.team_id == team_id, TeamMember.placement_id == placement_id
    )
    return session.scalars(stmt).one_or_none()


def members(session: Session, team_id: uuid.UUID) -> list[Any]:
    """The team's members with their placement and name, by name."""
    stmt = (
        select(TeamMember, Placement, Candidate.name)
        .join(Placement, Placement.id == TeamMember.placement_id)
        .join(Application, Application.id == Placement.application_id)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(TeamMember.team_id == team_id)
        .order_by(Candidate.name, TeamMember.id)
    )
    return list(session.execute(stmt))


def shift(session: Session, shift_id: uuid.UUID, *, lock: bool = False) -> Shift | None:
    stmt = select(Shift).where(Shift.id == shift_id)
    return session.scalars(_locked(session, stmt, lock)).one_or_none()


def shifts(session: Session, team_id: uuid.UUID, first: date, last: date) -> list[Shift]:
    stmt = select(Shift).where(Shift.team_id == team_id, Shift.day >= first, Shift.day <= last)
    return list(session.scalars(stmt.order_by(Shift.day, Shift.starts, Shift.name)))


def shift_named(session: Session, team_id: uuid.UUID, day: date, name: str) -> Shift | None:
    stmt = select(Shift).where(Shift.team_id == team_id, Shift.day == day, Shift.name == name)
    return session.scalars(stmt).one_or_none()


def shift_count(session: Session, team_id: uuid.UUID) -> int:
    return (
        session.scalar(select(func.count()).select_from(Shift).where(Shift.team_id == team_id)) or 0
    )


def workers(session: Session, shift_ids: Sequence[uuid.UUID]) -> list[ShiftWorker]:
    if not shift_ids:
        return []
    stmt = select(ShiftWorker).where(ShiftWorker.shift_id.in_(shift_ids))
    return list(session.scalars(stmt.order_by(ShiftWorker.id)))


def booked(
    session: Session, placement_id: uuid.UUID, first: date, last: date, other_than: uuid.UUID
) -> list[Shift]:
    """The shifts (of any team) the hire is on between two days, but one."""
    stmt = (
        select(Shift)
        .join(ShiftWorker, ShiftWorker.shift_id == Shift.id)
        .where(
            ShiftWorker.placement_id == placement_id,
            Shift.day >= first,
            Shift.day <= last,
            Shift.id != other_than,
        )
    )
    return list(session.scalars(stmt))


def team_rows(session: Session, team_id: uuid.UUID, placement_id: uuid.UUID) -> list[ShiftWorker]:
    """The hire's roster and attendance rows on the team's shifts."""
    stmt = (
        select(ShiftWorker)
        .join(Shift, Shift.id == ShiftWorker.shift_id)
        .where(Shift.team_id == team_id, ShiftWorker.placement_id == placement_id)
    )
    return list(session.scalars(stmt))
