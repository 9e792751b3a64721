"""Recruiting's part of the isolation tests (the interface is described at the top of
tests/platform/warehouse/isolation.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.recruiting import repository, service
from daiyun.platform.recruiting import rules as rc_rules
from daiyun.platform.recruiting.models import (
    Application,
    ApplicationStatus,
    ApplyAttempt,
    BusySlot,
    Candidate,
    CandidateFile,
    EmploymentType,
    Interview,
    Interviewer,
    InterviewKind,
    InterviewStatus,
    Offer,
    OfferStatus,
    Placement,
    Posting,
    Recommendation,
    Requisition,
    RequisitionStatus,
    Scorecard,
    Settings,
    StageMove,
)
from daiyun.platform.recruiting.schemas import (
    CandidateCreate,
    PostingCreate,
    RequisitionCreate,
    SettingsIn,
)
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role, allows
from daiyun.tenants.models import Membership
from tests.authz import Route, TenantRule, columns_of, rows_of, rules

P = Permission
R = Role
REVIEWERS = frozenset({R.agency_admin, R.recruiter, R.merchant_owner})
RECRUITERS = frozenset({R.agency_admin, R.recruiter})
REVIEW = TenantRule(P.recruiting_review, REVIEWERS)
MANAGE = TenantRule(P.recruiting_manage, RECRUITERS)
APP = "/applications/{application_id}"
INTERVIEW = "/interviews/{interview_id}"
OFFER = "/offers/{offer_id}"
PLACEMENT = "/placements/{placement_id}"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

TENANT_TABLES = (
    Settings,
    Requisition,
    Posting,
    Candidate,
    Application,
    StageMove,
    CandidateFile,
    Interview,
    Interviewer,
    Scorecard,
    Offer,
    Placement,
)

TENANT_RULES = (
    rules(
        (
            ("GET", "/recruiting-settings"),
            ("PUT", "/recruiting-settings"),
            ("GET", "/requisitions"),
            ("POST", "/requisitions"),
            ("GET", "/requisitions/{requisition_id}"),
            ("PATCH", "/requisitions/{requisition_id}"),
            ("POST", "/requisitions/{requisition_id}/status"),
            ("GET", "/postings"),
            ("POST", "/postings"),
            ("PATCH", "/postings/{posting_id}"),
            ("GET", "/candidates"),
            ("POST", "/candidates"),
            ("GET", "/candidates/duplicates"),
            ("GET", "/candidates/{candidate_id}"),
            ("POST", "/candidates/{candidate_id}/merge"),
            ("GET", "/applications"),
            ("POST", "/applications"),
            ("POST", "/applications-bulk"),
            ("GET", APP),
            ("GET", f"{APP}/moves"),
            ("GET", f"{APP}/cv"),
            ("POST", f"{APP}/move"),
            ("POST", f"{APP}/refuse"),
            ("POST", f"{APP}/reopen"),
            ("GET", f"{APP}/interviews"),
            ("POST", f"{APP}/interviews"),
            ("GET", f"{APP}/scorecards"),
            ("GET", "/interviews"),
            ("GET", f"{INTERVIEW}/invitation.ics"),
            ("GET", INTERVIEW),
            ("PATCH", INTERVIEW),
            ("POST", f"{INTERVIEW}/cancel"),
            ("GET", f"{INTERVIEW}/scorecards"),
            ("GET", f"{APP}/offers"),
            ("POST", f"{APP}/offers"),
            ("GET", "/offers"),
            ("GET", OFFER),
            ("PATCH", OFFER),
            ("POST", f"{OFFER}/send"),
            ("POST", f"{OFFER}/accept"),
            ("POST", f"{OFFER}/decline"),
            ("GET", "/recruiting-reports"),
            ("GET", "/placements"),
            ("POST", "/placements"),
            ("GET", PLACEMENT),
            ("POST", f"{PLACEMENT}/leave"),
        ),
        read=REVIEW,
        write=MANAGE,
    )
    | rules(
        # The merchant's shortlist is the reviewing side's own write, and so is a scorecard (the
        # seeded interview's panel holds every user who may review A's candidates).
        # The merchant approves offers.
        (
            ("PUT", f"{APP}/shortlist"),
            ("POST", f"{INTERVIEW}/scorecards"),
            ("POST", f"{OFFER}/approve"),
        ),
        read=REVIEW,
        write=REVIEW,
    )
    | rules(
        # A candidate's data on request is the recruiters' to hand over or erase, never reviewers'.
        (
            ("GET", "/candidates/{candidate_id}/export"),
            ("POST", "/candidates/{candidate_id}/erase"),
        ),
        read=MANAGE,
        write=MANAGE,
    )
)
OTHER_RULES: dict[Route, str | Permission] = {}


def _requisition(session: Session, role: str = "客服专员") -> Requisition:
    found = service.create_requisition(
        session,
        RequisitionCreate(
            role=role,
            pay_min_minor=500000,
            pay_max_minor=700000,
            location="杭州",
            employment_type=EmploymentType.full_time,
        ),
    )
    return service.set_status(session, found, RequisitionStatus.open)


def _spare(session: Session) -> Candidate:
    return service.create_candidate(
        session,
        CandidateCreate(name="Spare", email=f"spare-{uuid.uuid4().hex[:10]}@example.com"),
    )


def _reviewers(session: Session) -> list[uuid.UUID]:
    """Every user who may review the tenant's candidates: its members whose role reviews, and
    the agency admins."""
    members = session.execute(select(Membership.user_id, Membership.role))
    ids = {u for u, role in members if allows(role, P.recruiting_review)}
    ids |= set(session.scalars(select(User.id).where(User.role == R.agency_admin)))
    return sorted(ids)


def _admin(session: Session) -> uuid.UUID:
    found = session.scalar(select(User.id).where(User.role == R.agency_admin).limit(1))
    assert found is not None
    return found


def _interview(
    session: Session, application_id: uuid.UUID, panel: list[uuid.UUID] | None = None
) -> Interview:
    """An interview far ahead whose panel is everyone who reviews, so each may score it."""
    found = Interview(
        application_id=application_id,
        title="Matrix round",
        kind=InterviewKind.video,
        starts_at=datetime(2030, 1, 1, 2, tzinfo=UTC),
        ends_at=datetime(2030, 1, 1, 3, tzinfo=UTC),
        location="https://meet.example.com/matrix",
    )
    session.add(found)
    session.flush()
    who = _reviewers(session) if panel is None else panel
    session.add_all(Interviewer(interview_id=found.id, user_id=u) for u in who)
    session.flush()
    return found


def _offer(session: Session, application_id: uuid.UUID) -> Offer:
    found = Offer(
        application_id=application_id,
        salary_minor=800_000,
        currency="CNY",
        starts_on=date(2030, 2, 1),
    )
    session.add(found)
    session.flush()
    return found


def _hire(session: Session, requisition: Requisition) -> Application:
    """A candidate hired on the requisition (no placement of them made yet)."""
    application, _ = service.open_application(session, requisition, _spare(session), source="t")
    application.stage, application.status = "hired", ApplicationStatus.hired
    session.flush()
    return application


def _placement(session: Session, application: Application) -> Placement:
    found = Placement(
        application_id=application.id,
        requisition_id=application.requisition_id,
        starts_on=date(2026, 1, 5),
        salary_minor=9_600_000,
        currency="CNY",
    )
    session.add(found)
    session.flush()
    return found


# The status each offer step needs before a caller tries it.
OFFER_BEFORE = {
    "/approve": OfferStatus.draft,
    "/send": OfferStatus.approved,
    "/accept": OfferStatus.sent,
    "/decline": OfferStatus.sent,
}


def prepare(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """Before each caller of an offer's step: the offer where that step starts (and the
    application active, for the hire); before a new offer, none standing."""
    if not (path.startswith(OFFER) or path == f"{APP}/offers"):
        return
    with db.unit_of_work(tenant_id) as session:
        application = service.get_application(session, uuid.UUID(places["application_id"]))
        application.stage, application.status = "offer", ApplicationStatus.active
        for found in session.scalars(select(Offer)):
            if path == f"{APP}/offers":
                found.status = OfferStatus.declined
            elif found.id == uuid.UUID(places["offer_id"]):
                found.status = next(
                    (v for k, v in OFFER_BEFORE.items() if path.endswith(k)), OfferStatus.draft
                )


def _slot(year: int, n: int) -> dict[str, str]:
    # A new hour for each call, so no caller's interview clashes with another's.
    starts = datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=2 * n)
    return {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
    }


def _cv(application_id: uuid.UUID) -> CandidateFile:
    return CandidateFile(
        application_id=application_id,
        filename="cv.pdf",
        content_type="application/pdf",
        size=len(PDF),
        sha256="0" * 64,
        data=PDF,
    )


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    """An open requisition with a published posting; a candidate who applied with a CV, another
    to merge into, and a spare to put on the pipeline."""
    tag = uuid.uuid4().hex[:8]
    with db.unit_of_work(tenant_id) as session:
        requisition = _requisition(session)
        posting = service.create_posting(
            session, PostingCreate(requisition_id=requisition.id, title="客服", publish=True)
        )
        first = service.create_candidate(
            session, CandidateCreate(name="王芳", email=f"wang-{tag}@example.com")
        )
        other = service.create_candidate(
            session, CandidateCreate(name="Wang Fang", email=f"fang-{tag}@example.com")
        )
        application, _ = service.open_application(
            session, requisition, first, source="careers", posting_id=posting.id
        )
        session.add(_cv(application.id))
        spare = _spare(session)
        interview = _interview(session, application.id)
        offer = _offer(session, application.id)
        placement = _placement(session, _hire(session, requisition))
        placeable = _hire(session, requisition)
    return {
        "placement_id": str(placement.id),
        "placeable_application_id": str(placeable.id),
        "interview_id": str(interview.id),
        "offer_id": str(offer.id),
        "interviewer_id": str(_admin(session)),
        "requisition_id": str(requisition.id),
        "posting_id": str(posting.id),
        "candidate_id": str(first.id),
        "candidate_email": first.email or "",
        "other_candidate_id": str(other.id),
        "spare_candidate_id": str(spare.id),
        "application_id": str(application.id),
    }


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    """A valid body for a recruiting write on a tenant, new values each call."""
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("PUT", "/recruiting-settings"): {
            "stages": ["applied", f"round-{n}", "hired"],
            "retention_days": 100 + n % 3000,  # n counts every write of the matrix
        },
        ("POST", "/requisitions"): {
            "role": f"Role {n}",
            "pay_min_minor": 100 * n,
            "pay_max_minor": 200 * n,
            "location": "上海",
            "employment_type": "full_time",
        },
        ("PATCH", "/requisitions/{requisition_id}"): {"location": f"Ningbo {n}"},
        ("POST", "/requisitions/{requisition_id}/status"): {"status": "on_hold"},
        ("POST", "/postings"): {"requisition_id": places["requisition_id"], "title": f"P{n}"},
        ("PATCH", "/postings/{posting_id}"): {"title": f"Posting {n}"},
        ("POST", "/candidates"): {"name": f"C {n}", "email": f"matrix-{n}@example.com"},
        ("POST", "/candidates/{candidate_id}/merge"): {"into_id": places["other_candidate_id"]},
        ("POST", "/candidates/{candidate_id}/erase"): {"reason": f"asked ({n})"},
        ("POST", "/applications"): {
            "requisition_id": places["requisition_id"],
            "candidate_id": places["spare_candidate_id"],
        },
        ("POST", "/applications-bulk"): {
            "application_ids": [places["application_id"]],
            "stage": "screened",
        },
        ("POST", f"{APP}/move"): {"stage": "interview"},
        ("POST", f"{APP}/refuse"): {"reason": "not_qualified", "message": f"Sorry {n}"},
        ("PUT", f"{APP}/shortlist"): {"shortlisted": True},
        ("POST", f"{APP}/interviews"): {
            "kind": "phone",
            "location": f"+86 138 0000 {n:04d}",
            "interviewer_ids": [places["interviewer_id"]],
            **_slot(2031, n),
        },
        ("PATCH", INTERVIEW): _slot(2032, n),
        ("POST", f"{APP}/offers"): {"salary_minor": 700_000 + n, "starts_on": "2030-03-01"},
        ("PATCH", OFFER): {"salary_minor": 900_000 + n},
        ("POST", f"{OFFER}/decline"): {"reason": f"Declined {n}"},
        ("POST", "/placements"): {
            "application_id": places["placeable_application_id"],
            "salary_minor": 9_000_000 + n,
            "starts_on": "2026-02-01",
        },
        ("POST", f"{PLACEMENT}/leave"): {"left_on": "2026-03-01", "reason": f"Left {n}"},
        ("POST", f"{INTERVIEW}/scorecards"): {
            "ratings": {"沟通": 1 + n % 4},
            "recommendation": "yes",
            "notes": f"Card {n}",
        },
    }
    if (method, path) in bodies:
        return {"json": bodies[(method, path)]}
    if (method, path) in (("POST", f"{APP}/reopen"), ("POST", f"{INTERVIEW}/cancel")):
        return {}
    if method == "POST" and path.startswith(OFFER):
        return {}
    return None


def _unerase(session: Session, places: dict[str, str]) -> None:
    """The seeded candidate as it was before an erasure: their details and their CV."""
    found = service.get_candidate(session, uuid.UUID(places["candidate_id"]))
    found.name, found.email, found.erased_at = "王芳", places["candidate_email"], None
    found.email_key = rc_rules.email_key(found.email)
    application_id = uuid.UUID(places["application_id"])
    if repository.file(session, application_id) is None:
        session.add(_cv(application_id))


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """After each caller: the requisition open, the application active at its first stage (or
    refused, for the reopen), off the shortlist; the merged candidate apart again; a fresh
    spare candidate for the next application."""
    application_id = uuid.UUID(places["application_id"])
    with db.unit_of_work(tenant_id) as session:
        if path.startswith("/requisitions/{requisition_id}"):
            found = service.get_requisition(session, uuid.UUID(places["requisition_id"]))
            found.status = RequisitionStatus.open
        if path.startswith(APP) or path == "/applications-bulk":
            application = service.get_application(session, application_id)
            application.stage, application.shortlisted = "applied", False
            refused = path.endswith("/reopen")
            application.status = ApplicationStatus.refused if refused else ApplicationStatus.active
        if path.endswith("/erase"):
            _unerase(session, places)
        if path.endswith("/merge"):
            source = service.get_candidate(session, uuid.UUID(places["candidate_id"]))
            source.merged_into_id = None
            application = service.get_application(session, application_id)
            application.candidate_id = source.id
        if path == "/applications":
            places["spare_candidate_id"] = str(_spare(session).id)
        if path.startswith(OFFER):
            application = service.get_application(session, application_id)
            application.stage, application.status = "applied", ApplicationStatus.active
        if path == "/placements":
            requisition = service.get_requisition(session, uuid.UUID(places["requisition_id"]))
            places["placeable_application_id"] = str(_hire(session, requisition).id)
        if path.startswith(PLACEMENT):
            placement = repository.placement(session, uuid.UUID(places["placement_id"]))
            assert placement is not None
            placement.left_on, placement.left_reason = None, ""
        if path.startswith(INTERVIEW):
            found = session.get(Interview, (tenant_id, uuid.UUID(places["interview_id"])))
            assert found is not None
            found.status = InterviewStatus.scheduled


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    return rows_of(session, TENANT_TABLES)


def platform_state(session: Session) -> list[str]:
    """The careers form's attempts (no API route writes them) and the panels' busy slots."""
    rows = [*session.scalars(select(ApplyAttempt)), *session.scalars(select(BusySlot))]
    return sorted(str(tuple(columns_of(row).items())) for row in rows)


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    return None


BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    Settings: ("retention_days", 99),
    Requisition: ("location", "tests-bulk"),
    Posting: ("title", "tests-bulk"),
    Candidate: ("name", "tests-bulk"),
    Application: ("note", "tests-bulk"),
    StageMove: ("message", "tests-bulk"),  # append-only: refused, still scoped
    CandidateFile: ("filename", "tests-bulk"),
    Interview: ("location", "tests-bulk"),
    Interviewer: ("updated_at", datetime(2030, 1, 1, tzinfo=UTC)),
    Scorecard: ("notes", "tests-bulk"),
    Offer: ("terms", "tests-bulk"),
    Placement: ("left_reason", "tests-bulk"),
}
APPEND_ONLY: frozenset[type[Any]] = frozenset({StageMove})


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    """A row of every recruiting tenant table."""
    with db.unit_of_work(tenant_id) as session:
        service.put_settings(session, SettingsIn(stages=["applied", "screened", "hired"]))
        requisition = _requisition(session, "Guard")
        posting = service.create_posting(
            session, PostingCreate(requisition_id=requisition.id, title="Guard", publish=True)
        )
        candidate = _spare(session)
        application, _ = service.open_application(
            session, requisition, candidate, source="careers", posting_id=posting.id
        )
        service.move(session, application, "screened", None)
        session.add(
            CandidateFile(
                application_id=application.id,
                filename="g.pdf",
                content_type="application/pdf",
                size=len(PDF),
                sha256="0" * 64,
                data=PDF,
            )
        )
        session.flush()
        # Any user will do for the guard's rows (its seed may hold no agency admin).
        someone = session.scalar(select(User.id).order_by(User.id).limit(1))
        assert someone is not None
        interview = _interview(session, application.id, [someone])
        session.add(
            Scorecard(
                interview_id=interview.id,
                application_id=application.id,
                interviewer_id=someone,
                ratings={"沟通": 3},
                recommendation=Recommendation.yes,
            )
        )
        _offer(session, application.id)
        _placement(session, _hire(session, requisition))
        return {
            model: set(session.scalars(select(model.id).where(model.tenant_id == tenant_id)))
            for model in TENANT_TABLES
        }
