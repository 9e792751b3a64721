"""Service quality (稽核) in the console: for supervisors, each merchant's sample of resolved
conversations to review this week; for agents, their own reviews with the supervisors'
comments. Each merchant is read in a unit of work of its own where the user's role there grants
what the list needs; a merchant that cannot be read shows nothing rather than failing the page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import quality
from daiyun.platform.aftersales.schemas import ReviewRead, RubricRead, SampleRow
from daiyun.platform.customer_service import service as cs_service
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
SAMPLE_DAYS, PER_AGENT = 7, 3


@dataclass(frozen=True)
class ToReview:
    tenant: TenantView
    row: SampleRow
    agent: str


@dataclass(frozen=True)
class Reviewed:
    tenant: TenantView
    review: ReviewRead


@dataclass(frozen=True)
class ReviewPage:
    """A conversation to score: its messages and the merchant's active rubrics."""

    subject: str
    messages: list[tuple[str, str]]  # (kind, body), oldest first
    rubrics: list[RubricRead]
    reviewed: bool  # the viewer reviewed it already


def _name(session: Session, user_id: uuid.UUID | None) -> str:
    return cs_service.author(session, user_id).name if user_id is not None else ""


def _sample(session: Session, tenant: TenantView, rows: list[ToReview]) -> bool:
    last = utcnow().astimezone(ZoneInfo(tenant.time_zone)).date()
    first = last - timedelta(days=SAMPLE_DAYS - 1)
    for row in quality.sample(session, first, last, tenant.time_zone, PER_AGENT):
        rows.append(ToReview(tenant, row, _name(session, row.agent_id)))
    return True


def to_review(accesses: list[Access], user_id: uuid.UUID) -> list[ToReview]:
    """The week's sample of every merchant the user supervises, low ratings first."""
    rows: list[ToReview] = []
    for access in with_permission(accesses, P.aftersales_approve):
        with tenant_unit(access.tenant.id, user_id) as session:
            quietly(partial(_sample, session, access.tenant, rows))
            session.rollback()
    return sorted(rows, key=lambda r: (r.row.reason != "low_csat", r.row.resolved_at))


def _mine(session: Session, tenant: TenantView, user_id: uuid.UUID, rows: list[Reviewed]) -> bool:
    found, _ = quality.find_reviews(session, user_id, None, None, 100)
    rows.extend(Reviewed(tenant, ReviewRead.model_validate(r)) for r in found)
    return True


def my_reviews(accesses: list[Access], user_id: uuid.UUID) -> list[Reviewed]:
    """The user's own reviews (as the agent scored) across their merchants, newest first."""
    rows: list[Reviewed] = []
    for access in with_permission(accesses, P.aftersales_manage):
        with tenant_unit(access.tenant.id, user_id) as session:
            quietly(partial(_mine, session, access.tenant, user_id, rows))
            session.rollback()
    return sorted(rows, key=lambda r: r.review.created_at, reverse=True)


def review_page(session: Session, conversation_id: uuid.UUID, viewer: uuid.UUID) -> ReviewPage:
    conv = cs_service.get_conversation(session, conversation_id)
    messages, _ = cs_service.find_messages(session, conv, None, 200)
    mine, _ = quality.find_reviews(session, None, conv.id, None, 50)
    return ReviewPage(
        conv.subject,
        [(m.kind.value, m.body) for m in messages],
        [RubricRead.model_validate(r) for r in quality.rubrics(session) if r.active],
        any(r.reviewer_id == viewer for r in mine),
    )
