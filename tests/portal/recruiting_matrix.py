"""Recruiting's part of the portal matrix (tests/portal/test_portal_matrix.py): its page rules,
A's seeded requisition with a candidate's application and an interview whose panel is everyone
who reviews A's candidates (so each may score it), valid forms, A's applications, interviews
and scorecards as state, and putting them back."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.recruiting import interviews, service
from daiyun.platform.recruiting.models import (
    Application,
    ApplicationStatus,
    EmploymentType,
    Interview,
    Interviewer,
    InterviewKind,
    InterviewStatus,
    Scorecard,
)
from daiyun.platform.recruiting.schemas import CandidateCreate, RequisitionCreate
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role

P = Permission
R = Role
REVIEWERS = frozenset({R.agency_admin, R.recruiter, R.merchant_owner})
RECRUITERS = frozenset({R.agency_admin, R.recruiter})


def rules(rule: Any, tenant: str, staff: str, portal: str) -> dict[tuple[str, str], Any]:
    """The recruiting pages' rules, built with the matrix's own ``Rule`` and access kinds."""
    review = rule(tenant, P.recruiting_review, pinned=REVIEWERS)
    return {
        ("GET", f"{portal}/console/recruiting"): rule(staff),
        ("GET", f"{portal}/t/{{tenant}}/recruiting"): review,
        ("GET", f"{portal}/t/{{tenant}}/requisitions/{{requisition_id}}"): review,
        ("GET", f"{portal}/t/{{tenant}}/candidates/{{candidate_id}}"): review,
        ("POST", f"{portal}/t/{{tenant}}/applications/{{application_id}}"): rule(
            tenant, P.recruiting_manage, staff_only=True, pinned=RECRUITERS, changes=RECRUITERS
        ),
        ("GET", f"{portal}/t/{{tenant}}/interviews"): review,
        ("GET", f"{portal}/t/{{tenant}}/interviews/{{interview_id}}"): review,
        ("POST", f"{portal}/t/{{tenant}}/applications/{{application_id}}/interviews"): rule(
            tenant, P.recruiting_manage, staff_only=True, pinned=RECRUITERS, changes=RECRUITERS
        ),
        ("POST", f"{portal}/t/{{tenant}}/interviews/{{interview_id}}/cancel"): rule(
            tenant, P.recruiting_manage, staff_only=True, pinned=RECRUITERS, changes=RECRUITERS
        ),
        # Everyone who reviews sits on the seeded panel, so each one's card changes A.
        ("POST", f"{portal}/t/{{tenant}}/interviews/{{interview_id}}/scorecard"): rule(
            tenant, P.recruiting_review, pinned=REVIEWERS, changes=REVIEWERS
        ),
    }


def seed(tenant_id: uuid.UUID) -> dict[str, str]:
    with db.unit_of_work(tenant_id) as session:
        requisition = service.create_requisition(
            session,
            RequisitionCreate(
                role="客服",
                pay_min_minor=1,
                pay_max_minor=2,
                location="杭州",
                employment_type=EmploymentType.full_time,
            ),
        )
        candidate = service.create_candidate(
            session, CandidateCreate(name="Matrix", email=f"m-{uuid.uuid4().hex[:8]}@example.com")
        )
        application, _ = service.open_application(session, requisition, candidate, source="t")
        panel = [user_id for user_id, _ in interviews.reviewers(session)]
        interview = Interview(
            application_id=application.id,
            title="Matrix round",
            kind=InterviewKind.video,
            starts_at=datetime(2030, 1, 1, 2, tzinfo=UTC),
            ends_at=datetime(2030, 1, 1, 3, tzinfo=UTC),
        )
        session.add(interview)
        session.flush()
        session.add_all(Interviewer(interview_id=interview.id, user_id=u) for u in panel)
        admin = session.scalar(select(User.id).where(User.role == R.agency_admin).limit(1))
    return {
        "interview_id": str(interview.id),
        "interviewer_id": str(admin),
        "requisition_id": str(requisition.id),
        "candidate_id": str(candidate.id),
        "application_id": str(application.id),
    }


_n = itertools.count()


def form(path: str, places: dict[str, str]) -> dict[str, Any] | None:
    if path.endswith("/applications/{application_id}"):
        return {"action": "move", "stage": "screened"}
    if path.endswith("/applications/{application_id}/interviews"):
        # A new hour each time, with the admin who seeded nothing else that hour.
        starts = datetime(2031, 1, 1, 9) + timedelta(hours=2 * next(_n))
        return {
            "kind": "phone",
            "starts_at": starts.isoformat(timespec="minutes"),
            "minutes": "60",
            "interviewer": places["interviewer_id"],
        }
    if path.endswith("/scorecard"):
        return {"rating-0": "3", "rating-1": "4", "rating-2": "2", "recommendation": "yes"}
    return None


def state(tenant_id: uuid.UUID) -> tuple[object, ...]:
    with db.unit_of_work(tenant_id) as session:
        return (
            tuple(
                sorted(
                    (str(a.id), a.stage, str(a.status), a.shortlisted)
                    for a in session.scalars(select(Application))
                )
            ),
            tuple(
                sorted(
                    (str(i.id), str(i.status), i.sequence)
                    for i in session.scalars(select(Interview))
                )
            ),
            tuple(sorted(str(c.id) for c in session.scalars(select(Scorecard)))),
        )


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    if "application_id" not in places:
        return
    if path.endswith("/cancel"):
        with db.unit_of_work(tenant_id) as session:
            found = interviews.get(session, uuid.UUID(places["interview_id"]))
            found.status = InterviewStatus.scheduled
    with db.unit_of_work(tenant_id) as session:
        found = service.get_application(session, uuid.UUID(places["application_id"]))
        found.stage, found.status = "applied", ApplicationStatus.active
