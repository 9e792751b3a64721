"""The recruiting report against figures worked out by hand: time to fill and to hire, the
stage funnel with refusals and the share going on, sources and offer acceptance, each counted
in the merchant's days (Shanghai) and only for the period asked."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.recruiting import service
from daiyun.platform.recruiting.models import (
    ApplicationStatus,
    MoveKind,
    Offer,
    OfferStatus,
    StageMove,
)
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.tenants.auth.permissions import Role
from tests.platform.recruiting.conftest import Hiring

API = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 0, 30, tzinfo=SHANGHAI)  # just after midnight there


def _application(
    session: Session, hiring: Hiring, source: str, applied: datetime, stage: str, status: str
) -> uuid.UUID:
    requisition = service.get_requisition(session, hiring.requisition_id)
    person = service.create_candidate(
        session, CandidateCreate(name="Report", email=f"{uuid.uuid4().hex[:8]}@example.com")
    )
    found, _ = service.open_application(session, requisition, person, source=source)
    found.applied_at, found.stage, found.status = applied, stage, ApplicationStatus(status)
    return found.id


def test_the_report_matches_figures_worked_out_by_hand(hiring: Hiring) -> None:
    with db.unit_of_work(hiring.tenant.id) as session:
        requisition = service.get_requisition(session, hiring.requisition_id)
        # Approved on 1 November, filled on the 21st: 20 days to fill.
        requisition.approved_at, requisition.filled_at = _at(11, 1), _at(11, 21)
        hired_1 = _application(session, hiring, "careers", _at(11, 2), "hired", "hired")
        hired_2 = _application(session, hiring, "referral", _at(11, 3), "hired", "hired")
        _application(session, hiring, "careers", _at(11, 4), "interview", "refused")
        _application(session, hiring, "careers", _at(11, 5), "applied", "active")
        # Applied in October (outside the funnel), hired in November.
        hired_3 = _application(session, hiring, "careers", _at(10, 20), "hired", "hired")
        for application_id, hired in ((hired_1, _at(11, 12)), (hired_2, _at(11, 7))):
            session.add(
                StageMove(
                    application_id=application_id,
                    kind=MoveKind.moved,
                    from_stage="offer",
                    to_stage="hired",
                    at=hired,
                )
            )
        session.add(
            StageMove(application_id=hired_3, kind=MoveKind.moved, to_stage="hired", at=_at(11, 20))
        )
        # A move back to an earlier stage is no hire.
        session.add(
            StageMove(application_id=hired_1, kind=MoveKind.moved, to_stage="offer", at=_at(11, 9))
        )
        for application_id, status, answered in (
            (hired_1, OfferStatus.accepted, _at(11, 10)),
            (hired_2, OfferStatus.declined, _at(11, 15)),
            (hired_3, OfferStatus.accepted, _at(10, 30)),  # answered before the period
        ):
            session.add(
                Offer(
                    application_id=application_id,
                    status=status,
                    salary_minor=700_000,
                    currency="CNY",
                    starts_on=_at(12, 1).date(),
                    responded_at=answered,
                )
            )
    owner = hiring.world.actor(Role.merchant_owner, hiring.tenant)
    url = f"{API}/tenants/{hiring.tenant.slug}/recruiting-reports"
    answer = hiring.world.client.get(
        url, headers=owner.headers, params={"first": "2026-11-01", "last": "2026-11-30"}
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["time_to_fill"] == {"count": 1, "median_days": 20.0, "mean_days": 20.0}
    # 10, 4 and 31 days from applying to the hire.
    assert report["time_to_hire"] == {"count": 3, "median_days": 10.0, "mean_days": 15.0}
    assert report["applications"] == 4
    assert [(r["stage"], r["reached"], r["refused"], r["to_next"]) for r in report["funnel"]] == [
        ("applied", 4, 0, 0.75),
        ("screened", 3, 0, 1.0),
        ("interview", 3, 1, 0.6667),
        ("offer", 2, 0, 1.0),
        ("hired", 2, 0, None),
    ]
    assert report["sources"] == [
        {"source": "careers", "applications": 3, "hired": 1, "hire_rate": 0.3333},
        {"source": "referral", "applications": 1, "hired": 1, "hire_rate": 1.0},
    ]
    assert report["offers"] == {"accepted": 1, "declined": 1, "acceptance_rate": 0.5}

    backwards = hiring.world.client.get(
        url, headers=owner.headers, params={"first": "2026-11-30", "last": "2026-11-01"}
    )
    assert backwards.status_code == 422 and backwards.json()["type"].endswith("bad-period")
    viewer = hiring.world.actor(Role.merchant_viewer, hiring.tenant)
    assert hiring.world.client.get(url, headers=viewer.headers).status_code == 403
