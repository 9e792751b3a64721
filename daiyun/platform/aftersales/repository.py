"""Every query on the after-sales tables."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from daiyun.platform.aftersales.models import (
    Case,
    CaseEvent,
    CaseLine,
    Followup,
    FollowupSettings,
    QaReview,
    QaRubric,
    Settings,
    Survey,
)
from daiyun.platform.aftersales.rules import Action, CaseState, CaseType, FollowupState, Outcome
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Membership


def cases(
    state: CaseState | None = None,
    case_type: CaseType | None = None,
    shop_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
) -> Select[Any]:
    stmt = select(Case)
    if state is not None:
        stmt = stmt.where(Case.state == state)
    if case_type is not None:
        stmt = stmt.where(Case.type == case_type)
    if shop_id is not None:
        stmt = stmt.where(Case.shop_id == shop_id)
    if order_id is not None:
        stmt = stmt.where(Case.order_id == order_id)
    return stmt


def case(session: Session, case_id: uuid.UUID, *, lock: bool = False) -> Case | None:
    stmt = select(Case).where(Case.id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def by_marketplace_key(session: Session, shop_id: uuid.UUID, key: str) -> Case | None:
    return session.scalar(select(Case).where(Case.shop_id == shop_id, Case.marketplace_key == key))


def lines(session: Session, case_id: uuid.UUID) -> list[CaseLine]:
    stmt = select(CaseLine).where(CaseLine.case_id == case_id).order_by(CaseLine.id)
    return list(session.scalars(stmt))


def events(session: Session, case_id: uuid.UUID) -> list[CaseEvent]:
    stmt = (
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
    )
    return list(session.scalars(stmt))


def settings(session: Session) -> Settings | None:
    return session.scalar(select(Settings))


# --- follow-ups ------------------------------------------------------------------------------


def followup_settings(session: Session) -> FollowupSettings | None:
    return session.scalar(select(FollowupSettings))


def followups(
    state: FollowupState | None,
    assignee_id: uuid.UUID | None,
    unassigned: bool,
    overdue_at: datetime | None,
    order_id: uuid.UUID | None,
) -> Select[Any]:
    stmt = select(Followup)
    if state is not None:
        stmt = stmt.where(Followup.state == state)
    if assignee_id is not None:
        stmt = stmt.where(Followup.assignee_id == assignee_id)
    if unassigned:
        stmt = stmt.where(Followup.assignee_id.is_(None))
    if overdue_at is not None:
        stmt = stmt.where(Followup.state == FollowupState.open, Followup.due_at < overdue_at)
    if order_id is not None:
        stmt = stmt.where(Followup.order_id == order_id)
    return stmt


def queue(session: Session, assignee_id: uuid.UUID | None, limit: int) -> list[Followup]:
    """Open follow-ups, the earliest due (so the overdue) first."""
    stmt = select(Followup).where(Followup.state == FollowupState.open)
    if assignee_id is not None:
        stmt = stmt.where(Followup.assignee_id == assignee_id)
    return list(session.scalars(stmt.order_by(Followup.due_at, Followup.id).limit(limit)))


def followup(session: Session, followup_id: uuid.UUID, *, lock: bool = False) -> Followup | None:
    stmt = select(Followup).where(Followup.id == followup_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def known_subjects(session: Session, subjects: Collection[str]) -> set[str]:
    if not subjects:
        return set()
    stmt = select(Followup.subject).where(Followup.subject.in_(list(subjects)))
    return set(session.scalars(stmt))


def open_loads(session: Session) -> dict[uuid.UUID, int]:
    """Open follow-ups per assignee."""
    stmt = (
        select(Followup.assignee_id, func.count())
        .where(Followup.state == FollowupState.open, Followup.assignee_id.is_not(None))
        .group_by(Followup.assignee_id)
    )
    return {row[0]: int(row[1]) for row in session.execute(stmt) if row[0] is not None}


def closed_between(
    session: Session, start: datetime, end: datetime, limit: int
) -> list[tuple[Case, datetime]]:
    """Cases closed in [start, end) with the moment of their close, oldest first."""
    stmt = (
        select(Case, CaseEvent.at)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(CaseEvent.kind == Action.close.value, CaseEvent.at >= start, CaseEvent.at < end)
        .order_by(CaseEvent.at, CaseEvent.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]


def roles(session: Session, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Role]:
    """The bound tenant's members' roles, of these users."""
    if not user_ids:
        return {}
    stmt = select(Membership.user_id, Membership.role).where(Membership.user_id.in_(list(user_ids)))
    return {row[0]: Role(row[1]) for row in session.execute(stmt)}


def cases_on_orders(
    session: Session, order_ids: Collection[uuid.UUID], since: datetime, excluding: uuid.UUID
) -> int:
    """How many cases were opened on these orders since ``since`` (``excluding`` one)."""
    if not order_ids:
        return 0
    stmt = select(func.count(Case.id)).where(
        Case.order_id.in_(list(order_ids)), Case.created_at >= since, Case.id != excluding
    )
    return int(session.scalar(stmt) or 0)


def done_between(
    session: Session, start: datetime, end: datetime
) -> list[tuple[Outcome, uuid.UUID, datetime]]:
    """Follow-ups completed in [start, end): (outcome, the order followed, when)."""
    stmt = select(Followup.outcome, Followup.order_id, Followup.done_at).where(
        Followup.state == FollowupState.done, Followup.done_at >= start, Followup.done_at < end
    )
    return [
        (row[0], row[1], row[2])
        for row in session.execute(stmt)
        if row[0] is not None and row[2] is not None
    ]


# --- satisfaction surveys ------------------------------------------------------------------


def survey_of(session: Session, conversation_id: uuid.UUID) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.conversation_id == conversation_id))


def survey(session: Session, survey_id: uuid.UUID, *, lock: bool = False) -> Survey | None:
    stmt = select(Survey).where(Survey.id == survey_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def surveys(agent_id: uuid.UUID | None, answered: bool | None, rating: int | None) -> Select[Any]:
    stmt = select(Survey)
    if agent_id is not None:
        stmt = stmt.where(Survey.agent_id == agent_id)
    if answered is not None:
        stmt = stmt.where(
            Survey.answered_at.is_not(None) if answered else Survey.answered_at.is_(None)
        )
    if rating is not None:
        stmt = stmt.where(Survey.rating == rating)
    return stmt


def surveys_sent_between(session: Session, start: datetime, end: datetime) -> list[Survey]:
    stmt = select(Survey).where(Survey.sent_at >= start, Survey.sent_at < end)
    return list(session.scalars(stmt))


# --- QA scorecards -------------------------------------------------------------------------


def qa_rubrics(session: Session) -> list[QaRubric]:
    return list(session.scalars(select(QaRubric).order_by(QaRubric.name)))


def qa_rubric(session: Session, rubric_id: uuid.UUID) -> QaRubric | None:
    return session.scalar(select(QaRubric).where(QaRubric.id == rubric_id))


def qa_review(session: Session, review_id: uuid.UUID) -> QaReview | None:
    return session.scalar(select(QaReview).where(QaReview.id == review_id))


def qa_reviews(agent_id: uuid.UUID | None, conversation_id: uuid.UUID | None) -> Select[Any]:
    stmt = select(QaReview)
    if agent_id is not None:
        stmt = stmt.where(QaReview.agent_id == agent_id)
    if conversation_id is not None:
        stmt = stmt.where(QaReview.conversation_id == conversation_id)
    return stmt


def reviewed_conversations(session: Session) -> set[uuid.UUID]:
    return set(session.scalars(select(QaReview.conversation_id).distinct()))


def low_ratings(session: Session, at_most: int) -> dict[uuid.UUID, int]:
    stmt = select(Survey.conversation_id, Survey.rating).where(Survey.rating <= at_most)
    return {row.conversation_id: row.rating for row in session.execute(stmt)}


def review_scores(session: Session, start: datetime, end: datetime) -> list[Any]:
    stmt = select(QaReview.agent_id, QaReview.score_bp).where(
        QaReview.created_at >= start, QaReview.created_at < end
    )
    return list(session.execute(stmt))
