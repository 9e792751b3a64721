"""Service quality reviews (稽核): supervisors score conversations against the merchant's rubric.

* **Rubrics**: criteria with weights; a review scores each criterion 0-5 and its score is the
  weighted mean as a share of the best (all fives is 100 %), kept in basis points. The review
  copies the rubric's criteria, so editing a rubric leaves earlier reviews as they were scored.
* **Who**: supervisors (``aftersales:approve``: account managers, agency admins) write rubrics
  and reviews; agents (``aftersales:manage``) read their own reviews with the comments, never a
  colleague's.
* **The sample** for a period: per agent, a few resolved conversations not yet reviewed, drawn
  by a hash of the conversation's id (the same period draws the same ones, and the draw cannot
  be steered by picking easy conversations), plus every conversation whose buyer rated it 1 or
  2 in the satisfaction survey.

Services flush, audit and never commit.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core import periods
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.pagination import paginate
from daiyun.platform.aftersales import repository
from daiyun.platform.aftersales.models import QaReview, QaRubric
from daiyun.platform.aftersales.schemas import (
    MAX_SCORE,
    QaRow,
    QaSummary,
    ReviewIn,
    RubricIn,
    SampleRow,
)
from daiyun.platform.customer_service import service as cs_service

LOW_RATING = 2  # a survey rated this or lower puts its conversation in the sample


def rubrics(session: Session) -> list[QaRubric]:
    return repository.qa_rubrics(session)


def get_rubric(session: Session, rubric_id: uuid.UUID) -> QaRubric:
    found = repository.qa_rubric(session, rubric_id)
    if found is None:
        raise Problem(404, "not-found", "No such rubric")
    return found


def create_rubric(session: Session, body: RubricIn) -> QaRubric:
    found = QaRubric(**body.model_dump())
    session.add(found)
    cs_service.unique(session, f"The rubric name {body.name}")
    audit.record(session, "aftersales.qa_rubric_created", f"qa_rubric:{found.id}")
    return found


def update_rubric(session: Session, rubric_id: uuid.UUID, body: RubricIn) -> QaRubric:
    """New criteria or name; reviews made under the old criteria keep theirs."""
    found = get_rubric(session, rubric_id)
    data = body.model_dump()
    found.name, found.criteria, found.active = data["name"], data["criteria"], data["active"]
    cs_service.unique(session, f"The rubric name {body.name}")
    audit.record(session, "aftersales.qa_rubric_updated", f"qa_rubric:{found.id}")
    return found


def weighted_bp(criteria: list[dict[str, object]], scores: dict[str, int]) -> int:
    """The weighted mean score as basis points of the best (rounded half-up)."""
    total = sum(int(str(c["weight"])) for c in criteria)
    got = sum(int(str(c["weight"])) * scores[str(c["key"])] for c in criteria)
    # got / (total * MAX_SCORE) of 10,000 bp, rounded half-up in integers.
    return (20_000 * got + total * MAX_SCORE) // (2 * total * MAX_SCORE)


def review(session: Session, body: ReviewIn, reviewer_id: uuid.UUID) -> QaReview:
    """Score a resolved conversation against an active rubric: every criterion, none other."""
    rubric = get_rubric(session, body.rubric_id)
    if not rubric.active:
        raise Problem(409, "rubric-inactive", "This rubric scores no new review")
    conv = cs_service.get_conversation(session, body.conversation_id)
    if conv.resolved_at is None:
        raise Problem(409, "not-resolved", "Only a resolved conversation is reviewed")
    keys = {str(c["key"]) for c in rubric.criteria}
    if set(body.scores) != keys:
        missing, extra = sorted(keys - set(body.scores)), sorted(set(body.scores) - keys)
        raise Problem(
            422,
            "scores-do-not-match",
            f"Score every criterion of the rubric: missing {missing}, not in it {extra}",
        )
    found = QaReview(
        conversation_id=conv.id,
        rubric_id=rubric.id,
        agent_id=conv.assignee_id,
        reviewer_id=reviewer_id,
        criteria=list(rubric.criteria),
        scores=dict(body.scores),
        score_bp=weighted_bp(rubric.criteria, body.scores),
        comment=body.comment,
    )
    session.add(found)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Problem(409, "reviewed", "You reviewed this conversation already") from exc
    audit.record(session, "aftersales.qa_reviewed", f"qa_review:{found.id}")
    return found


def get_review(session: Session, review_id: uuid.UUID, agent_id: uuid.UUID | None) -> QaReview:
    """A review; for an agent (``agent_id`` given) only one of their own."""
    found = repository.qa_review(session, review_id)
    if found is None or (agent_id is not None and found.agent_id != agent_id):
        raise Problem(404, "not-found", "No such review")
    return found


def find_reviews(
    session: Session,
    agent_id: uuid.UUID | None,
    conversation_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[QaReview], str | None]:
    stmt = repository.qa_reviews(agent_id, conversation_id)
    return paginate(session, stmt, QaReview.id, cursor, limit)


def _draw(conversation_id: uuid.UUID, first: date) -> str:
    return hashlib.sha256(f"{first.isoformat()}:{conversation_id}".encode()).hexdigest()


def sample(
    session: Session, first: date, last: date, time_zone: str, per_agent: int
) -> list[SampleRow]:
    """The period's conversations to review: ``per_agent`` drawn per agent among those resolved
    and not reviewed yet, and every one its buyer rated low."""
    start, end = periods.bounds(first, last, time_zone)
    resolved = cs_service.resolved_between(session, start, end)
    # Reviews and low ratings are few beside the conversations: read whole, not by id lists.
    reviewed = repository.reviewed_conversations(session)
    low = repository.low_ratings(session, LOW_RATING)
    rows: list[SampleRow] = []
    drawn: dict[uuid.UUID | None, int] = {}
    waiting = [r for r in resolved if r.id not in reviewed]
    for row in sorted(waiting, key=lambda r: _draw(r.id, first)):
        rating = low.get(row.id)
        if rating is None and drawn.get(row.assignee_id, 0) >= per_agent:
            continue
        if rating is None:
            drawn[row.assignee_id] = drawn.get(row.assignee_id, 0) + 1
        reason = "low_csat" if rating is not None else "sample"
        rows.append(
            SampleRow(
                conversation_id=row.id,
                agent_id=row.assignee_id,
                resolved_at=row.resolved_at,
                reason=reason,
                rating=rating,
            )
        )
    return sorted(rows, key=lambda r: (str(r.agent_id), r.resolved_at))


def summary(session: Session, first: date, last: date, time_zone: str) -> QaSummary:
    """Per agent, the reviews made in the period and their mean score."""
    start, end = periods.bounds(first, last, time_zone)
    by_agent: dict[uuid.UUID | None, list[int]] = {}
    for agent_id, score_bp in repository.review_scores(session, start, end):
        by_agent.setdefault(agent_id, []).append(score_bp)
    rows = [
        # The mean rounded half-up, in integers.
        QaRow(
            agent_id=agent_id,
            reviews=len(scores),
            average_bp=(2 * sum(scores) + len(scores)) // (2 * len(scores)),
        )
        for agent_id, scores in by_agent.items()
    ]
    rows.sort(key=lambda r: (-r.reviews, str(r.agent_id)))
    return QaSummary(first=first, last=last, rows=rows)
