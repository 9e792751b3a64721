"""The service-quality API (稽核): the merchant's rubrics, supervisors' reviews of conversations,
the sample to review and the scores per agent. Supervisors (``aftersales:approve``) write
rubrics and reviews and draw the sample; agents (``aftersales:manage``) read the rubrics and
their own reviews only; the merchant reads the scores per agent (``aftersales:read``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from daiyun.core import periods
from daiyun.core.ids import Day
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.aftersales import quality
from daiyun.platform.aftersales.schemas import (
    QaSummary,
    ReviewIn,
    ReviewRead,
    RubricIn,
    RubricRead,
    SampleRow,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["after-sales"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.aftersales_read))]
Agent = Annotated[TenantAccess, Depends(tenant_access(P.aftersales_manage))]
Supervisor = Annotated[TenantAccess, Depends(tenant_access(P.aftersales_approve))]
QA = "/tenants/{tenant}/qa"


def _own(access: TenantAccess) -> uuid.UUID | None:
    """An agent reads their own reviews only; a supervisor reads every one."""
    return None if access.can(P.aftersales_approve) else access.user.id


@router.get(f"{QA}/rubrics", response_model=list[RubricRead])
def list_rubrics(session: SessionDep, access: Agent) -> list[RubricRead]:
    """The merchant's rubrics, by name (agents read what they are scored on)."""
    return [RubricRead.model_validate(r) for r in quality.rubrics(session)]


@router.post(
    f"{QA}/rubrics", response_model=RubricRead, status_code=201, responses=problems(409, 422)
)
def create_rubric(session: SessionDep, access: Supervisor, body: RubricIn) -> RubricRead:
    """A rubric: criteria with weights (each scored 0-5 in a review); its name is unique."""
    return RubricRead.model_validate(quality.create_rubric(session, body))


@router.put(f"{QA}/rubrics/{{rubric_id}}", response_model=RubricRead, responses=problems(409, 422))
def update_rubric(
    session: SessionDep, access: Supervisor, rubric_id: uuid.UUID, body: RubricIn
) -> RubricRead:
    """New name, criteria or activity; reviews already made keep the criteria they used."""
    return RubricRead.model_validate(quality.update_rubric(session, rubric_id, body))


@router.get(f"{QA}/reviews", response_model=Page[ReviewRead])
def list_reviews(
    session: SessionDep,
    access: Agent,
    agent_id: uuid.UUID | None = None,
    conversation_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ReviewRead]:
    """Reviews, of one agent or conversation if named; an agent's own only, for agents."""
    own = _own(access)
    if own is not None:
        agent_id = own
    rows, next_cursor = quality.find_reviews(session, agent_id, conversation_id, cursor, limit)
    return Page(items=[ReviewRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    f"{QA}/reviews", response_model=ReviewRead, status_code=201, responses=problems(409, 422)
)
def create_review(session: SessionDep, access: Supervisor, body: ReviewIn) -> ReviewRead:
    """Score a resolved conversation: every criterion of an active rubric 0-5, and a comment
    for the agent. One review per conversation and reviewer (409 again)."""
    return ReviewRead.model_validate(quality.review(session, body, access.user.id))


@router.get(f"{QA}/reviews/{{review_id}}", response_model=ReviewRead)
def get_review(session: SessionDep, access: Agent, review_id: uuid.UUID) -> ReviewRead:
    return ReviewRead.model_validate(quality.get_review(session, review_id, _own(access)))


@router.get(f"{QA}/sample", response_model=list[SampleRow], responses=problems(422))
def review_sample(
    session: SessionDep,
    access: Supervisor,
    first: Day | None = None,
    last: Day | None = None,
    per_agent: Annotated[int, Query(ge=1, le=50)] = 3,
) -> list[SampleRow]:
    """What to review from the conversations resolved from ``first`` to ``last`` (the last 7
    days by default): ``per_agent`` drawn per agent among those not reviewed yet, and every one
    its buyer rated 1 or 2."""
    first, last = periods.window(access.tenant.time_zone, 7, first, last)
    return quality.sample(session, first, last, access.tenant.time_zone, per_agent)


@router.get(f"{QA}/summary", response_model=QaSummary, responses=problems(422))
def qa_summary(
    session: SessionDep, access: Reader, first: Day | None = None, last: Day | None = None
) -> QaSummary:
    """Per agent, the reviews made from ``first`` to ``last`` (the 30 days to today by default)
    and their mean score."""
    first, last = periods.window(access.tenant.time_zone, 30, first, last)
    return quality.summary(session, first, last, access.tenant.time_zone)
