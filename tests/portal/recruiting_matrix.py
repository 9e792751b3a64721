"""Recruiting's part of the portal matrix (tests/portal/test_portal_matrix.py): its page rules,
A's seeded requisition with a candidate's application and an interview whose panel is everyone
who reviews A's candidates (so each may score it), valid forms, A's applications, interviews
and scorecards as state, and putting them back."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.recruiting import interviews, service, teams
from daiyun.platform.recruiting.models import (
    Application,
    ApplicationStatus,
    EmploymentType,
    Interview,
    Interviewer,
    InterviewKind,
    InterviewStatus,
    Offer,
    OfferStatus,
    Placement,
    Requisition,
    Scorecard,
    Shift,
    ShiftWorker,
    Team,
    TeamMember,
)
from daiyun.platform.recruiting.schemas import CandidateCreate, RequisitionCreate
from daiyun.platform.recruiting.team_schemas import ShiftCreate, TeamCreate
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
        ("POST", f"{portal}/t/{{tenant}}/applications/{{application_id}}/offers"): rule(
            tenant, P.recruiting_manage, staff_only=True, pinned=RECRUITERS, changes=RECRUITERS
        ),
        # The merchant approves; recruiters record the rest (the form sends the approved offer).
        ("POST", f"{portal}/t/{{tenant}}/offers/{{offer_id}}/approve"): rule(
            tenant, P.recruiting_review, pinned=REVIEWERS, changes=REVIEWERS
        ),
        ("POST", f"{portal}/t/{{tenant}}/offers/{{offer_id}}"): rule(
            tenant, P.recruiting_manage, staff_only=True, pinned=RECRUITERS, changes=RECRUITERS
        ),
        ("POST", f"{portal}/t/{{tenant}}/placements"): rule(
            tenant, P.recruiting_manage, staff_only=True, pinned=RECRUITERS, changes=RECRUITERS
        ),
        ("POST", f"{portal}/t/{{tenant}}/placements/{{placement_id}}/leave"): rule(
            tenant, P.recruiting_manage, staff_only=True, pinned=RECRUITERS, changes=RECRUITERS
        ),
        ("GET", f"{portal}/t/{{tenant}}/teams/{{team_id}}"): review,
        ("GET", f"{portal}/t/{{tenant}}/teams/{{team_id}}/attendance.csv"): review,
        **{
            ("POST", f"{portal}/t/{{tenant}}{form}"): rule(
                tenant, P.recruiting_manage, staff_only=True, pinned=RECRUITERS, changes=RECRUITERS
            )
            for form in (
                "/teams",
                "/teams/{team_id}/members",
                "/teams/{team_id}/shifts",
                "/shifts/{shift_id}/attendance",
            )
        },
    }


def _hire(session: Any, requisition: Requisition) -> Application:
    """A candidate hired on the requisition, no placement of them made yet."""
    candidate = service.create_candidate(
        session, CandidateCreate(name="Hired", email=f"h-{uuid.uuid4().hex[:8]}@example.com")
    )
    application, _ = service.open_application(session, requisition, candidate, source="t")
    application.stage, application.status = "hired", ApplicationStatus.hired
    session.flush()
    return application


def _team(session: Any, placement_id: uuid.UUID) -> tuple[Team, Shift]:
    """A 双11 team of the hire, with a past shift they are on."""
    team = teams.create(
        session,
        TeamCreate(name="双11", starts_on=date(2026, 1, 5), ends_on=date(2026, 12, 31)),
        None,
    )
    teams.join(session, team, placement_id, "拣货")
    body = {"name": "白班", "first_day": "2026-02-01", "starts": "08:00", "ends": "17:00"}
    [made], _ = teams.add_shifts(
        session, team, ShiftCreate.model_validate({**body, "placement_ids": [placement_id]})
    )
    return team, teams.get_shift(session, made.id)


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
        offer = Offer(
            application_id=application.id,
            salary_minor=800_000,
            currency="CNY",
            starts_on=date(2030, 2, 1),
        )
        session.add(offer)
        placement = Placement(
            application_id=_hire(session, requisition).id,
            requisition_id=requisition.id,
            starts_on=date(2026, 1, 5),
            salary_minor=9_600_000,
            currency="CNY",
        )
        session.add(placement)
        session.flush()
        team, shift = _team(session, placement.id)
        placeable = _hire(session, requisition)
    return {
        "team_id": str(team.id),
        "shift_id": str(shift.id),
        "placement_id": str(placement.id),
        "placeable_application_id": str(placeable.id),
        "interview_id": str(interview.id),
        "interviewer_id": str(admin),
        "offer_id": str(offer.id),
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
    if path.endswith("/applications/{application_id}/offers"):
        return {"amount": f"{8000 + next(_n)}.50", "currency": "CNY", "starts_on": "2030-03-01"}
    if path.endswith("/offers/{offer_id}"):
        return {"action": "send"}
    if path.endswith("/placements"):
        return {
            "application_id": places["placeable_application_id"],
            "salary": f"{96000 + next(_n)}.00",
            "currency": "CNY",
            "starts_on": "2026-02-01",
        }
    if path.endswith("/leave"):
        return {"left_on": "2026-03-01", "reason": "moved away"}
    if path.endswith("/teams"):
        return {"name": f"Team {next(_n)}", "starts_on": "2026-11-01", "ends_on": "2026-11-12"}
    if path.endswith("/members"):
        return {"placement_id": places["placement_id"], "job": f"Job {next(_n)}"}
    if path.endswith("/shifts"):
        return {
            "name": f"Shift {next(_n)}",
            "first_day": "2026-03-01",
            "starts": "06:00",
            "ends": "07:00",
        }
    if path.endswith("/attendance"):
        hire = places["placement_id"]
        return {f"status-{hire}": "present", f"note-{hire}": f"Note {next(_n)}"}
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
            tuple(sorted((str(o.id), str(o.status)) for o in session.scalars(select(Offer)))),
            tuple(sorted((str(p.id), p.left_on) for p in session.scalars(select(Placement)))),
            tuple(sorted(str(t.id) for t in session.scalars(select(Team)))),
            tuple(sorted((str(m.id), m.job) for m in session.scalars(select(TeamMember)))),
            tuple(sorted(str(s.id) for s in session.scalars(select(Shift)))),
            tuple(
                sorted((str(w.id), w.status, w.note) for w in session.scalars(select(ShiftWorker)))
            ),
        )


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    if "application_id" not in places:
        return
    # Where the next caller of an offer's form starts: a draft to approve, an approved offer
    # to send, no standing offer before a new one.
    offer_status = {
        "/approve": OfferStatus.draft,
        "/offers/{offer_id}": OfferStatus.approved,
        "/applications/{application_id}/offers": OfferStatus.declined,
    }
    for ending, status in offer_status.items():
        if path.endswith(ending):
            with db.unit_of_work(tenant_id) as session:
                for found in session.scalars(select(Offer)):
                    found.status = status
    if path.endswith("/placements"):
        with db.unit_of_work(tenant_id) as session:
            requisition = service.get_requisition(session, uuid.UUID(places["requisition_id"]))
            places["placeable_application_id"] = str(_hire(session, requisition).id)
    if path.endswith("/leave"):
        with db.unit_of_work(tenant_id) as session:
            for left in session.scalars(select(Placement)):
                left.left_on = None
    if path.endswith("/cancel"):
        with db.unit_of_work(tenant_id) as session:
            found = interviews.get(session, uuid.UUID(places["interview_id"]))
            found.status = InterviewStatus.scheduled
    with db.unit_of_work(tenant_id) as session:
        found = service.get_application(session, uuid.UUID(places["application_id"]))
        found.stage, found.status = "applied", ApplicationStatus.active
