"""Recruiting's part of the portal matrix (tests/portal/test_portal_matrix.py): its page rules,
A's seeded requisition with a candidate's application, a valid form for the board's move, A's
applications as state, and putting the application back at its first stage."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.recruiting import service
from daiyun.platform.recruiting.models import Application, ApplicationStatus, EmploymentType
from daiyun.platform.recruiting.schemas import CandidateCreate, RequisitionCreate
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
    return {
        "requisition_id": str(requisition.id),
        "candidate_id": str(candidate.id),
        "application_id": str(application.id),
    }


def form(path: str, places: dict[str, str]) -> dict[str, str] | None:
    if path.endswith("/applications/{application_id}"):
        return {"action": "move", "stage": "screened"}
    return None


def state(tenant_id: uuid.UUID) -> tuple[object, ...]:
    with db.unit_of_work(tenant_id) as session:
        return tuple(
            sorted(
                (str(a.id), a.stage, str(a.status), a.shortlisted)
                for a in session.scalars(select(Application))
            )
        )


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    if "application_id" not in places:
        return
    with db.unit_of_work(tenant_id) as session:
        found = service.get_application(session, uuid.UUID(places["application_id"]))
        found.stage, found.status = "applied", ApplicationStatus.active
