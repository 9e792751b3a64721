"""Recruiting's service: one candidate per person (e-mail case and Gmail dots, phones in any
spelling), likely duplicates flagged and merged only by hand, requisitions' approval clock,
customized pipelines, the stage log that is never edited, and bulk moves all or none."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.platform.recruiting import service
from daiyun.platform.recruiting.models import (
    ApplicationStatus,
    MoveKind,
    RefusalReason,
    RequisitionStatus,
    StageMove,
)
from daiyun.platform.recruiting.schemas import (
    Bulk,
    CandidateCreate,
    RequisitionCreate,
    SettingsIn,
)
from tests.platform.recruiting.conftest import Hiring, open_requisition


def _candidate(hiring: Hiring, email: str | None = None, phone: str | None = None) -> uuid.UUID:
    with db.unit_of_work(hiring.tenant.id) as session:
        found = service.create_candidate(
            session, CandidateCreate(name="王芳", email=email, phone=phone)
        )
        return found.id


def _apply(
    hiring: Hiring, candidate_id: uuid.UUID, requisition_id: uuid.UUID | None = None
) -> uuid.UUID:
    with db.unit_of_work(hiring.tenant.id) as session:
        requisition = service.get_requisition(session, requisition_id or hiring.requisition_id)
        found, _ = service.open_application(
            session, requisition, service.get_candidate(session, candidate_id), source="test"
        )
        return found.id


def test_one_candidate_per_person_whatever_the_spelling(hiring: Hiring) -> None:
    first = _candidate(hiring, "Wang.Fang@Gmail.com", "138 0013 8000")
    assert _candidate(hiring, "wangfang@gmail.com") == first
    assert _candidate(hiring, "WANG.FANG+jobs@googlemail.com") == first
    assert _candidate(hiring, phone="+86 138-0013-8000") == first
    assert _candidate(hiring, phone="(+86)13800138000") == first
    # Through the careers form too.
    assert hiring.apply(email="w.a.n.g.f.a.n.g@gmail.com").status_code == 200
    with db.unit_of_work(hiring.tenant.id) as session:
        found, _ = service.find_candidates(session, None, None, 50)
    assert [c.id for c in found] == [first]


def test_a_shared_phone_with_another_email_is_flagged_never_merged(hiring: Hiring) -> None:
    first = _candidate(hiring, "mother@example.com", "13800138000")
    second = _candidate(hiring, "daughter@example.com", "+86 138 0013 8000")
    assert second != first
    with db.unit_of_work(hiring.tenant.id) as session:
        flagged, _ = service.find_duplicates(session, None, 50)
    assert [(c.id, c.duplicate_of_id, c.duplicate_reason) for c in flagged] == [
        (second, first, "same-phone")
    ]


def test_merge_moves_applications_and_logs_it(hiring: Hiring) -> None:
    first = _candidate(hiring, "a@example.com", "13800138000")
    second = _candidate(hiring, "b@example.com", "13800138000")
    application = _apply(hiring, second)
    with db.unit_of_work(hiring.tenant.id) as session:
        survivor = service.merge(session, second, first, None)
        assert survivor.id == first
    with db.unit_of_work(hiring.tenant.id) as session:
        assert service.get_application(session, application).candidate_id == first
        assert service.get_candidate(session, second).merged_into_id == first
        kinds = [m.kind for m in service.stage_log(session, [application])]
        flagged, _ = service.find_duplicates(session, None, 50)
        assert flagged == []
        with pytest.raises(Problem) as again:
            service.merge(session, second, first, None)
    assert kinds == [MoveKind.applied, MoveKind.merged]
    assert again.value.status == 409
    # A merged candidate is no one's match any more: the survivor is.
    assert _candidate(hiring, "b@example.com") == first


def test_approval_starts_the_time_to_fill_clock_and_final_states_stay(hiring: Hiring) -> None:
    with db.unit_of_work(hiring.tenant.id) as session:
        found = service.create_requisition(
            session,
            RequisitionCreate(
                role="双11 仓库临时工",
                headcount=20,
                pay_min_minor=2500,
                pay_max_minor=3000,
                pay_period="hour",
                location="嘉兴",
                employment_type="seasonal",
                season_starts_on="2026-11-01",
                season_ends_on="2026-11-15",
            ),
        )
        assert found.status == RequisitionStatus.pending_approval and found.approved_at is None
        service.set_status(session, found, RequisitionStatus.open)
        assert found.approved_at is not None
        service.set_status(session, found, RequisitionStatus.filled)
        with pytest.raises(Problem) as refused:
            service.set_status(session, found, RequisitionStatus.open)
    assert refused.value.status == 409


def test_a_customized_pipeline_is_copied_to_new_requisitions(hiring: Hiring) -> None:
    stages = ["applied", "phone-screen", "trial-day", "interview", "hired"]
    with db.unit_of_work(hiring.tenant.id) as session:
        service.put_settings(session, SettingsIn(stages=stages, retention_days=180))
    requisition, _ = open_requisition(hiring.tenant, "美工")
    application = _apply(hiring, _candidate(hiring, "c@example.com"), requisition)
    with db.unit_of_work(hiring.tenant.id) as session:
        assert service.get_requisition(session, requisition).stages == stages
        # The requisition made before keeps the pipeline it was made with.
        assert service.get_requisition(session, hiring.requisition_id).stages[1] == "screened"
        found = service.get_application(session, application)
        service.move(session, found, "trial-day", None)
        with pytest.raises(Problem) as unknown:
            service.move(session, found, "screened", None)
        service.move(session, found, "hired", None)
        assert found.status == ApplicationStatus.hired
    assert unknown.value.status == 422


def test_the_stage_log_is_never_edited(hiring: Hiring) -> None:
    application = _apply(hiring, _candidate(hiring, "d@example.com"))
    with db.unit_of_work(hiring.tenant.id) as session:
        found = service.get_application(session, application)
        service.move(session, found, "screened", None)
        service.refuse(session, found, RefusalReason.pay_mismatch, "预算不符", None)
    with pytest.raises(DBAPIError), db.unit_of_work(hiring.tenant.id) as session:
        session.execute(update(StageMove).values(to_stage="hired"))
    with pytest.raises(DBAPIError), db.unit_of_work(hiring.tenant.id) as session:
        session.execute(delete(StageMove))
    with pytest.raises(DBAPIError), db.unit_of_work(hiring.tenant.id) as session:
        session.execute(text("delete from rc_stage_moves"))
    with db.unit_of_work(hiring.tenant.id) as session:
        log = list(session.scalars(select(StageMove).order_by(StageMove.at, StageMove.id)))
    assert [(m.kind, m.from_stage, m.to_stage, m.reason) for m in log] == [
        (MoveKind.applied, None, "applied", None),
        (MoveKind.moved, "applied", "screened", None),
        (MoveKind.refused, "screened", "screened", RefusalReason.pay_mismatch),
    ]


def test_bulk_moves_all_or_none(hiring: Hiring) -> None:
    ids = [_apply(hiring, _candidate(hiring, f"bulk{n}@example.com")) for n in range(3)]
    with db.unit_of_work(hiring.tenant.id) as session:
        service.refuse(
            session, service.get_application(session, ids[2]), RefusalReason.other, "", None
        )
    with pytest.raises(Problem) as refused, db.unit_of_work(hiring.tenant.id) as session:
        service.bulk(session, Bulk(application_ids=ids, stage="screened"), None)
    assert refused.value.status == 409 and str(ids[2]) in refused.value.detail
    with db.unit_of_work(hiring.tenant.id) as session:
        assert {service.get_application(session, i).stage for i in ids} == {"applied"}
        done = service.bulk(
            session,
            Bulk(application_ids=ids[:2], reason=RefusalReason.position_filled, message="已招满"),
            None,
        )
    assert [a.status for a in done] == [ApplicationStatus.refused] * 2
